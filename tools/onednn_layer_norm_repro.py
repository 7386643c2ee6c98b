"""Stock torch, no torch_optspec: the oneDNN Graph fuser fails on a frozen
module calling layer_norm without weight and bias (the optimized call raises
a C++ error such as vector::_M_range_check). torch_optspec's fuser-safety
stage fills the weight and bias (csrc/passes/fuser_safety.cpp); more of
oneDNN Graph's failures: tools/onednn_bridge_repro.py.

    python tools/onednn_layer_norm_repro.py       # exits 1 while the bug is there
"""
import sys

import torch
import torch.nn.functional as F


class M(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x * 0.5, [4], None, None)


torch.jit.enable_onednn_fusion(True)
m = torch.jit.freeze(torch.jit.script(M().eval()))
x = torch.randn(2, 3, 4)
try:
    with torch.no_grad():
        for _ in range(3):
            torch.testing.assert_close(m(x), F.layer_norm(x * 0.5, [4]))
except Exception as e:  # noqa: BLE001
    print(f"oneDNN Graph failure (torch {torch.__version__}): {type(e).__name__}: "
          f"{str(e).strip().splitlines()[-1]}")
    sys.exit(1)
print("no failure")
