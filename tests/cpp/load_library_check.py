"""Zero-code mode from Python: torch.ops.load_library(libtorch_optspec.so)
with TORCH_OPTSPEC_ENABLE=1 set specializes a scripted function, and without
the variable it does not. Plain torch only: the torch_optspec Python package
is not imported, so the loaded library is the only copy of the pass.

    python load_library_check.py LIB specialized|unchanged
"""
import sys
from typing import Optional

import torch


@torch.jit.script
def masked(x: torch.Tensor, mask: Optional[torch.Tensor]):
    y = torch.tanh(x)
    if mask is not None:
        y = y * mask
    return y


def main(lib: str, expect: str) -> int:
    torch.ops.load_library(lib)
    x, mask = torch.randn(2, 3), torch.rand(2, 3)
    with torch.no_grad():
        for _ in range(3):
            masked(x, mask)
    graph = torch.jit.last_executed_optimized_graph()
    print(graph)
    kinds = {n.kind() for n in graph.nodes()}
    specialized = "torch_optspec::check_inputs" in kinds
    print("torch_optspec specialization:", "yes" if specialized else "no")
    return 0 if specialized == (expect == "specialized") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
