"""A decoder attention layer with HuggingFace's forward signature, and its twin.

`HFSignatureAttention` is one self-attention block (packed QKV projection,
output projection, residual, LayerNorm) written the way HuggingFace layers
(GPT-2, BART, the 4.x decoders) take their arguments:

    forward(hidden_states: Tensor,
            attention_mask: Optional[Tensor] = None,
            past_key_value: Optional[Tuple[Tensor, Tensor]] = None,
            use_cache: Optional[bool] = None,
            output_attentions: Optional[bool] = None,
            return_dict: Optional[bool] = None,
            layer_idx: Optional[int] = None)

with the idioms that go with them:

    use_cache = use_cache if use_cache is not None else self.use_cache   (same for the others)
    if past_key_value is not None:   key = torch.cat([past_key_value[0], key], dim=2)
    present = (key, value) if use_cache else None
    if layer_idx is not None:        scores = scores / float(layer_idx + 1)   (GPT-2's
                                     scale_attn_by_inverse_layer_idx)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:   masked_fill(~mask, finfo.min)   (True = attend)
        elif attention_mask.dim() == 2:          (1.0 - mask[:, None, None, :]) * finfo.min
        else:                                    scores + mask  (additive, broadcastable)
    attentions = probs if output_attentions else None
    if return_dict: return AttentionOutput(...)  else: return (hidden, present, attentions)

finfo.min is that of `hidden_states.dtype` (the input's), as HuggingFace's
`_prepare_4d_attention_mask(mask, inputs_embeds.dtype)` takes it.

`SpecializedHFSignatureAttention` is its hand twin: the deployment (mask
kind, cache in and out, flags, layer index) fixed with `Final` constants,
Tensors only in forward (the cache as two tensors), so TorchScript removes
every branch at compile time.
"""
from typing import Final, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .bert import finfo_min

_EMPTY = torch.empty(0)

# mask kinds of the twin
MASK_KINDS = ("none", "bool", "padding", "additive")


class AttentionOutput(NamedTuple):
    """return_dict=True (HF's ModelOutput is a tuple too): the same fields as
    the tuple, so one return type, the tuple, covers both (TorchScript
    unifies a NamedTuple with the tuple of its field types)."""

    hidden_states: Tensor
    past_key_value: Optional[Tuple[Tensor, Tensor]]
    attentions: Optional[Tensor]


class HFSignatureAttention(nn.Module):
    def __init__(self, hidden: int = 32, heads: int = 4, use_cache: bool = False,
                 output_attentions: bool = False, return_dict: bool = False):
        super().__init__()
        self.num_heads = heads
        self.head_size = hidden // heads
        self.scaling = self.head_size ** -0.5
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-5)
        # config defaults, read at run time as HF reads self.config
        self.use_cache = use_cache
        self.output_attentions = output_attentions
        self.use_return_dict = return_dict

    def forward(self, hidden_states: Tensor,
                attention_mask: Optional[Tensor] = None,
                past_key_value: Optional[Tuple[Tensor, Tensor]] = None,
                use_cache: Optional[bool] = None,
                output_attentions: Optional[bool] = None,
                return_dict: Optional[bool] = None,
                layer_idx: Optional[int] = None,
                ) -> Tuple[Tensor, Optional[Tuple[Tensor, Tensor]], Optional[Tensor]]:
        use_cache = use_cache if use_cache is not None else self.use_cache
        output_attentions = (output_attentions if output_attentions is not None
                             else self.output_attentions)
        return_dict = return_dict if return_dict is not None else self.use_return_dict

        b, s = hidden_states.size(0), hidden_states.size(1)
        query, key, value = self.qkv(hidden_states).view(
            b, s, 3, self.num_heads, self.head_size).permute(2, 0, 3, 1, 4).unbind(0)
        if past_key_value is not None:
            key = torch.cat([past_key_value[0], key], dim=2)
            value = torch.cat([past_key_value[1], value], dim=2)
        present = (key, value) if use_cache else None

        scores = torch.matmul(query, key.transpose(-1, -2)) * self.scaling
        if layer_idx is not None:
            scores = scores / float(layer_idx + 1)
        if attention_mask is not None:
            if attention_mask.dtype == torch.bool:
                scores = scores.masked_fill(attention_mask.logical_not(),
                                            finfo_min(hidden_states.dtype))
            elif attention_mask.dim() == 2:
                mask = attention_mask[:, None, None, :].to(hidden_states.dtype)
                scores = scores + (1.0 - mask) * finfo_min(hidden_states.dtype)
            else:
                scores = scores + attention_mask
        probs = F.softmax(scores, dim=-1)
        context = torch.matmul(probs, value).transpose(1, 2).reshape(b, s, -1)
        out = self.norm(self.dense(context) + hidden_states)

        attentions = probs if output_attentions else None
        if return_dict:
            return AttentionOutput(out, present, attentions)
        return out, present, attentions


class SpecializedHFSignatureAttention(HFSignatureAttention):
    """The twin for one deployment of HFSignatureAttention: `mask_kind`
    ("none"; "bool": True = attend, broadcastable; "padding": 2-D [batch, key]
    non-bool, 1 = attend; "additive": any other mask, added), whether a cache is
    given (`use_past`), the flags' values and `layer_idx` (None: not given),
    `dtype` the dtype of the hidden states (its finfo.min masks)."""

    mask_kind: Final[str]
    use_past: Final[bool]
    use_cache_: Final[bool]
    output_attentions_: Final[bool]
    return_dict_: Final[bool]
    layer_scale: Final[float]
    mask_min: Final[float]

    def __init__(self, hidden: int = 32, heads: int = 4, *, mask_kind: str = "none",
                 use_past: bool = False, use_cache: bool = False,
                 output_attentions: bool = False, return_dict: bool = False,
                 layer_idx: Optional[int] = None, dtype: torch.dtype = torch.float32):
        super().__init__(hidden, heads)
        assert mask_kind in MASK_KINDS, mask_kind
        self.mask_kind = mask_kind
        self.use_past = use_past
        self.use_cache_ = use_cache
        self.output_attentions_ = output_attentions
        self.return_dict_ = return_dict
        self.layer_scale = 1.0 if layer_idx is None else float(layer_idx + 1)
        self.mask_min = torch.finfo(dtype).min

    def forward(self, hidden_states: Tensor, attention_mask: Tensor = _EMPTY,  # type: ignore[override]
                past_key: Tensor = _EMPTY, past_value: Tensor = _EMPTY,
                ) -> Tuple[Tensor, Optional[Tuple[Tensor, Tensor]], Optional[Tensor]]:
        b, s = hidden_states.size(0), hidden_states.size(1)
        query, key, value = self.qkv(hidden_states).view(
            b, s, 3, self.num_heads, self.head_size).permute(2, 0, 3, 1, 4).unbind(0)
        if self.use_past:
            key = torch.cat([past_key, key], dim=2)
            value = torch.cat([past_value, value], dim=2)
        present: Optional[Tuple[Tensor, Tensor]] = None
        if self.use_cache_:
            present = (key, value)

        scores = torch.matmul(query, key.transpose(-1, -2)) * self.scaling
        if self.layer_scale != 1.0:
            scores = scores / self.layer_scale
        if self.mask_kind == "bool":
            scores = scores.masked_fill(attention_mask.logical_not(), self.mask_min)
        elif self.mask_kind == "padding":
            mask = attention_mask[:, None, None, :].to(hidden_states.dtype)
            scores = scores + (1.0 - mask) * self.mask_min
        elif self.mask_kind == "additive":
            scores = scores + attention_mask
        probs = F.softmax(scores, dim=-1)
        context = torch.matmul(probs, value).transpose(1, 2).reshape(b, s, -1)
        out = self.norm(self.dense(context) + hidden_states)

        attentions: Optional[Tensor] = None
        if self.output_attentions_:
            attentions = probs
        if self.return_dict_:
            return AttentionOutput(out, present, attentions)
        return out, present, attentions
