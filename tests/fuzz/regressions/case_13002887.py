# Fuzz case 13002887 of the seed-13 run (all kinds), NNC, on f6152fc. Bug of
# the pass (fixed): the value site fixes n (None, resolved to 2) and the
# function compiled for it, profiled unfused on its first call, holds the
# chains of loops that loop unrolling made of `for _ in range(n)`; stock
# TorchScript's interpreter emits such a loop inline in the next loop's
# inputs and moves its trip count out of its register inside the body
# ("INTERNAL ASSERT FAILED ... ivalue.h:663 expected int" on the 5th call).
# With the pass off the calls ran (stock's plan has NNC groups between the
# loops). Fixed by the emission barriers (csrc/passes/emission_barriers.cpp).
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



if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
