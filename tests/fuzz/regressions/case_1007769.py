# Reproducer written by tests/fuzz/fuzz_run.py: on vs off: output leaf 0: Tensor-likes are not close! (max abs diff nan); on vs eager: output leaf 0: Tensor-likes are not close! (max abs diff nan)
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: the same stock NNC bug as case_1001178: with o0 specialized to None
# the accumulator loop folds into a TensorExprGroup without inputs, which the
# interpreted NNC CPU fuser miscomputes (tools/nnc_constant_group_repro.py).
# The case passes with fuser "none".
# Was a wrong result (pass on vs off) while NNC fused ops folded to constants into an
# input-less group, which torch 2.13 miscomputes (tools/nnc_constant_group_repro.py);
# fixed by un-fusing such groups in specialized graphs (csrc/passes/postfusion.cpp).
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1007769).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], o1: Optional[torch.Tensor], o2: Optional[torch.Tensor]) -> torch.Tensor:
    y = x * 0.5
    if o0 is None:
        y = y * 0.5
    else:
        y = y + o0.mean()
    if o1 is not None:
        o1.add_(0.25)
        y = y + o1
    for _ in range(2):
        y = y + o2.mean() if o2 is not None else y * 1.5
    for _ in range(2):
        acc1: Optional[torch.Tensor] = o0
        for _ in range(2):
            if acc1 is None:
                acc1 = torch.zeros(3, 3)
            else:
                acc1 = acc1 * 0.5 + 1.0
        if acc1 is not None:
            y = y + acc1.mean()
    y = F.scaled_dot_product_attention(y, y, y, attn_mask=o2)
    y = F.linear(y, w, o1)
    return y


CASE = {'seed': 1007769, 'kind': 'function', 'roles': ['mask', 'vec', 'mask'], 'fuser': 'nnc', 'grad': False, 'calls': [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0]]}

CASE["calls"] = CASE["calls"][:2]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
