# Fuzz case 2000738 of the oneDNN seed-2 run, kept as a regression: a frozen
# module under oneDNN Graph that calls torch.jit.fork. The plan made in an
# enabled() scope calls functions compiled later on the inter-op thread that
# runs the fork, where the scope is not set: there the pass was off, the
# fuser-safety stage did not run, and oneDNN failed ("partition compile
# failed", a 0-dim operand). Fixed: such functions are compiled under the
# state of the plan that calls them (register.cpp, pass_state markers).
# Run: python <this file>  (needs torch and torch_optspec); exits 1 while it fails.
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 2000738).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def helper_1(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    return y * o.mean() if o is not None else y - 0.5


def helper_3(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    return helper_1(y * 0.5, o) + 1.0


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(2000738)
        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)
        self.b = torch.nn.Parameter(torch.randn(4, generator=g) * 0.1)
        self.c = torch.nn.Parameter(torch.randn(4, generator=g) * 0.1)
        self.s = torch.nn.Parameter(torch.tensor(1.5))

    def forward(self, x: torch.Tensor, o0: Optional[torch.Tensor] = None, o1: Optional[torch.Tensor] = None, o2: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        y = x * 0.5
        y = F.scaled_dot_product_attention(y, y, y, attn_mask=o2)
        if o0 is not None and o1 is not None:
            y = y + o0 * o1
        elif o0 is None:
            y = y - 0.25
        y = helper_1(y, o2)
        y = F.linear(y, self.w, self.b)
        if o1 is not None:
            y = y - o1
        y = F.linear(y, self.w, o0)
        fut2 = torch.jit.fork(helper_3, y, o2)
        y = torch.jit.wait(fut2)
        return o1


CASE = {'seed': 2000738, 'kind': 'module', 'roles': ['vec', 'vec', 'mask'], 'fuser': 'onednn', 'grad': False, 'calls': [[1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0]], 'mode': 'onednn'}

CASE["calls"] = CASE["calls"][:5]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
