"""Value sites and tensor properties: what a deployment fixes besides the
None-ness of Optional[Tensor]: values of bool/int inputs (and of present
Optional[bool]/Optional[int]), the None-ness of any Optional[T], and the
dtype/rank/device of present tensors the model reads. Values are learned by
a value site on the first optimized calls and specialized through its
fallback (csrc/passes/value_site.cpp); tensor properties come from the
profiles and are guarded."""
from typing import List, Optional, Tuple

import pytest
import torch

import torch_optspec
from torch_optspec import census
from helpers.graphs import script_fresh

CALLS = 8  # profiling, P0, 3 learning calls, the site's fallback profiling, its plan


def run(fn, *args, calls=CALLS):
    with torch.no_grad():
        for _ in range(calls):
            out = fn(*args)
    return out, torch.jit.last_executed_optimized_graph()


def effective_ifs(graph) -> int:
    return census.summarize_graph(census.effective_plan(graph)).prim_if


def _eager_flags(x: torch.Tensor, is_causal: bool, out_attn: Optional[bool], n_heads: Optional[int],
                 seq: int) -> torch.Tensor:
    if out_attn is None:
        out_attn = False
    if n_heads is None:
        n_heads = 1
    y = x * 2.0
    if is_causal:
        y = y + 1.0
    if out_attn:
        y = y - 3.0
    if n_heads > 2:
        y = y * 0.5
    return y[:seq]


flags = torch.jit.script(_eager_flags)  # the eager function is the reference


def test_fixed_flags_are_specialized_and_varying_values_are_not():
    x = torch.randn(6)
    torch_optspec.enable()
    fn = script_fresh(flags)
    with torch.no_grad():
        for i in range(CALLS):
            out = fn(x, True, None, 4, 2 + i % 3)  # seq varies
            assert torch.equal(out, _eager_flags(x, True, None, 4, 2 + i % 3))
    graph = torch.jit.last_executed_optimized_graph()
    s = torch_optspec.stats()
    assert s["value_sites"] == 1
    assert s["skipped_varying"] == 1  # seq
    assert s["inputs_value"] >= 2  # is_causal, n_heads
    assert s["inputs_none"] >= 1  # out_attn
    with torch_optspec.enabled(False):
        _, stock_graph = run(script_fresh(flags), x, True, None, 4, 3)
    stock = census.summarize_graph(stock_graph).prim_if
    assert effective_ifs(graph) == 0 < stock
    # The slice on `seq` stays generic: no plan per length.
    assert "aten::slice" in str(census.effective_plan(graph))


def test_other_values_later_give_the_unspecialized_result():
    x = torch.randn(6)
    torch_optspec.enable()
    fn = script_fresh(flags)
    run(fn, x, True, None, 4, 3)
    for args in ((x, False, None, 4, 3), (x, True, True, 4, 3), (x, True, None, None, 3),
                 (x, True, False, 1, 6), (x, True, None, 4, 3)):
        with torch.no_grad():
            got = fn(*args)
        assert torch.equal(got, _eager_flags(*args)), args


def _eager_optionals(x: torch.Tensor, pair: Optional[Tuple[torch.Tensor, torch.Tensor]],
                     many: Optional[List[torch.Tensor]], scale: Optional[float],
                     name: Optional[str]) -> torch.Tensor:
    if pair is not None:
        x = x + pair[0] * pair[1]
    if many is not None:
        for t in many:
            x = x + t
    if scale is not None:
        x = x * scale
    if name is not None:
        x = x - 1.0
    return x


optionals = torch.jit.script(_eager_optionals)  # the eager function is the reference


def test_none_ness_of_any_optional_is_specialized():
    x, a = torch.randn(3), torch.randn(3)
    torch_optspec.enable()
    fn = script_fresh(optionals)
    out, graph = run(fn, x, (a, a), None, 0.5, None)
    assert torch.equal(out, (x + a * a) * 0.5)
    plan = census.effective_plan(graph)
    assert plan is not graph
    # pair present (refined, no check), many and name None, scale present.
    assert census.summarize_graph(plan).prim_if == 0
    assert census.summarize_graph(plan).none_checks == 0
    for args in ((x, None, [a, a], None, "n"), (x, (a, x), None, 2.0, None)):
        with torch.no_grad():
            assert torch.equal(fn(*args), _eager_optionals(*args))


@torch.jit.script
def masked(x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    if mask is not None:
        if mask.dtype == torch.bool:
            x = x.masked_fill(mask, 0.0)
        elif torch.is_floating_point(mask):
            x = x + mask
        if mask.dim() == 3:
            x = x * 2.0
    return x


def test_dtype_and_rank_of_a_present_mask_are_guarded_and_folded():
    x = torch.randn(2, 3, 4)
    bool_mask = torch.rand(2, 3, 4) > 0.5
    torch_optspec.enable()
    fn = script_fresh(masked)
    out, graph = run(fn, x, bool_mask)
    assert torch.equal(out, x.masked_fill(bool_mask, 0.0) * 2.0)
    fast = census.fast_path(graph)
    assert census.summarize_graph(graph).prim_if == 0
    assert "prim::dtype" not in "".join(str(n) for n in census.nodes(fast))
    guard = census.guard_nodes(graph)[0]
    assert list(getattr(guard, "is")("dtypes")) == [int(11)]  # torch.bool
    assert list(getattr(guard, "is")("dims")) == [3]
    # A float mask, a 2-D mask, None: the guard fails, the fallback is right.
    float_mask = torch.randn(2, 3, 4)
    flat_mask = torch.rand(3, 4) > 0.5
    for m, ref in ((float_mask, (x + float_mask) * 2.0), (flat_mask, x.masked_fill(flat_mask, 0.0)),
                   (None, x)):
        with torch.no_grad():
            assert torch.equal(fn(x, m), ref)


def test_unguarded_values_keep_their_property_checks():
    """Only guarded values are folded: a tensor made inside the graph keeps
    its dtype check (its dtype is not what the guard checks)."""
    @torch.jit.script
    def derived(x: torch.Tensor, mask: Optional[torch.Tensor], as_float: bool) -> torch.Tensor:
        if mask is not None:
            m = mask.float() if as_float else mask
            if m.dtype == torch.bool:
                x = x.masked_fill(m, 0.0)
            else:
                x = x + m
        return x

    x, mask = torch.randn(4), torch.rand(4) > 0.5
    torch_optspec.enable()
    fn = script_fresh(derived)
    # as_float varies, so m's dtype is not fixed: its check must stay.
    with torch.no_grad():
        for i in range(CALLS):
            got = fn(x, mask, i % 2 == 0)
            ref = x + mask.float() if i % 2 == 0 else x.masked_fill(mask, 0.0)
            assert torch.equal(got, ref)
    assert torch_optspec.stats()["skipped_varying"] >= 1


def test_in_place_update_of_a_specialized_input_stays_visible():
    @torch.jit.script
    def bump(x: torch.Tensor, scale: Optional[torch.Tensor], twice: bool) -> torch.Tensor:
        if scale is not None:
            scale.add_(1.0)
            if twice:
                scale.add_(1.0)
        return x * 2.0

    torch_optspec.enable()
    fn = script_fresh(bump)
    s = torch.zeros(3)
    run(fn, torch.ones(3), s, True)
    assert torch.equal(s, torch.full((3,), 2.0 * CALLS))


def test_no_value_site_learning_under_grad_mode():
    torch_optspec.enable()
    fn = script_fresh(flags)
    x = torch.randn(6)
    with torch.no_grad():
        run(fn, x, True, None, 4, 3, calls=2)  # P0 with its site
    for _ in range(6):  # grad on: the site neither learns nor calls its fallback
        assert torch.equal(fn(x, True, None, 4, 3), _eager_flags(x, True, None, 4, 3))
    graph = torch.jit.last_executed_optimized_graph()
    assert census.value_site_plan(graph) is None


def test_explain_lists_what_was_fixed():
    torch_optspec.enable()
    with torch.no_grad():
        report = torch_optspec.explain(flags, torch.randn(6), True, None, 4, 3, calls=CALLS)
    kinds = {e["name"].split(".")[0]: e["kind"] for r in report.results for e in r["inputs"]
             if e["kind"] != "skip"}
    assert kinds.get("is_causal") == "value" and kinds.get("out_attn") == "none"
    assert kinds.get("n_heads") == "value" and kinds.get("seq") == "value"


class MHAWrapper(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x: torch.Tensor, key_padding_mask: Optional[torch.Tensor] = None,
                attn_mask: Optional[torch.Tensor] = None, need_weights: bool = False):
        return self.mha(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                        need_weights=need_weights)[0]


def test_cleanup_reaches_a_real_fixed_point_on_multihead_attention():
    """PeepholeOptimize keeps reporting changes on this graph; the cleanup
    compares the graph text instead and needs more than the 4 rounds it was
    once capped at."""
    torch.manual_seed(0)
    eager = MHAWrapper().eval()
    model = torch.jit.freeze(torch.jit.script(eager))
    torch_optspec.reset_plans(model)
    x = torch.randn(2, 4, 16)
    torch_optspec._C._take_results()
    with torch_optspec.enabled(), torch.no_grad():
        for _ in range(CALLS):
            out = model(x, None, None, False)
    results = torch_optspec._C._take_results()
    assert results and max(r["cleanup_rounds"] for r in results) > 4
    assert not any(r["cleanup_hit_round_limit"] for r in results)
    graph = torch.jit.last_executed_optimized_graph()
    stock = torch.jit.freeze(torch.jit.script(MHAWrapper().eval()))
    torch_optspec.reset_plans(stock)
    with torch.no_grad():
        for _ in range(3):
            stock(x, None, None, False)
        ref = eager(x, None, None, False)
    stock_ifs = census.summarize_graph(torch.jit.last_executed_optimized_graph()).prim_if
    assert torch.allclose(out, ref, atol=1e-6)
    assert effective_ifs(graph) <= 24 < stock_ifs


def test_explain_reports_varying_values_and_properties():
    @torch.jit.script
    def g(x: torch.Tensor, causal: bool, mask: Optional[torch.Tensor]) -> torch.Tensor:
        if causal:
            x = x + 1.0
        if mask is not None and mask.dim() == 2:
            x = x + mask.sum()
        return x

    torch_optspec.enable()
    fn = script_fresh(g)
    torch_optspec._C._take_results()
    with torch.no_grad():
        for i in range(CALLS):
            fn(torch.ones(2), i % 2 == 0, torch.ones(2, 2))
    results = torch_optspec._C._take_results()
    site = results[0]["value_site"]
    info = torch_optspec._C._value_site(site)
    assert info["state"] == "disabled" and info["varying"] == [True]
    assert results[0]["inputs"][2]["kind"] == "tensor" and results[0]["inputs"][2]["dim"] == 2
    with torch.no_grad():
        report = torch_optspec.explain(g, torch.ones(2), True, torch.ones(2, 2), enabled=True)
    decisions = {i.name: i.decision for i in report.inputs}
    assert decisions == {"x": "-", "causal": "= True", "mask": "Tensor dim=2"}


class LinearGelu(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(16, 16)

    def forward(self, x: torch.Tensor, n: int, causal: bool) -> torch.Tensor:
        y = torch.nn.functional.gelu(self.lin(x))
        if causal:
            y = y * 2.0
        return y + n


@pytest.mark.parametrize("varying", [False, True])
def test_oneDNN_still_fuses_behind_a_value_site(varying):
    """oneDNN Graph partitions the top-level block only: the plan behind a
    value site, learned or left generic (a varying value), is a function of
    its own and fuses as stock does."""
    from torch_optspec import fusers

    groups, outs = {}, {}
    for on in (False, True):
        torch.manual_seed(0)
        model = torch.jit.freeze(torch.jit.script(LinearGelu().eval()))
        torch_optspec.reset_plans(model)
        with fusers.onednn(), torch_optspec.enabled(on), torch.no_grad():
            for i in range(10):
                out = model(torch.ones(4, 16), i if varying else 3, True)
        graph = torch.jit.last_executed_optimized_graph()
        groups[on] = census.summarize_graph(graph).fusion_total
        outs[on] = out
    assert groups[True] >= groups[False] >= 1
    assert torch.allclose(outs[True], outs[False], atol=1e-5)


def test_value_learning_off_leaves_values_alone():
    @torch.jit.script
    def g(x: torch.Tensor, flag: bool):
        if flag:
            return x * 2
        return x - 1

    def sites(on):
        torch_optspec.reset_plans(g)
        torch_optspec.reset_stats()
        torch_optspec.set_value_learning(on)
        with torch.no_grad(), torch_optspec.enabled():
            for _ in range(8):
                out = g(torch.ones(2), True)
        assert torch.equal(out, torch.full((2,), 2.0))
        return torch_optspec.stats()["value_sites"]

    assert sites(True) == 1
    assert sites(False) == 0
    with pytest.raises(TypeError):
        torch_optspec.set_value_learning(1)
