"""Saves the TorchScript models the C++ tests load (CTest runs this first).

    python tests/cpp/save_models.py OUT_DIR

masked.pt: forward(x, mask: Optional[Tensor] = None), element-wise, with the
mask read behind `if mask is not None`. The C++ tests compare its outputs with
the pass on against a run with the pass off; this script needs plain torch
only.
"""
import os
import sys
from typing import Optional

import torch


class Masked(torch.nn.Module):
    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None):
        y = torch.tanh(x * 2.0 + 1.0)
        if mask is not None:
            y = y * mask
        return torch.relu(y) - 0.5


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "masked.pt")
    module = torch.jit.script(Masked())
    # Check the scripted module before saving it, so a broken model shows up
    # here rather than as a mismatch in C++.
    x, mask = torch.randn(2, 3), torch.rand(2, 3)
    with torch.no_grad():
        expected = torch.relu(torch.tanh(x * 2.0 + 1.0) * mask) - 0.5
        assert torch.allclose(module(x, mask), expected)
    module.save(path)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1])
