# Reproducer written by tests/fuzz/fuzz_run.py: on vs off: output leaf 1: Tensor-likes are not close! (max abs diff inf); on vs eager: output leaf 1: Tensor-likes are not close! (max abs diff inf)
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: the same stock NNC bug as case_1001178: with an Optional specialized
# to None the accumulator loop folds into a TensorExprGroup without inputs,
# which the interpreted NNC CPU fuser miscomputes (here inf/NaN, as if reading
# memory it never wrote; tools/nnc_constant_group_repro.py). The case passes
# with fuser "none".
# Was a wrong result (pass on vs off) while NNC fused ops folded to constants into an
# input-less group, which torch 2.13 miscomputes (tools/nnc_constant_group_repro.py);
# fixed by un-fusing such groups in specialized graphs (csrc/passes/postfusion.cpp).
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1008895).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], o1: Optional[torch.Tensor], o2: Optional[torch.Tensor], o3: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    y = x * 0.5
    y = F.linear(y, w, None)
    if o3 is None:
        o3 = torch.full([2, 3, 4], 0.5)
    y = y + o3
    if o3 is None:
        y = y * 0.5
    else:
        y = y + o3
    if o2 is not None:
        y = y + o2.mean()
    y = F.layer_norm(y, [4], None, None)
    acc1: Optional[torch.Tensor] = o2
    for _ in range(3):
        if acc1 is None:
            acc1 = torch.zeros(3, 3)
        else:
            acc1 = acc1 * 0.5 + 1.0
    if acc1 is not None:
        y = y + acc1.mean()
    y = y + o2.mean() if o2 is not None else y * 1.5
    return (y, o0, o0)


CASE = {'seed': 1008895, 'kind': 'function', 'roles': ['act', 'act', 'mask', 'act'], 'fuser': 'nnc', 'grad': False, 'calls': [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0]]}

CASE["calls"] = CASE["calls"][:2]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
