"""The small model the serving recipes are checked with
(examples/serving/torchserve_check.sh, tests/test_serving.py): attention
scores with the HuggingFace `if attention_mask is not None:` idiom."""
from typing import Optional

import torch


class Masked(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 8)

    def forward(self, input_ids: torch.Tensor,
                attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.embed(input_ids)
        scores = h @ h.transpose(-1, -2) / 8.0
        if attention_mask is not None:
            scores = scores + (1.0 - attention_mask[:, None, :].to(scores.dtype)) * -10000.0
        return torch.softmax(scores, dim=-1)
