"""Smaller benchmark models and the hand-specialized twins of torch.nn modules.

AttentionBlock is one BERT attention block (self-attention, output projection,
residual, LayerNorm) with the HuggingFace `if attention_mask is not None:`
idiom; SpecializedAttentionBlock is its Final[bool] twin.

For torch.nn modules, whose code we do not edit, the twin is a wrapper whose
forward has no Optional argument: scripting inlines the module's forward with
the mask typed Tensor (or the None constant), so TorchScript's own peephole
and constant propagation remove the checks at compile time. That is the
hand-specialization a user can write without touching torch.nn.
"""
from typing import Final, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttentionBlock(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.head_size = hidden // heads
        self.scaling = self.head_size ** -0.5
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x: Tensor, attention_mask: Optional[Tensor] = None) -> Tensor:
        b, s = x.size(0), x.size(1)
        q, k, v = self.qkv(x).view(b, s, 3, -1, self.head_size).permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling
        if attention_mask is not None:
            scores = scores + attention_mask
        context = torch.matmul(F.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, s, -1)
        return self.norm(self.dense(context) + x)


class SpecializedAttentionBlock(AttentionBlock):
    use_mask: Final[bool]

    def __init__(self, hidden: int, heads: int, use_mask: bool):
        super().__init__(hidden, heads)
        self.use_mask = use_mask

    def forward(self, x: Tensor, attention_mask: Tensor = torch.empty(0)) -> Tensor:
        b, s = x.size(0), x.size(1)
        q, k, v = self.qkv(x).view(b, s, 3, -1, self.head_size).permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling
        if self.use_mask:
            scores = scores + attention_mask
        context = torch.matmul(F.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, s, -1)
        return self.norm(self.dense(context) + x)


class EncoderWithMask(nn.Module):
    """nn.TransformerEncoder called with a key padding mask typed Tensor."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, src: Tensor, src_key_padding_mask: Tensor) -> Tensor:
        return self.encoder(src, src_key_padding_mask=src_key_padding_mask)


class EncoderWithoutMask(nn.Module):
    """nn.TransformerEncoder called without masks."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, src: Tensor) -> Tensor:
        return self.encoder(src)


class MHAWithMask(nn.Module):
    """nn.MultiheadAttention (self-attention) called with a key padding mask
    typed Tensor."""

    def __init__(self, mha: nn.Module):
        super().__init__()
        self.mha = mha

    def forward(self, x: Tensor, key_padding_mask: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        return self.mha(x, x, x, key_padding_mask=key_padding_mask)


class MHAWithoutMask(nn.Module):
    """nn.MultiheadAttention (self-attention) called without masks."""

    def __init__(self, mha: nn.Module):
        super().__init__()
        self.mha = mha

    def forward(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        return self.mha(x, x, x)
