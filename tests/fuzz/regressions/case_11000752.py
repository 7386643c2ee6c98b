# Fuzz case 11000752 of the seed-11 run (all kinds). Triage: a bug of stock
# TorchScript: a loop over range(v) in a called function, with v an int input
# that changes between calls, fails with "INTERNAL ASSERT FAILED ... ivalue.h
# expected int" on the second call, with the pass off too ("off vs eager").
# Cause: the interpreter emits the unrolled loop inline in the next loop's
# inputs (tests/fuzz/upstream/loop_body_value_lost_repro.py). With the pass on
# the plan has emission barriers and runs: "off_only", still a failure of the
# stock copy, so this stays an expected failure.
UPSTREAM_BUG = "stock TorchScript: INTERNAL ASSERT expected int in an inlined loop over an int input"
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 11000752).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def int_helper_1(y: torch.Tensor, v: int) -> torch.Tensor:
    for i in range(v):
        y = y * 0.75 + 0.125
    return y


def fn(x: torch.Tensor, w: torch.Tensor, num_layers: int) -> torch.Tensor:
    y = x * 0.5
    if num_layers == 0:
        return (y + 0.5)
    for _ in range(num_layers):
        y = int_helper_1(y, num_layers)
    for i in range(num_layers):
        y = y * 0.9 + 0.05 * i
    if num_layers > 2:
        y = y * 0.5
    elif num_layers == 0:
        y = y + 1.0
    y = y * float(num_layers + 1)
    return y


CASE = {'seed': 11000752, 'kind': 'function', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'kind': 'int', 'vary': 'call', 'sub': 'count', 'name': 'num_layers'}], 'fuser': 'none', 'grad': False, 'call_style': 'positional', 'calls': [[3], [4], [3], [0], [0], [3], [2], [0], [2], [2], [0], [2]]}

CASE["calls"] = CASE["calls"][:2]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
