# Reproducer written by tests/fuzz/fuzz_run.py: on vs off: output leaf 1: Tensor-likes are not equal! (max abs diff 2.20942); off vs eager: output leaf 1: Tensor-likes are not equal! (max abs diff 2.20942)
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: a bug of stock TorchScript: the first (profiling) call with an input
# that requires grad returns a wrong value with the pass off too ("off vs
# eager"); tools/jit_profiling_grad_repro.py shows it without torch_optspec.
UPSTREAM_BUG = "stock TorchScript profiling run with requires_grad input returns a wrong value: tools/jit_profiling_grad_repro.py"
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1003979).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def pick_4(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if a is not None:
        return a
    return b


class Sub1(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 0.5

    def forward(self, y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
        return y + o if o is not None else y


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1003979)
        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)
        self.sub_1 = Sub1()

    def forward(self, x: torch.Tensor, o0: Optional[torch.Tensor] = None, o1: Optional[torch.Tensor] = None, o2: Optional[torch.Tensor] = None, o3: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        y = x * 0.5
        y = F.linear(y, self.w, o3)
        for _ in range(2):
            y = self.sub_1(y, o0)
        for _ in range(3):
            acc2: Optional[torch.Tensor] = None
            for _ in range(3):
                if o0 is not None:
                    acc2 = o0 if acc2 is None else acc2 + o0
            if acc2 is not None:
                y = y + acc2
        q3 = pick_4(o0, o0)
        if q3 is not None:
            y = y + q3
        return (y, o3, o1)


CASE = {'seed': 1003979, 'kind': 'module', 'roles': ['act', 'act', 'vec', 'vec'], 'fuser': 'none', 'grad': True, 'calls': [[0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1], [1, 0, 1, 1], [1, 0, 1, 1], [1, 0, 1, 1]]}

CASE["calls"] = CASE["calls"][:1]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
