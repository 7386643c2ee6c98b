"""Stock torch, no torch_optspec: the first call of a scripted module (the
profiling run) with an input that requires grad returns a value different
from eager; later calls agree. Found by the fuzzer (case 1003979,
tests/fuzz/regressions/case_1003979.py), where it shows as "off vs eager".

    python tools/jit_profiling_grad_repro.py       # exits 1 while the bug is there
"""
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def pick_4(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if a is not None:
        return a
    return b


class Sub1(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 0.5

    def forward(self, y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
        return y + o if o is not None else y


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1003979)
        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)
        self.sub_1 = Sub1()

    def forward(self, x: torch.Tensor, o0: Optional[torch.Tensor] = None, o1: Optional[torch.Tensor] = None, o2: Optional[torch.Tensor] = None, o3: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        y = x * 0.5
        y = F.linear(y, self.w, o3)
        for _ in range(2):
            y = self.sub_1(y, o0)
        for _ in range(3):
            acc2: Optional[torch.Tensor] = None
            for _ in range(3):
                if o0 is not None:
                    acc2 = o0 if acc2 is None else acc2 + o0
            if acc2 is not None:
                y = y + acc2
        q3 = pick_4(o0, o0)
        if q3 is not None:
            y = y + q3
        return (y, o3, o1)



if __name__ == "__main__":
    import sys

    torch.manual_seed(0)
    eager, scripted = Model(), torch.jit.script(Model())
    worst = []
    for k in range(3):
        x = torch.randn(2, 3, 4, requires_grad=True)
        o0, o2 = torch.randn(2, 3, 4), torch.randn(4)
        diff = (eager(x, o0, None, o2, None)[0] - scripted(x, o0, None, o2, None)[0]).abs().max().item()
        print(f"call {k}: max abs difference from eager {diff:g}")
        worst.append(diff)
    print(f"torch {torch.__version__}")
    sys.exit(1 if max(worst) > 0 else 0)
