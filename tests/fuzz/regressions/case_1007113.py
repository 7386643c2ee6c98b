# Reproducer written by tests/fuzz/fuzz_run.py: on vs eager: outputs aliasing inputs [None, -1, 1, -1] vs [None, -1, 1, 2]; off vs eager: outputs aliasing inputs [None, -1, 1, -1] vs [None, -1, 1, 2]
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: stock TorchScript behaviour, the same with the pass off ("off vs
# eager"): with grad on, a returned input tensor comes back as another Python
# object (the autodiff path returns an alias), where eager returns the
# caller's object itself. Values and in-place updates agree.
UPSTREAM_BUG = "stock TorchScript autodiff path returns an input as a different tensor object than eager"
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1007113).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def helper_2(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    if o is not None:
        y = y - o
    return y * 0.75


class Sub1(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 0.5

    def forward(self, y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
        if o is None:
            return y * self.scale
        return y * self.scale + o


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1007113)
        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)
        self.sub_1 = Sub1()

    def forward(self, x: torch.Tensor, o0: Optional[torch.Tensor] = None, o1: Optional[torch.Tensor] = None, o2: Optional[torch.Tensor] = None, o3: Optional[torch.Tensor] = None, o4: Optional[torch.Tensor] = None, o5: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        y = x * 0.5
        y = self.sub_1(y, o5)
        y = F.layer_norm(y, [4], None, None)
        for _ in range(2):
            if o2 is None:
                y = y * 0.5
            else:
                y = y + o2
        for _ in range(2):
            if o1 is None:
                o1 = torch.zeros(3, 3)
            y = y + o1.mean()
        y = F.layer_norm(y, [4], o5, None)
        y = helper_2(y, o3)
        return (y, o0, o1)


CASE = {'seed': 1007113, 'kind': 'module', 'roles': ['mask', 'mask', 'act', 'act', 'act', 'vec'], 'fuser': 'none', 'grad': True, 'calls': [[0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0], [0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0], [0, 0, 1, 1, 1, 1]]}

CASE["calls"] = CASE["calls"][:2]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
