# Fuzz case 3002423 of the seed-3 run (all kinds; generator of 4bcac40), kept as
# a regression: a value site with a per-call counter (`position`), two forked
# helpers and o0 switching present -> None -> present. It passes (results equal
# pass off and eager on every call).
#
# Observation for the pass (not a mismatch): the pattern with o0 present is
# specialized three times, in the top plan (call 1) and in fallback plans 2
# and 3 (calls 8 and 12; plan 1 is o0=None, call 5), after one switch to
# o0=None (calls 4-6); bounded (nothing new after call 13), but 3 compilations
# where one would do (pass of 8db04db). See each call's stats() changes:
#     python tests/fuzz/regressions/case_3002423.py --trace
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 3002423).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def helper_3(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    if o is None:
        return y * 2.0
    return y + o


def helper_4(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    if o is not None:
        y = y - o
    return y * 0.75


def helper_7(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    if o is not None:
        y = y - o
    return y * 0.75


def int_helper_8(y: torch.Tensor, v: Optional[int]) -> torch.Tensor:
    if v is None:
        return y - 0.5
    return y + 0.001 * v


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3002423)
        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)

    def forward(self, x: torch.Tensor, o0: Optional[torch.Tensor] = None, layer_past: Optional[Tuple[torch.Tensor, torch.Tensor]] = None, n: int = 2, position: Optional[int] = None) -> Tuple[torch.Tensor, Optional[Tuple[torch.Tensor, torch.Tensor]], Optional[Tuple[torch.Tensor, torch.Tensor]], int]:
        y = x * 0.5
        present_kv: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        fut1 = torch.jit.fork(helper_3, y, o0)
        fut2 = torch.jit.fork(helper_4, y * 0.5, o0)
        y = torch.jit.wait(fut1) + torch.jit.wait(fut2)
        if n > 2:
            y = y * 0.5
        elif n == 0:
            y = y + 1.0
        if o0 is not None:
            o0.add_(0.25)
            y = y + o0
        y = helper_7(y, o0)
        y = int_helper_8(y, position)
        return (y, present_kv, layer_past, n)


CASE = {'seed': 3002423, 'kind': 'module', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'name': 'o0', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern', 'default': None}, {'kind': 'opt_kv', 'vary': 'pattern', 'sub': 'kv', 'name': 'layer_past', 'resolve': False, 'default': None}, {'kind': 'int', 'vary': 'pattern', 'sub': 'count', 'name': 'n', 'default': 2}, {'kind': 'opt_int', 'vary': 'call', 'start': 3, 'sub': 'step', 'name': 'position', 'resolve': False, 'default': None}], 'fuser': 'none', 'grad': False, 'call_style': 'positional', 'calls': [['T', 'KV2', 0, 3], ['T', 'KV2', 0, 4], ['T', 'KV2', 0, 5], ['T', 'KV2', 0, 6], [None, 'KV2', 0, 7], [None, 'KV2', 0, 8], [None, 'KV2', 0, 9], ['T', 'KV2', 0, 10], ['T', 'KV2', 0, 11], ['T', 'KV2', 0, 12], ['T', 'KV2', 0, 13], ['T', 'KV2', 0, 14], ['T', 'KV2', 0, 15], ['T', 'KV2', 0, 16], ['T', 'KV2', 0, 17], ['T', 'KV2', 0, 18], ['T', 'KV2', 0, 19]]}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
