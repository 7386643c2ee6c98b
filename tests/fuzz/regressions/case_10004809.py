# Fuzz case 10004809 of the seed-10 run (all kinds). Triage: stock TorchScript
# semantics: extra_states[-1] on an empty list raises IndexError in eager, but
# its result feeds only values the model does not return, and dead-code
# elimination removes it, with the pass off too ("off vs eager").
UPSTREAM_BUG = "stock TorchScript: dead-code elimination removes an indexing that raises in eager"
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 10004809).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(10004809)
        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)

    def forward(self, x: torch.Tensor, o0: Optional[torch.Tensor] = None, o1: Optional[torch.Tensor] = None, o2: Optional[torch.Tensor] = None, extra_states: Optional[List[torch.Tensor]] = None) -> Optional[torch.Tensor]:
        y = x * 0.5
        extra_states = extra_states if extra_states is not None else [y * 0.5]
        if o0 is None:
            y = y * 0.5
        else:
            y = y + o0.mean()
        y = F.scaled_dot_product_attention(y, y, y, attn_mask=o0)
        y = y + extra_states[-1]
        if len(extra_states) > 0:
            y = y + torch.stack(extra_states).mean(0)
        if o1 is not None:
            y = y + o1
        if o2 is not None:
            y = y + o2
        return o2


CASE = {'seed': 10004809, 'kind': 'module', 'format': 2, 'kinds': ['opt_tensor', 'opt_bool', 'opt_int', 'opt_float', 'opt_str', 'opt_kv', 'opt_list', 'bool', 'int', 'float', 'mask'], 'args': [{'name': 'o0', 'kind': 'opt_tensor', 'role': 'mask', 'vary': 'pattern', 'default': None}, {'name': 'o1', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern', 'default': None}, {'name': 'o2', 'kind': 'opt_tensor', 'role': 'act', 'vary': 'pattern', 'default': None}, {'kind': 'opt_list', 'vary': 'pattern', 'sub': 'hidden', 'name': 'extra_states', 'resolve': True, 'default': None}], 'fuser': 'none', 'grad': True, 'call_style': 'positional', 'calls': [['T', None, None, None], ['T', None, None, None], ['T', None, 'T', 'L0'], ['T', None, 'T', 'L0'], ['T', None, 'T', 'L0'], ['T', None, None, None], ['T', None, None, None], ['T', None, None, None], ['T', None, 'T', 'L0'], ['T', None, 'T', 'L0'], ['T', None, 'T', 'L0'], ['T', None, None, None], ['T', None, None, None], ['T', None, None, None], ['T', None, None, None]]}

CASE["calls"] = CASE["calls"][:3]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
