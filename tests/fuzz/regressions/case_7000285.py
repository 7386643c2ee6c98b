# Fuzz case 7000285 of the seed-7 run (all kinds), kept as a regression: NNC's
# input-less fusion group in a plan behind a value site (its guard nested) was
# not un-fused, and NNC on CPU miscomputes such groups (a 1.9e16 error). Fixed
# by tracking the specialized graph from the pre-pass to the post-pass
# (register.cpp).
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 7000285).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], n: int) -> torch.Tensor:
    y = x * 0.5
    for i in range(n):
        y = y * 0.9 + 0.05 * i
    if n > 2:
        y = y * 0.5
    elif n == 0:
        y = y + 1.0
    for i in range(n):
        y = y * 0.9 + 0.05 * i
    y = F.linear(y, w, None)
    acc1: Optional[torch.Tensor] = o0
    for _ in range(3):
        if acc1 is None:
            acc1 = torch.zeros(3, 3)
        else:
            acc1 = acc1 * 0.5 + 1.0
    if acc1 is not None:
        y = y + acc1.mean()
    return y


CASE = {'seed': 7000285, 'kind': 'function', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'name': 'o0', 'kind': 'opt_tensor', 'role': 'mask', 'vary': 'pattern'}, {'kind': 'int', 'vary': 'call', 'sub': 'count', 'name': 'n'}], 'fuser': 'nnc', 'grad': False, 'call_style': 'positional', 'calls': [['T', 1], ['T', 2], ['T', 3], ['T', 4], [None, 1], [None, 1], [None, 0], [None, 2], ['T', 3], ['T', 2], ['T', 2], ['T', 2], ['T', 3], ['T', 0], ['T', 0], ['T', 0]]}

CASE["calls"] = CASE["calls"][:6]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
