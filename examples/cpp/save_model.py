"""Saves the TorchScript model used by the C++ example.

    python examples/cpp/save_model.py masked_mlp.pt

forward(x, mask=None): a small MLP block whose hidden activations are
multiplied by `mask` when one is given.
"""
import sys
from typing import Optional

import torch


class MaskedMLP(torch.nn.Module):
    def __init__(self, features: int = 8, hidden: int = 16):
        super().__init__()
        self.up = torch.nn.Linear(features, hidden)
        self.down = torch.nn.Linear(hidden, features)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None):
        h = self.up(x)
        h = torch.sigmoid(h) * h * 0.5 + 0.1
        if mask is not None:
            h = h * mask
        return self.down(torch.tanh(h)) + x


if __name__ == "__main__":
    torch.manual_seed(0)
    torch.jit.script(MaskedMLP().eval()).save(sys.argv[1])
    print(sys.argv[1])
