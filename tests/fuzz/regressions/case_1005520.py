# Reproducer written by tests/fuzz/fuzz_run.py: on vs eager: outputs aliasing inputs [None, -1, -1, -1] vs [None, -1, 2, 2]; off vs eager: outputs aliasing inputs [None, -1, -1, -1] vs [None, -1, 2, 2]
# Run: python <this file> from the checkout (uses tests/fuzz/fuzz_oracle.py); exits 1 while it fails.
#
# Triage: stock TorchScript behaviour, the same with the pass off ("off vs
# eager"): with grad on, a returned input tensor comes back as another Python
# object (the autodiff path returns an alias), where eager returns the
# caller's object itself. Values and in-place updates agree.
UPSTREAM_BUG = "stock TorchScript autodiff path returns an input as a different tensor object than eager"
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed 1005520).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple

def helper_1(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    if o is None:
        return y * 2.0
    return y + o.mean()


def helper_2(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    return helper_1(y * 0.5, o) + 1.0


def fn(x: torch.Tensor, w: torch.Tensor, o0: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    y = x * 0.5
    y = F.scaled_dot_product_attention(y, y, y, attn_mask=o0)
    y = helper_1(y, o0)
    y = helper_2(y, o0)
    if o0 is not None:
        y = y - o0.mean()
    for _ in range(3):
        if o0 is None:
            o0 = torch.zeros(3, 3)
        y = y + o0.mean()
    y = F.layer_norm(y, [4], None, None)
    return (y, o0, o0)


CASE = {'seed': 1005520, 'kind': 'function', 'roles': ['mask'], 'fuser': 'none', 'grad': True, 'calls': [[1], [1], [1], [1], [1], [1], [1], [1], [0], [0]]}

CASE["calls"] = CASE["calls"][:9]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz_oracle

    sys.exit(fuzz_oracle.report_main(__file__))
