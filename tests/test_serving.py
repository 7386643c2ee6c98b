"""The serving recipes of docs/serving.md, as far as they run here:

- the TorchServe handler (examples/serving/torchserve_handler.py) against a
  stand-in for TorchServe's BaseHandler (TorchServe itself is not installed):
  it enables the pass before the first call, runs under inference mode, and
  both None-patterns get specialized and match eager;
- the Triton section: a Tensor-only wrapper (what Triton's PyTorch backend
  requires of forward()) has its None checks folded by stock TorchScript,
  without torch_optspec; the BERT port behind such a wrapper still keeps
  branches on the mask's rank and dtype, which the pass removes.
"""
import importlib.util
import json
import os
import sys
import types
from typing import Optional

import pytest
import torch

import torch_optspec
from torch_optspec import census

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANDLER = os.path.join(ROOT, "examples", "serving", "torchserve_handler.py")
GUARD = census.GUARD_OP


sys.path.insert(0, os.path.join(ROOT, "examples", "serving"))
from masked_model import Masked  # noqa: E402  (the model torchserve_check.sh serves)


class _StandInBaseHandler:
    """The parts of ts.torch_handler.base_handler.BaseHandler the handler uses:
    initialize() loads manifest["model"]["serializedFile"] from model_dir with
    torch.jit.load(map_location=device) and calls eval()."""

    def __init__(self):
        self.model, self.device, self.initialized = None, None, False

    def initialize(self, context):
        self.device = torch.device("cpu")
        path = os.path.join(context.system_properties["model_dir"],
                            context.manifest["model"]["serializedFile"])
        self.model = torch.jit.load(path, map_location=self.device)
        self.model.eval()
        self.initialized = True

    def handle(self, data, context):
        return self.postprocess(self.inference(self.preprocess(data)))


@pytest.fixture
def handler_class(monkeypatch):
    base = types.ModuleType("ts.torch_handler.base_handler")
    base.BaseHandler = _StandInBaseHandler
    for name, module in (("ts", types.ModuleType("ts")),
                         ("ts.torch_handler", types.ModuleType("ts.torch_handler")),
                         ("ts.torch_handler.base_handler", base)):
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("torchserve_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OptspecHandler


def test_torchserve_handler_specializes_both_patterns(handler_class, tmp_path):
    torch.manual_seed(0)
    eager = Masked().eval()
    torch.jit.save(torch.jit.script(eager), str(tmp_path / "model.pt"))
    context = types.SimpleNamespace(system_properties={"model_dir": str(tmp_path)},
                                    manifest={"model": {"serializedFile": "model.pt"}})
    handler = handler_class()
    assert not torch_optspec.is_enabled()
    handler.initialize(context)
    assert torch_optspec.is_enabled(), "enabled by initialize(), before the first call"

    ids = [[1, 5, 7, 9, 2]]
    with_mask = {"body": json.dumps({"input_ids": ids, "attention_mask": [[1, 1, 1, 0, 0]]}).encode()}
    without_mask = {"body": {"input_ids": ids}}
    for _ in range(3):
        out_mask, out_none = handler.handle([with_mask, without_mask], context)
    g = str(torch.jit.last_executed_optimized_graph())
    assert GUARD in g

    with torch.no_grad():
        t = torch.tensor(ids)
        ref_mask = eager(t, torch.tensor([[1, 1, 1, 0, 0]]))
        ref_none = eager(t)
    torch.testing.assert_close(torch.tensor(out_mask), ref_mask)
    torch.testing.assert_close(torch.tensor(out_none), ref_none)
    s = torch_optspec.stats()
    assert s["inputs_tensor"] >= 1 and s["inputs_none"] >= 1, s

    with pytest.raises(ValueError, match="unknown inputs"):
        handler.preprocess([{"body": {"input_ids": ids, "token_type_ids": ids}}])


class TensorOnlyWithMask(torch.nn.Module):
    """What Triton's PyTorch backend accepts: forward() arguments of type Tensor."""

    def __init__(self):
        super().__init__()
        self.inner = Masked()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.inner(input_ids, attention_mask)


class TensorOnlyWithoutMask(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Masked()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.inner(input_ids)


@pytest.mark.parametrize("wrapper", [TensorOnlyWithMask, TensorOnlyWithoutMask])
def test_tensor_only_wrapper_needs_no_pass(wrapper):
    m = torch.jit.script(wrapper().eval())
    assert all(str(a.type) == "Tensor" for a in m.forward.schema.arguments[1:])
    args = (torch.tensor([[1, 5, 7]]),) + ((torch.tensor([[1, 1, 0]]),) if wrapper is TensorOnlyWithMask else ())
    with torch.no_grad():
        for _ in range(3):
            m(*args)
    g = str(torch.jit.last_executed_optimized_graph())
    assert "prim::If" not in g and "aten::__isnot__" not in g and GUARD not in g
    # The original, with the Optional argument, keeps its check without the pass.
    inner = torch.jit.script(Masked().eval())
    torch_optspec.reset_plans(inner)  # scripted instances share compiled methods
    with torch.no_grad():
        for _ in range(3):
            inner(*args)
    assert "prim::If" in str(torch.jit.last_executed_optimized_graph())


class BertTensorOnly(torch.nn.Module):
    """What a Triton deployment of the BERT port saves: forward() takes the
    Tensors it sends (Triton's PyTorch backend accepts Tensor arguments only)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        return self.bert(input_ids, attention_mask)


def _count_ifs(block) -> int:
    n = 0
    for node in block.nodes():
        n += node.kind() == "prim::If"
        for b in node.blocks():
            n += _count_ifs(b)
    return n


def test_tensor_only_wrapper_of_bert_still_has_branches_the_pass_removes():
    """Behind a Tensor-only wrapper stock TorchScript folds the `is None`
    checks (the argument is a Tensor), not the branches on the mask's rank
    and dtype: the BERT port keeps them in the plan. With the pass, the
    mask's dtype and rank are guarded (inputs_properties) and those branches
    leave the fast path; results equal the pass-off run."""
    sys.path.insert(0, ROOT)
    from bench.models.bert import BertConfigLite, BertModel, make_inputs, random_weights
    from torch_optspec.census import fast_path

    config = BertConfigLite(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64,
                            max_position_embeddings=64)
    bert = random_weights(BertModel(config)).eval()
    inputs = make_inputs(2, 8, config.vocab_size)
    args = (inputs["input_ids"], inputs["attention_mask"])

    def plan(with_pass):
        m = torch.jit.freeze(torch.jit.script(BertTensorOnly(bert).eval()))
        with torch.no_grad(), torch_optspec.enabled(with_pass):
            for _ in range(8):
                out = m(*args)
        return torch.jit.last_executed_optimized_graph(), out

    stock, expected = plan(False)
    stock_ifs = _count_ifs(stock)
    assert "aten::__isnot__" not in str(stock)  # the None checks are folded by stock
    assert stock_ifs > 0, "the rank/dtype branches stay in stock's plan"
    torch_optspec.reset_stats()
    g, out = plan(True)
    assert torch_optspec.stats()["inputs_properties"] >= 1, torch_optspec.stats()
    fast = fast_path(g)
    assert fast is not None
    assert _count_ifs(fast) < stock_ifs, (_count_ifs(fast), stock_ifs)
    for a, b in zip(out if isinstance(out, tuple) else (out,),
                    expected if isinstance(expected, tuple) else (expected,)):
        torch.testing.assert_close(a, b)
