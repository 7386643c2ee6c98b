"""A TorchScript-able BERT encoder that keeps the HuggingFace forward idioms.

`BertModel` mirrors `transformers.BertModel` (eager attention, inference):
the optional arguments are `Optional[Tensor] = None` and are handled the way
the HuggingFace code handles them:

    if position_ids is None:            position_ids = <buffer slice>
    if token_type_ids is None:          token_type_ids = <zeros buffer>
    if attention_mask is not None:      scores = scores + extended_mask
    if head_mask is not None:           probs = probs * head_mask[layer]
    if encoder_hidden_states is not None: cross-attention (decoder configs)

`torch.jit.script(BertModel(config))` therefore compiles to graphs full of
`aten::__isnot__` / `prim::If` / `prim::unchecked_cast`, which is what
torch_optspec specializes away.

`SpecializedBertModel` is the hand-written workaround from the user report
(docs: /work/shared/reference/optional-fusion-post.md): the None-pattern is
fixed at construction with `Final[bool]` flags and the optional arguments are
plain Tensors with empty defaults, so TorchScript removes the branches at
compile time. It is the reference for the best the pass can do.

Both load the weights of a `transformers.BertModel` (`load_hf_weights`); the
parameter names are the same, so `load_state_dict` copies them one to one.

Not supported (not needed for inference benchmarks): dropout in training
mode, `inputs_embeds`, the key/value cache.
"""
from typing import Final, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn



class BertConfigLite:
    """The fields of transformers.BertConfig the port reads (so that models can
    be built without transformers installed)."""

    def __init__(self, vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512, type_vocab_size=2,
                 layer_norm_eps=1e-12, pad_token_id=0, is_decoder=False,
                 add_cross_attention=False, hidden_act="gelu"):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.pad_token_id = pad_token_id
        self.is_decoder = is_decoder
        self.add_cross_attention = add_cross_attention
        self.hidden_act = hidden_act

    @classmethod
    def from_hf(cls, config) -> "BertConfigLite":
        return cls(**{k: getattr(config, k) for k in cls().__dict__})

    def to_hf(self):
        from transformers import BertConfig

        return BertConfig(**self.__dict__, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0,
                          attn_implementation="eager")


# --------------------------------------------------------------------------
# The HuggingFace-style port (Optional[Tensor] arguments).
# --------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings,
                                                config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size,
                                                  config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.register_buffer(
            "position_ids",
            torch.arange(config.max_position_embeddings).expand((1, -1)),
            persistent=False)
        self.register_buffer(
            "token_type_ids",
            torch.zeros((1, config.max_position_embeddings), dtype=torch.long),
            persistent=False)

    def forward(self, input_ids: Tensor, token_type_ids: Optional[Tensor] = None,
                position_ids: Optional[Tensor] = None) -> Tensor:
        batch_size, seq_length = input_ids.size(0), input_ids.size(1)
        if position_ids is None:
            position_ids = self.position_ids[:, :seq_length]
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :seq_length].expand(batch_size, seq_length)
        embeddings = self.word_embeddings(input_ids)
        embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.LayerNorm(embeddings)


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.scaling = self.attention_head_size ** -0.5
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def _heads(self, x: Tensor) -> Tensor:
        # [B, S, H*D] -> [B, H, S, D]
        return x.view(x.size(0), x.size(1), -1, self.attention_head_size).transpose(1, 2)

    def forward(self, hidden_states: Tensor, attention_mask: Optional[Tensor] = None,
                head_mask: Optional[Tensor] = None,
                encoder_hidden_states: Optional[Tensor] = None) -> Tensor:
        query = self._heads(self.query(hidden_states))
        if encoder_hidden_states is not None:  # cross-attention
            key = self._heads(self.key(encoder_hidden_states))
            value = self._heads(self.value(encoder_hidden_states))
        else:
            key = self._heads(self.key(hidden_states))
            value = self._heads(self.value(hidden_states))
        scores = torch.matmul(query, key.transpose(2, 3)) * self.scaling
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = F.softmax(scores, dim=-1)
        if head_mask is not None:
            probs = probs * head_mask
        context = torch.matmul(probs, value).transpose(1, 2).contiguous()
        return context.view(context.size(0), context.size(1), -1)


class BertSelfOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(hidden_states) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states: Tensor, attention_mask: Optional[Tensor] = None,
                head_mask: Optional[Tensor] = None,
                encoder_hidden_states: Optional[Tensor] = None) -> Tensor:
        context = self.self(hidden_states, attention_mask, head_mask, encoder_hidden_states)
        return self.output(context, hidden_states)


class BertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return F.gelu(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(hidden_states) + input_tensor)


class BertLayer(nn.Module):
    add_cross_attention: Final[bool]

    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.add_cross_attention = config.add_cross_attention
        if self.add_cross_attention:
            self.crossattention = BertAttention(config)
        else:
            self.crossattention = nn.Identity()  # TorchScript needs the attribute
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states: Tensor, attention_mask: Optional[Tensor] = None,
                head_mask: Optional[Tensor] = None,
                encoder_hidden_states: Optional[Tensor] = None,
                encoder_attention_mask: Optional[Tensor] = None) -> Tensor:
        attention_output = self.attention(hidden_states, attention_mask, head_mask)
        if self.add_cross_attention:
            if encoder_hidden_states is not None:
                attention_output = self.crossattention(
                    attention_output, encoder_attention_mask, head_mask,
                    encoder_hidden_states)
        intermediate = self.intermediate(attention_output)
        return self.output(intermediate, attention_output)


class BertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))


def extended_attention_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """[B, S] (1 = attend) -> additive [B, 1, 1, S] (0 or the dtype's min)."""
    ext = mask[:, None, None, :].to(dtype)
    return (1.0 - ext) * -3.4028234663852886e38  # torch.finfo(float32).min


def causal_attention_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """[B, S] padding mask -> additive [B, 1, S, S] causal-and-padding mask."""
    seq = mask.size(1)
    causal = torch.ones(seq, seq, dtype=torch.bool, device=mask.device).tril()
    allowed = causal[None, None, :, :] & mask[:, None, None, :].bool()
    return (1.0 - allowed.to(dtype)) * -3.4028234663852886e38


class BertModel(nn.Module):
    """transformers.BertModel's inference forward with its Optional arguments.

    Returns (last_hidden_state, pooler_output) like the HuggingFace output's
    first two fields.
    """

    is_decoder: Final[bool]

    def __init__(self, config):
        super().__init__()
        self.is_decoder = config.is_decoder
        self.num_hidden_layers = config.num_hidden_layers
        self.embeddings = BertEmbeddings(config)
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])
        self.pooler = BertPooler(config)

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None,
                position_ids: Optional[Tensor] = None,
                head_mask: Optional[Tensor] = None,
                encoder_hidden_states: Optional[Tensor] = None,
                encoder_attention_mask: Optional[Tensor] = None):
        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids)
        dtype = hidden_states.dtype

        extended_mask: Optional[Tensor] = None
        if self.is_decoder:
            if attention_mask is None:
                attention_mask = torch.ones(input_ids.size(0), input_ids.size(1),
                                            dtype=torch.long, device=input_ids.device)
            extended_mask = causal_attention_mask(attention_mask, dtype)
        elif attention_mask is not None:
            extended_mask = extended_attention_mask(attention_mask, dtype)

        encoder_extended_mask: Optional[Tensor] = None
        if encoder_attention_mask is not None:
            encoder_extended_mask = extended_attention_mask(encoder_attention_mask, dtype)

        # head_mask: [num_heads] or [num_layers, num_heads] (1 keeps a head),
        # broadcast to [num_layers, batch, heads, query, key] as in HF v4.
        if head_mask is not None:
            if head_mask.dim() == 1:
                head_mask = head_mask[None, None, :, None, None].expand(
                    self.num_hidden_layers, -1, -1, -1, -1)
            else:
                head_mask = head_mask[:, None, :, None, None]
            head_mask = head_mask.to(dtype)

        for i, layer in enumerate(self.layer):
            layer_head_mask: Optional[Tensor] = None
            if head_mask is not None:
                layer_head_mask = head_mask[i]
            hidden_states = layer(hidden_states, extended_mask, layer_head_mask,
                                  encoder_hidden_states, encoder_extended_mask)
        return hidden_states, self.pooler(hidden_states)


# --------------------------------------------------------------------------
# The hand-specialized twin (the workaround of the report).
# --------------------------------------------------------------------------

_EMPTY = torch.empty(0)


class SpecializedSelfAttention(nn.Module):
    use_mask: Final[bool]

    def __init__(self, config, use_mask: bool):
        super().__init__()
        self.use_mask = use_mask
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.scaling = self.attention_head_size ** -0.5
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def _heads(self, x: Tensor) -> Tensor:
        return x.view(x.size(0), x.size(1), -1, self.attention_head_size).transpose(1, 2)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor = _EMPTY) -> Tensor:
        query = self._heads(self.query(hidden_states))
        key = self._heads(self.key(hidden_states))
        value = self._heads(self.value(hidden_states))
        scores = torch.matmul(query, key.transpose(2, 3)) * self.scaling
        if self.use_mask:
            scores = scores + attention_mask
        probs = F.softmax(scores, dim=-1)
        context = torch.matmul(probs, value).transpose(1, 2).contiguous()
        return context.view(context.size(0), context.size(1), -1)


class SpecializedAttention(nn.Module):
    def __init__(self, config, use_mask: bool):
        super().__init__()
        self.self = SpecializedSelfAttention(config, use_mask)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor = _EMPTY) -> Tensor:
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class SpecializedLayer(nn.Module):
    def __init__(self, config, use_mask: bool):
        super().__init__()
        self.attention = SpecializedAttention(config, use_mask)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor = _EMPTY) -> Tensor:
        attention_output = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class SpecializedBertModel(nn.Module):
    """The encoder of BertModel (is_decoder=False, no head_mask) with the
    presence of each optional argument fixed at construction.

    Arguments that are absent keep their empty-tensor default and are never
    read; `token_type_ids`/`position_ids` absent means the zero/arange
    defaults, exactly as in BertModel.
    """

    use_mask: Final[bool]
    use_token_type_ids: Final[bool]
    use_position_ids: Final[bool]

    def __init__(self, config, use_mask: bool = True, use_token_type_ids: bool = False,
                 use_position_ids: bool = False):
        super().__init__()
        assert not config.is_decoder, "the twin covers encoder configs only"
        self.use_mask = use_mask
        self.use_token_type_ids = use_token_type_ids
        self.use_position_ids = use_position_ids
        self.embeddings = BertEmbeddings(config)
        self.layer = nn.ModuleList(
            [SpecializedLayer(config, use_mask) for _ in range(config.num_hidden_layers)])
        self.pooler = BertPooler(config)

    def forward(self, input_ids: Tensor, attention_mask: Tensor = _EMPTY,
                token_type_ids: Tensor = _EMPTY, position_ids: Tensor = _EMPTY):
        seq_length = input_ids.size(1)
        if self.use_position_ids:
            positions = position_ids
        else:
            positions = self.embeddings.position_ids[:, :seq_length]
        if self.use_token_type_ids:
            token_types = token_type_ids
        else:
            token_types = self.embeddings.token_type_ids[:, :seq_length].expand(
                input_ids.size(0), seq_length)
        emb = self.embeddings
        hidden_states = emb.word_embeddings(input_ids)
        hidden_states = hidden_states + emb.token_type_embeddings(token_types)
        hidden_states = hidden_states + emb.position_embeddings(positions)
        hidden_states = emb.LayerNorm(hidden_states)
        extended_mask = attention_mask  # unused by the layers when not use_mask
        if self.use_mask:
            extended_mask = extended_attention_mask(attention_mask, hidden_states.dtype)
        for layer in self.layer:
            hidden_states = layer(hidden_states, extended_mask)
        return hidden_states, self.pooler(hidden_states)


# --------------------------------------------------------------------------
# Weights and inputs.
# --------------------------------------------------------------------------


def hf_state_dict(hf_model) -> dict:
    """The state dict of a transformers.BertModel renamed to this port's
    parameter names (HF nests the layers under encoder.layer)."""
    out = {}
    for name, value in hf_model.state_dict().items():
        out[name.replace("encoder.layer.", "layer.")] = value
    return out


def load_hf_weights(model: nn.Module, hf_model) -> nn.Module:
    """Copy the weights of a transformers.BertModel into `model` (a BertModel
    or SpecializedBertModel); every parameter must be matched."""
    state = hf_state_dict(hf_model)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    # A twin or an encoder has no cross-attention weights: ignore extras only
    # for modules the port does not build.
    state = {k: v for k, v in state.items() if k in own}
    if missing:
        raise KeyError(f"weights missing from the HF model: {missing}")
    model.load_state_dict(state)
    return model


def random_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Deterministic weights without transformers (benchmarks, explain demos)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return model


def make_inputs(batch: int, seq: int, vocab_size: int, padded: bool = True,
                seed: int = 0) -> dict:
    """input_ids and an attention mask whose rows end with 0..seq/4 padding."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, vocab_size, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    if padded:
        for b in range(batch):
            pad = (b * 7) % max(1, seq // 4)
            if pad:
                mask[b, seq - pad:] = 0
    return {"input_ids": input_ids, "attention_mask": mask}
