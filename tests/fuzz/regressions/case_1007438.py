# Reproducer written by tests/fuzz/fuzz_run.py: on vs off: output leaf 1: Tensor-likes are not close! (max abs diff 1); on vs eager: output leaf 1: Tensor-likes are not close! (max abs diff 1)
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: the same stock NNC bug as case_1001178: with o0 specialized to None
# the accumulator loop folds into a TensorExprGroup without inputs, which the
# interpreted NNC CPU fuser miscomputes (tools/nnc_constant_group_repro.py).
# The case passes with fuser "none".
# Was a wrong result (pass on vs off) while NNC fused ops folded to constants into an
# input-less group, which torch 2.13 miscomputes (tools/nnc_constant_group_repro.py);
# fixed by un-fusing such groups in specialized graphs (csrc/passes/postfusion.cpp).
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1007438).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def helper_1(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    if o is not None:
        y = y - o
    return y * 0.75


def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], o1: Optional[torch.Tensor], o2: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    y = x * 0.5
    y = F.linear(y, w, o2)
    if o1 is not None and o2 is not None:
        y = y + o1 * o2
    elif o1 is None:
        y = y - 0.25
    if o1 is not None:
        o1.mul_(1.5)
        y = y + o1
    y = helper_1(y, o1)
    acc2: Optional[torch.Tensor] = o0
    for _ in range(2):
        if acc2 is None:
            acc2 = torch.zeros(3, 3)
        else:
            acc2 = acc2 * 0.5 + 1.0
    if acc2 is not None:
        y = y + acc2.mean()
    return (y, o1)


CASE = {'seed': 1007438, 'kind': 'function', 'roles': ['mask', 'act', 'vec'], 'fuser': 'nnc', 'grad': False, 'calls': [[0, 0, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1]]}

CASE["calls"] = CASE["calls"][:3]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
