"""Hand twins of torch.nn attention modules, one per deployment.

A deployment fixes how the module is called: which Optional masks are given,
the values of the flags (`need_weights`, `is_causal`, `tgt_is_causal`, ...).
A twin is a scripted wrapper whose forward takes only Tensors and holds that
call as `Final` constants: scripting inlines the module's forward with the
masks typed Tensor (or the None constant) and the flags constant, so
TorchScript's constant propagation and peephole remove every branch those
arguments decide. That is the hand-specialization a user can write without
editing torch.nn, and exactly what torch_optspec is to do from the outside:
the reference for its branch counts (tests/test_models.py).

What a twin does not fold either: the module's own state (`self.training`,
`self.num_heads`, ... unless frozen), process state (grad mode, autocast,
`torch.backends.mha.get_fastpath_enabled()`), and the properties of the masks
it is given (dtype and rank checks in `F._canonical_mask`,
`torch.is_floating_point(mask)`): a twin takes any mask, as the module does.

`MultiheadAttentionFunctional` goes one step further, as a user rewriting the
attention by hand would: it calls `F.multi_head_attention_forward` directly
with constants, skipping `nn.MultiheadAttention.forward` (its fast-path
eligibility chain, which reads grad mode, autocast and the fast-path switch,
and its self-attention identity checks). It computes the slow path where the
module under `torch.no_grad()` takes `torch._native_multi_head_attention`
(equal to ~1e-7). Its branch count is a lower bound no argument
specialization reaches; it is measured for the record, not as a target.
"""
from typing import Final, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EMPTY = torch.empty(0)


class MultiheadAttentionTwin(nn.Module):
    """`mha(query, key, value, key_padding_mask=?, need_weights=?, attn_mask=?,
    average_attn_weights=?, is_causal=?)` with the presence of the masks and
    the flags fixed."""

    use_key_padding_mask: Final[bool]
    use_attn_mask: Final[bool]
    need_weights: Final[bool]
    average_attn_weights: Final[bool]
    is_causal: Final[bool]

    def __init__(self, mha: nn.MultiheadAttention, use_key_padding_mask: bool = False,
                 use_attn_mask: bool = False, need_weights: bool = True,
                 average_attn_weights: bool = True, is_causal: bool = False):
        super().__init__()
        self.mha = mha
        self.use_key_padding_mask = use_key_padding_mask
        self.use_attn_mask = use_attn_mask
        self.need_weights = need_weights
        self.average_attn_weights = average_attn_weights
        self.is_causal = is_causal

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor = _EMPTY,
                attn_mask: Tensor = _EMPTY) -> Tuple[Tensor, Optional[Tensor]]:
        kpm: Optional[Tensor] = None
        am: Optional[Tensor] = None
        if self.use_key_padding_mask:
            kpm = key_padding_mask
        if self.use_attn_mask:
            am = attn_mask
        return self.mha(query, key, value, key_padding_mask=kpm, need_weights=self.need_weights,
                        attn_mask=am, average_attn_weights=self.average_attn_weights,
                        is_causal=self.is_causal)


class MultiheadAttentionFunctional(nn.Module):
    """Self-attention of a batch_first, eval-mode nn.MultiheadAttention
    (packed in-projection, no bias_k/bias_v, no zero attention) written with
    `F.multi_head_attention_forward` and constants."""

    use_key_padding_mask: Final[bool]
    use_attn_mask: Final[bool]
    need_weights: Final[bool]
    average_attn_weights: Final[bool]
    embed_dim: Final[int]
    num_heads: Final[int]

    def __init__(self, mha: nn.MultiheadAttention, use_key_padding_mask: bool = False,
                 use_attn_mask: bool = False, need_weights: bool = True,
                 average_attn_weights: bool = True):
        super().__init__()
        assert mha.batch_first and mha._qkv_same_embed_dim and mha.bias_k is None
        assert not mha.add_zero_attn and not mha.training
        self.mha = mha
        self.use_key_padding_mask = use_key_padding_mask
        self.use_attn_mask = use_attn_mask
        self.need_weights = need_weights
        self.average_attn_weights = average_attn_weights
        self.embed_dim = mha.embed_dim
        self.num_heads = mha.num_heads

    def forward(self, x: Tensor, key_padding_mask: Tensor = _EMPTY,
                attn_mask: Tensor = _EMPTY) -> Tuple[Tensor, Optional[Tensor]]:
        kpm: Optional[Tensor] = None
        am: Optional[Tensor] = None
        if self.use_key_padding_mask:
            kpm = key_padding_mask
        if self.use_attn_mask:
            am = attn_mask
        q = x.transpose(1, 0)
        out, weights = F.multi_head_attention_forward(
            q, q, q, self.embed_dim, self.num_heads, self.mha.in_proj_weight,
            self.mha.in_proj_bias, None, None, False, 0.0, self.mha.out_proj.weight,
            self.mha.out_proj.bias, training=False, key_padding_mask=kpm,
            need_weights=self.need_weights, attn_mask=am,
            average_attn_weights=self.average_attn_weights, is_causal=False)
        return out.transpose(1, 0), weights


class TransformerEncoderTwin(nn.Module):
    """`encoder(src, mask=?, src_key_padding_mask=?[, is_causal=?])` with the
    presence of the masks and of is_causal (and its value) fixed."""

    use_mask: Final[bool]
    use_key_padding_mask: Final[bool]
    is_causal_given: Final[bool]
    is_causal: Final[bool]

    def __init__(self, encoder: nn.TransformerEncoder, use_mask: bool = False,
                 use_key_padding_mask: bool = False, is_causal: Optional[bool] = None):
        super().__init__()
        self.encoder = encoder
        self.use_mask = use_mask
        self.use_key_padding_mask = use_key_padding_mask
        self.is_causal_given = is_causal is not None
        self.is_causal = bool(is_causal)

    def forward(self, src: Tensor, mask: Tensor = _EMPTY,
                src_key_padding_mask: Tensor = _EMPTY) -> Tensor:
        am: Optional[Tensor] = None
        kpm: Optional[Tensor] = None
        if self.use_mask:
            am = mask
        if self.use_key_padding_mask:
            kpm = src_key_padding_mask
        if self.is_causal_given:
            return self.encoder(src, mask=am, src_key_padding_mask=kpm, is_causal=self.is_causal)
        return self.encoder(src, mask=am, src_key_padding_mask=kpm)


class TransformerDecoderTwin(nn.Module):
    """`decoder(tgt, memory, tgt_mask=?, memory_mask=?, tgt_key_padding_mask=?,
    memory_key_padding_mask=?[, tgt_is_causal=?], memory_is_causal=?)` with
    the presence of the masks, of tgt_is_causal (and its value) and
    memory_is_causal fixed."""

    use_tgt_mask: Final[bool]
    use_memory_mask: Final[bool]
    use_tgt_key_padding_mask: Final[bool]
    use_memory_key_padding_mask: Final[bool]
    tgt_is_causal_given: Final[bool]
    tgt_is_causal: Final[bool]
    memory_is_causal: Final[bool]

    def __init__(self, decoder: nn.TransformerDecoder, use_tgt_mask: bool = False,
                 use_memory_mask: bool = False, use_tgt_key_padding_mask: bool = False,
                 use_memory_key_padding_mask: bool = False,
                 tgt_is_causal: Optional[bool] = None, memory_is_causal: bool = False):
        super().__init__()
        self.decoder = decoder
        self.use_tgt_mask = use_tgt_mask
        self.use_memory_mask = use_memory_mask
        self.use_tgt_key_padding_mask = use_tgt_key_padding_mask
        self.use_memory_key_padding_mask = use_memory_key_padding_mask
        self.tgt_is_causal_given = tgt_is_causal is not None
        self.tgt_is_causal = bool(tgt_is_causal)
        self.memory_is_causal = memory_is_causal

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor = _EMPTY,
                memory_mask: Tensor = _EMPTY, tgt_key_padding_mask: Tensor = _EMPTY,
                memory_key_padding_mask: Tensor = _EMPTY) -> Tensor:
        tm: Optional[Tensor] = None
        mm: Optional[Tensor] = None
        tk: Optional[Tensor] = None
        mk: Optional[Tensor] = None
        if self.use_tgt_mask:
            tm = tgt_mask
        if self.use_memory_mask:
            mm = memory_mask
        if self.use_tgt_key_padding_mask:
            tk = tgt_key_padding_mask
        if self.use_memory_key_padding_mask:
            mk = memory_key_padding_mask
        if self.tgt_is_causal_given:
            return self.decoder(tgt, memory, tgt_mask=tm, memory_mask=mm, tgt_key_padding_mask=tk,
                                memory_key_padding_mask=mk, tgt_is_causal=self.tgt_is_causal,
                                memory_is_causal=self.memory_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tm, memory_mask=mm, tgt_key_padding_mask=tk,
                            memory_key_padding_mask=mk, memory_is_causal=self.memory_is_causal)
