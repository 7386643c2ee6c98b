# Reproducer written by tests/fuzz/fuzz_run.py: on vs off: output leaf 1: Tensor-likes are not close! (max abs diff 1); on vs eager: output leaf 1: Tensor-likes are not close! (max abs diff 1)
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: a bug of stock torch's interpreted NNC CPU fuser, exposed by the
# specialization. With o2 specialized to None, `acc3: Optional[Tensor] = o2`
# becomes None and the loop folds into a fusion group without inputs, which
# NNC computes wrongly (acc3 stays zeros). tools/nnc_constant_group_repro.py
# shows the same wrong result without torch_optspec.
# Was a wrong result (pass on vs off) while NNC fused ops folded to constants into an
# input-less group, which torch 2.13 miscomputes (tools/nnc_constant_group_repro.py);
# fixed by un-fusing such groups in specialized graphs (csrc/passes/postfusion.cpp).
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1001178).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def pick_2(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if a is not None:
        return a
    return b


def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], o1: Optional[torch.Tensor], o2: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    y = x * 0.5
    y = F.layer_norm(y, [4], o1, o1)
    if o2 is not None:
        y = y + o2.mean()
    q1 = pick_2(o1, o1)
    if q1 is not None:
        y = y + q1
    acc3: Optional[torch.Tensor] = o2
    for _ in range(2):
        if acc3 is None:
            acc3 = torch.zeros(3, 3)
        else:
            acc3 = acc3 * 0.5 + 1.0
    if acc3 is not None:
        y = y + acc3.mean()
    return (y, o1)


CASE = {'seed': 1001178, 'kind': 'function', 'roles': ['act', 'vec', 'mask'], 'fuser': 'nnc', 'grad': False, 'calls': [[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1]]}

CASE["calls"] = CASE["calls"][:2]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
