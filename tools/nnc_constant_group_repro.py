"""Stock torch, no torch_optspec: the interpreted NNC CPU fuser computes a
wrong result for a fusion group that has no inputs (its operands were folded
into a tensor constant). Expected [1., 1.] on every call; the optimized calls
print [0., 0.].

torch_optspec exposes it: specializing an Optional input to None turns
`acc: Optional[Tensor] = o` into `acc = None`, after which the loop below folds
to constants (tests/fuzz/regressions/case_1001178.py).

    python tools/nnc_constant_group_repro.py      # exits 1 while the bug is there
"""
import sys
from typing import Optional

import torch


@torch.jit.script
def fn(x: torch.Tensor) -> torch.Tensor:
    y = x * 0.5
    acc: Optional[torch.Tensor] = None
    for _ in range(2):
        if acc is None:
            acc = torch.zeros(3, 3)
        else:
            acc = acc * 0.5 + 1.0
    if acc is not None:
        y = y + acc.mean()
    return y


torch._C._jit_override_can_fuse_on_cpu(True)
torch._C._jit_set_te_must_use_llvm_cpu(False)
x = torch.zeros(2)
wrong = 0
with torch.no_grad():
    for i in range(4):
        out = fn(x)
        print(i, out)
        wrong += not torch.equal(out, torch.ones(2))
print(f"{wrong} wrong results out of 4 calls (torch {torch.__version__})")
sys.exit(1 if wrong else 0)
