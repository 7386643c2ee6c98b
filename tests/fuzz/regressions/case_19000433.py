# Fuzz case 19000433 (seed 19): a value site learned `extra_states` to be None;
# the learned plan's fallback then builds `[y * 0.5]` as a literal list, loop
# unrolling makes the two `h.add_(0.25)` loops straight-line code, and stock
# dead-code elimination dropped both updates of the list's element (an element
# is not an alias of its list): y was off by 0.5 x 0.5 at call 8. Fixed by
# csrc/passes/element_writes.cpp (stage 0).
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 19000433).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor], o1: Optional[torch.Tensor], o2: Optional[torch.Tensor], seq_len: int, extra_states: Optional[List[torch.Tensor]]) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    y = x * 0.5
    if extra_states is None:
        extra_states = [y * 0.5]
    for h1 in extra_states:
        h1.add_(0.25)
    for h2 in extra_states:
        h2.add_(0.25)
    if len(extra_states) > 0:
        y = y + torch.stack(extra_states).mean(0)
    y = y + o1 if o1 is not None else y * 1.5
    if o0 is not None:
        y = y + o0
    if o2 is not None:
        y = y + o2
    y = y + y.narrow(1, 0, seq_len).sum(1, keepdim=True) * 0.25
    return (y, o0, o2)


CASE = {'seed': 19000433, 'kind': 'function', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'name': 'o0', 'kind': 'opt_tensor', 'role': 'vec', 'vary': 'pattern'}, {'name': 'o1', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern'}, {'name': 'o2', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern'}, {'kind': 'int', 'vary': 'call', 'sub': 'seqlen', 'name': 'seq_len'}, {'kind': 'opt_list', 'vary': 'pattern', 'sub': 'hidden', 'name': 'extra_states', 'resolve': True}], 'fuser': 'none', 'grad': False, 'call_style': 'positional', 'calls': [[None, 'T', 'T', 2, None], [None, 'T', 'T', 2, None], [None, 'T', 'T', 1, None], ['T', None, 'T', 1, None], ['T', None, 'T', 3, None], ['T', None, 'T', 2, None], [None, None, 'T', 1, 'L1'], [None, None, 'T', 3, None], [None, None, 'T', 3, None], [None, None, 'T', 2, None], [None, 'T', 'T', 2, None], [None, 'T', 'T', 3, None], [None, 'T', 'T', 1, None], [None, 'T', 'T', 2, None], [None, 'T', 'T', 1, None], [None, 'T', 'T', 2, None], [None, 'T', 'T', 3, None], [None, 'T', 'T', 1, None], [None, 'T', 'T', 2, None]]}

CASE["calls"] = CASE["calls"][:9]
