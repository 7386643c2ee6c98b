"""Real models under torch_optspec (tiny shapes):

- the scriptable BERT port (bench/models/bert.py) matches transformers.BertModel;
- its hand-specialized twin matches the port;
- scripted BERT: stock keeps prim::If on the attention mask, the pass removes it;
- torch.nn TransformerEncoder / TransformerDecoderLayer / MultiheadAttention,
  scripted unmodified, are specialized and stay correct for every None-pattern;
- known gaps of the pass, as strict xfails with minimal reproducers.
"""
import os
import sys
from typing import Optional

import pytest
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch_optspec  # noqa: E402
from bench.models.bert import (  # noqa: E402
    BertConfigLite, BertModel, SpecializedBertModel, load_hf_weights, make_inputs, random_weights)
from bench.models.blocks import AttentionBlock, SpecializedAttentionBlock  # noqa: E402
from torch_optspec.census import GUARD_KIND, summarize_graph  # noqa: E402

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=40)


def optimized_plan(fn, *args, with_pass: bool, calls: int = 3):
    with torch.no_grad(), torch_optspec.enabled(with_pass):
        for _ in range(calls):
            out = fn(*args)
    return torch.jit.last_executed_optimized_graph(), out


def fresh(module: nn.Module):
    """A scripted copy with its own executors (torch.jit.freeze clones the type)."""
    return torch.jit.freeze(torch.jit.script(module.eval()))


def ifs_reading(graph, input_name: str) -> int:
    """prim::If nodes whose condition depends on graph input `input_name`
    (through any chain of nodes, If outputs included), outside the slow path
    of a torch_optspec guard."""
    start = [v for v in graph.inputs() if v.debugName().split(".")[0] == input_name]
    tainted = set(start)
    count = 0

    def walk(block):
        nonlocal count
        for node in block.nodes():
            if node.kind() == GUARD_KIND:
                continue
            reads = any(i in tainted for i in node.inputs())
            blocks = list(node.blocks())
            if node.kind() == "prim::If" and node.inputsAt(0).node().kind() == GUARD_KIND:
                blocks = blocks[:1]  # fast path only
            for inner in blocks:
                walk(inner)
                reads |= any(o in tainted for o in inner.outputs())
            if node.kind() == "prim::If" and node.inputsAt(0) in tainted:
                count += 1
            if reads:
                tainted.update(node.outputs())

    walk(graph.block())
    return count


# ------------------------------------------------------------------ BERT ---


@pytest.fixture(scope="module")
def hf_and_port():
    transformers = pytest.importorskip("transformers")
    config = BertConfigLite(**TINY)
    torch.manual_seed(0)
    hf = transformers.BertModel(config.to_hf()).eval()
    port = load_hf_weights(BertModel(config), hf).eval()
    return config, hf, port


@pytest.mark.parametrize("given", ["mask", "none", "all"])
def test_bert_port_matches_hf(hf_and_port, given):
    config, hf, port = hf_and_port
    inp = make_inputs(3, 12, config.vocab_size)
    kwargs = {"input_ids": inp["input_ids"]}
    if given in ("mask", "all"):
        kwargs["attention_mask"] = inp["attention_mask"]
    if given == "all":
        kwargs["token_type_ids"] = torch.randint(0, 2, (3, 12))
        kwargs["position_ids"] = torch.arange(12).flip(0)[None]
    with torch.no_grad():
        ref = hf(**kwargs)
        out = port(**kwargs)
        scripted = torch.jit.script(port)(**kwargs)
    for got in (out, scripted):
        assert (got[0] - ref.last_hidden_state).abs().max() <= 1e-5
        assert (got[1] - ref.pooler_output).abs().max() <= 1e-5


def test_bert_head_mask_zeroes_heads():
    config = BertConfigLite(**TINY)
    port = random_weights(BertModel(config)).eval()
    inp = make_inputs(2, 8, config.vocab_size)
    with torch.no_grad():
        full = port(inp["input_ids"], head_mask=torch.ones(config.num_attention_heads))[0]
        base = port(inp["input_ids"])[0]
        cut = port(inp["input_ids"], head_mask=torch.tensor([1.0, 0.0, 1.0, 1.0]))[0]
    assert torch.equal(full, base)
    assert (cut - base).abs().max() > 1e-4


@pytest.mark.parametrize("masked", [True, False])
def test_twin_matches_port(masked):
    config = BertConfigLite(**TINY)
    port = random_weights(BertModel(config)).eval()
    twin = SpecializedBertModel(config, use_mask=masked).eval()
    twin.load_state_dict(port.state_dict())
    inp = make_inputs(3, 10, config.vocab_size)
    args = (inp["input_ids"], inp["attention_mask"]) if masked else (inp["input_ids"],)
    with torch.no_grad():
        ref = port(*args)
        got = torch.jit.script(twin)(*args)
    assert (got[0] - ref[0]).abs().max() <= 1e-6


def test_scripted_bert_mask_if_removed_by_the_pass():
    config = BertConfigLite(**TINY)
    model = random_weights(BertModel(config)).eval()
    inp = make_inputs(2, 8, config.vocab_size)
    args = (inp["input_ids"], inp["attention_mask"])
    stock, stock_out = optimized_plan(fresh(model), *args, with_pass=False)
    spec, spec_out = optimized_plan(fresh(model), *args, with_pass=True)
    assert ifs_reading(stock, "attention_mask") >= config.num_hidden_layers
    assert summarize_graph(stock).guards == 0
    assert ifs_reading(spec, "attention_mask") == 0
    summary = summarize_graph(spec)
    assert summary.guards == 1
    assert summary.guard_patterns == ["[0, 1, 1, 1]"]  # mask; token types, positions, head_mask None
    assert torch.allclose(spec_out[0], stock_out[0], atol=1e-6)


def test_scripted_bert_other_pattern_goes_to_fallback_and_is_correct():
    config = BertConfigLite(**TINY)
    model = random_weights(BertModel(config)).eval()
    inp = make_inputs(2, 8, config.vocab_size)
    scripted = fresh(model)
    optimized_plan(scripted, inp["input_ids"], inp["attention_mask"], with_pass=True)
    with torch.no_grad():
        for _ in range(3):
            got = scripted(inp["input_ids"])  # mask None now
        ref = model(inp["input_ids"])
    assert (got[0] - ref[0]).abs().max() <= 1e-6


# ------------------------------------------------------------ torch.nn ----


def tiny_encoder():
    torch.manual_seed(0)
    return nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 2,
        enable_nested_tensor=False).eval()


def padding_mask(batch, seq):
    kpm = torch.zeros(batch, seq, dtype=torch.bool)
    kpm[0, seq - 2:] = True
    return kpm


NN_CASES = {
    "TransformerEncoder": (
        tiny_encoder,
        lambda: (torch.randn(2, 6, 16), None, padding_mask(2, 6)),
        lambda: (torch.randn(2, 6, 16),)),
    "TransformerDecoderLayer": (
        lambda: nn.TransformerDecoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval(),
        lambda: (torch.randn(2, 6, 16), torch.randn(2, 5, 16), None, None, None,
                 padding_mask(2, 5)),
        lambda: (torch.randn(2, 6, 16), torch.randn(2, 5, 16))),
    "MultiheadAttention": (
        lambda: nn.MultiheadAttention(16, 2, batch_first=True).eval(),
        lambda: (torch.randn(2, 6, 16),) * 3 + (padding_mask(2, 6), True, torch.zeros(6, 6, dtype=torch.bool)),
        lambda: (torch.randn(2, 6, 16),) * 3),
}


@pytest.mark.parametrize("name", list(NN_CASES))
@pytest.mark.parametrize("masks", ["given", "none"])
def test_nn_module_specialized_and_correct(name, masks):
    make, with_masks, without = NN_CASES[name]
    torch.manual_seed(0)
    module = make()
    args = with_masks() if masks == "given" else without()
    stock, stock_out = optimized_plan(fresh(module), *args, with_pass=False)
    spec, spec_out = optimized_plan(fresh(module), *args, with_pass=True)
    with torch.no_grad():
        eager_out = module(*args)
    s_stock, s_spec = summarize_graph(stock), summarize_graph(spec)
    assert s_stock.guards == 0 and s_spec.guards == 1
    assert s_spec.prim_if < s_stock.prim_if
    assert s_spec.none_checks < s_stock.none_checks
    first = lambda o: o[0] if isinstance(o, tuple) else o  # noqa: E731
    assert torch.allclose(first(spec_out), first(eager_out), atol=1e-5)
    assert torch.allclose(first(spec_out), first(stock_out), atol=1e-6)


def test_nn_encoder_switching_patterns_stays_correct():
    module = tiny_encoder()
    scripted = fresh(module)
    x, _, kpm = NN_CASES["TransformerEncoder"][1]()
    with torch.no_grad(), torch_optspec.enabled():
        for call in range(8):
            use_mask = call % 2 == 0
            got = scripted(x, None, kpm) if use_mask else scripted(x)
            ref = module(x, src_key_padding_mask=kpm) if use_mask else module(x)
            assert torch.allclose(got, ref, atol=1e-5), call


# ------------------------------------------------------------- regressions ---


# The oneDNN case (fast path outlined so that oneDNN sees it) is
# tests/test_onednn.py, in a subprocess: enabling oneDNN is process-wide.


class _Layer(nn.Module):
    def forward(self, x: torch.Tensor, hm: Optional[torch.Tensor] = None) -> torch.Tensor:
        p = x.softmax(-1)
        if hm is not None:
            p = p * hm
        return p


class _ReassignedOptional(nn.Module):
    """HF's head_mask idiom: the Optional input is reassigned under
    `if x is not None`, then checked again per layer."""

    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList([_Layer(), _Layer()])

    def forward(self, x: torch.Tensor, head_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if head_mask is not None:
            head_mask = head_mask * 2
        for i, layer in enumerate(self.layer):
            layer_head_mask: Optional[torch.Tensor] = None
            if head_mask is not None:
                layer_head_mask = head_mask[i]
            x = layer(x, layer_head_mask)
        return x


def test_reassigned_optional_checks_fold():
    plan, _ = optimized_plan(torch.jit.script(_ReassignedOptional()), torch.randn(4),
                             with_pass=True)
    summary = summarize_graph(plan)
    assert summary.guards == 1
    assert summary.prim_if == 0
