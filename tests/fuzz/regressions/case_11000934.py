# Fuzz case 11000934 of the seed-11 run (all kinds), kept as a regression: the
# same bug as case_10000424 (an in-place update lost with a prim::FallbackGraph
# returning only None), here with Optional[str]/[int]/[bool] inputs and value
# sites.
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 11000934).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], mode: Optional[str], num_layers: Optional[int], seq_len: int, need_weights: Optional[bool]) -> Optional[torch.Tensor]:
    y = x * 0.5
    attn_weights: Optional[torch.Tensor] = None
    if mode is None:
        y = y + 0.5
    elif mode == "sum":
        y = y * 2.0
    if mode is not None and mode == "max":
        y = y * 0.5
    if o0 is not None:
        o0.sub_(1.0)
        y = y + o0
    if num_layers is not None:
        y = y * float(num_layers + 1)
    if o0 is not None and o0 is not None:
        y = y + o0 * o0
    elif o0 is None:
        y = y - 0.25
    num_layers = num_layers if num_layers is not None else 2
    k1 = 0
    while k1 < 3:
        if o0 is not None:
            o0.mul_(1.5)
            y = y + o0
        k1 += 1
    y = y + y[:, :seq_len].mean(1, keepdim=True)
    y = y * 2.0 if need_weights is None else y * (1.5 if need_weights else 0.5)
    return attn_weights


CASE = {'seed': 11000934, 'kind': 'function', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'name': 'o0', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern'}, {'kind': 'opt_str', 'vary': 'pattern', 'sub': 'mode', 'name': 'mode', 'resolve': False}, {'kind': 'opt_int', 'vary': 'pattern', 'sub': 'count', 'name': 'num_layers', 'resolve': True}, {'kind': 'int', 'vary': 'pattern', 'sub': 'seqlen', 'name': 'seq_len'}, {'kind': 'opt_bool', 'vary': 'pattern', 'sub': 'weights', 'name': 'need_weights', 'resolve': False}], 'fuser': 'none', 'grad': False, 'call_style': 'positional', 'calls': [[None, None, 2, 3, True], [None, None, 2, 3, True], ['T', None, 2, 2, True], ['T', None, 2, 2, True], [None, None, 2, 3, True], ['T', None, 2, 2, True], ['T', None, 2, 2, True], ['T', None, 2, 2, True], [None, None, 2, 3, True], ['T', 'max', 2, 1, True], [None, None, 2, 3, True]]}

CASE["calls"] = CASE["calls"][:3]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
