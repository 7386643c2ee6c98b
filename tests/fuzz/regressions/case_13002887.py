# Fuzz case 13002887 of the seed-13 run (all kinds), NNC, on f6152fc (and
# on 2ab226c, before that commit's refactor: the same). OPEN: with the pass,
# the value site fixes n (None, resolved to 2) and the plan compiled for it
# fails on the 5th call with stock TorchScript's "INTERNAL ASSERT FAILED ...
# ivalue.h:663 expected int" inside the inlined loop `for i in range(v)` of
# int_helper_2 (the stock bug of case_11000752, which stock reaches without
# the pass there); with the pass off these calls run. A model that runs
# without the pass fails with it: to be fixed (find which plan shape of the
# pass the assert needs and avoid it, e.g. no value substitution into loop
# trip counts). Kept as a strict expected failure so the suite records it.
UPSTREAM_BUG = "OPEN (issue 9): the value-specialized plan meets stock TorchScript INTERNAL ASSERT expected int in an inlined loop (as case_11000752); with the pass off it runs"
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 13002887).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def int_helper_2(y: torch.Tensor, v: Optional[int]) -> torch.Tensor:
    if v is None:
        return y - 0.5
    for i in range(v):
        y = y * 0.75 + 0.125
    return y


def int_helper_3(y: torch.Tensor, v: Optional[int]) -> torch.Tensor:
    if v is None:
        return y - 0.5
    for i in range(v):
        y = y * 0.75 + 0.125
    return y


def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], n: Optional[int]) -> Tuple[torch.Tensor, Optional[int], Optional[torch.Tensor]]:
    y = x * 0.5
    n = n if n is not None else 2
    acc1: Optional[torch.Tensor] = None
    for _ in range(2):
        if o0 is not None:
            acc1 = o0 if acc1 is None else acc1 + o0
    if acc1 is not None:
        y = y + acc1
    y = F.scaled_dot_product_attention(y, y, y, attn_mask=None)
    for _ in range(n):
        y = int_helper_2(y, n)
    for _ in range(n):
        y = y * float(n + 1)
    y = int_helper_3(y, n)
    return (y, n, o0)


CASE = {'seed': 13002887, 'kind': 'function', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'name': 'o0', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern'}, {'kind': 'opt_int', 'vary': 'call', 'sub': 'count', 'name': 'n', 'resolve': True}], 'fuser': 'nnc', 'grad': False, 'call_style': 'positional', 'calls': [['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None], ['T', None]]}

CASE["calls"] = CASE["calls"][:5]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
