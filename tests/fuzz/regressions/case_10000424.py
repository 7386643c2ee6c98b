# Fuzz case 10000424 of the seed-10 run (all kinds), kept as a regression: a
# function returning None (its result type NoneType) that updates a tuple
# element in place. The guard's no-grad slow path was a prim::FallbackGraph
# whose only output, NoneType, the JIT replaces by the constant None; dead-code
# elimination then dropped the node and the in-place update with it (the
# subgraph's writes are invisible to it). Fixed: such a body stays inline
# (canBecomeFallbackGraph, version.cpp; also outline and value sites).
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 10000424).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def fn(x: torch.Tensor, w: torch.Tensor, attention_mask: Optional[torch.Tensor], hidden_states: Optional[List[torch.Tensor]], scale: float, past_key_value: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    y = x * 0.5
    if attention_mask is not None:
        if attention_mask.dim() == 3:
            attention_mask = attention_mask[:, None, :, :]
        elif attention_mask.dim() == 2:
            attention_mask = attention_mask[:, None, None, :]
        elif attention_mask.dim() != 4:
            raise ValueError("Wrong shape for attention_mask")
        attention_mask = attention_mask.to(dtype=y.dtype)
        attention_mask = (1.0 - attention_mask) * -10000.0
    past_key_value = past_key_value if past_key_value is not None else (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4))
    present_kv: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
    if scale > 1.0:
        y = y / scale
    y = torch.clamp(y, -scale, scale)
    if attention_mask is not None:
        q3 = y.unsqueeze(1)
        scores1 = q3 @ q3.transpose(-1, -2) * 0.5 + attention_mask
        probs2 = torch.softmax(scores1, -1)
        y = (probs2 @ q3).squeeze(1)
    else:
        q6 = y.unsqueeze(1)
        scores4 = q6 @ q6.transpose(-1, -2) * 0.5
        probs5 = torch.softmax(scores4, -1)
        y = (probs5 @ q6).squeeze(1)
    if hidden_states is not None and len(hidden_states) > 1:
        y = y - hidden_states[1]
    past_key_value[0].mul_(0.5)
    y = y + past_key_value[0].mean()
    return present_kv


CASE = {'seed': 10000424, 'kind': 'function', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'kind': 'mask', 'vary': 'pattern', 'optional': True, 'dtypes': ['i64', 'f32', 'bool'], 'ranks': [2, 4], 'neg': '-1e9', 'sub': 'pad', 'name': 'attention_mask'}, {'kind': 'opt_list', 'vary': 'pattern', 'sub': 'hidden', 'name': 'hidden_states', 'resolve': False}, {'kind': 'float', 'vary': 'call', 'sub': 'scale', 'name': 'scale'}, {'kind': 'opt_kv', 'vary': 'pattern', 'sub': 'kv', 'name': 'past_key_value', 'resolve': True}], 'fuser': 'none', 'grad': False, 'call_style': 'positional', 'calls': [[None, 'L1', 1.0, 'KV2'], [None, 'L1', 2.0, 'KV2'], ['f32:4', 'L2', 1.0, 'KV1'], ['f32:4', 'L2', 0.25, 'KV1'], ['f32:4', 'L2', 1.5, 'KV1'], [None, 'L1', 0.25, 'KV2'], [None, 'L1', 1.0, 'KV2'], [None, 'L1', 0.5, 'KV1'], [None, 'L1', 1.5, 'KV1'], ['f32:4', 'L2', 1.5, 'KV1'], [None, 'L1', 0.25, 'KV2'], [None, 'L1', 2.0, 'KV2'], [None, 'L1', 2.0, 'KV2'], [None, 'L1', 0.5, 'KV2'], [None, 'L1', 1.5, 'KV2'], [None, 'L1', 1.5, 'KV2'], [None, 'L1', 0.5, 'KV2'], [None, 'L1', 2.0, 'KV2'], [None, 'L1', 1.0, 'KV2'], [None, 'L1', 1.0, 'KV2']]}

CASE["calls"] = CASE["calls"][:3]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
