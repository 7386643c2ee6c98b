"""Which inputs get specialized: none, some, all; graphs without Optional
inputs are left alone."""
from typing import Optional

import torch
from torch.testing import FileCheck

import torch_optspec
from helpers.graphs import GUARD, checks_on, guard_pattern, guard_node, run_and_get_plan, script_fresh


def no_optional(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * y).relu()


def three(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor],
          c: Optional[torch.Tensor]) -> torch.Tensor:
    if a is not None:
        x = x + a
    if b is not None:
        x = x * b
    if c is not None:
        x = x - c
    return x


def branch_only(x: torch.Tensor, flag: bool, a: Optional[torch.Tensor]) -> torch.Tensor:
    if flag:
        if a is not None:
            x = x + a
    return x


def test_graph_without_optional_inputs_is_unchanged():
    fn = script_fresh(no_optional)
    x = torch.randn(3)
    with torch_optspec.enabled():
        g_on = run_and_get_plan(fn, x, x)
    fn_off = script_fresh(no_optional)
    g_off = run_and_get_plan(fn_off, x, x)
    FileCheck().check_not(GUARD).run(str(g_on))
    assert [n.kind() for n in g_on.nodes()] == [n.kind() for n in g_off.nodes()]
    s = torch_optspec.stats()
    assert s["graphs_seen"] == 1 and s["graphs_specialized"] == 0


def test_only_conclusive_inputs_are_specialized():
    fn = script_fresh(three)
    x, t = torch.randn(3), torch.randn(3)
    with torch_optspec.enabled(), torch.no_grad():
        # Profile two runs: a is always a tensor, b always None, c both.
        old = torch._C._jit_set_num_profiled_runs(2)
        try:
            fn(x, t, None, t)
            fn(x, t, None, None)
            fn(x, t, None, t)
            g = torch.jit.last_executed_optimized_graph()
        finally:
            torch._C._jit_set_num_profiled_runs(old)
    guard = guard_node(g)
    assert guard is not None, str(g)
    assert [v.debugName().split(".")[0] for v in guard.inputs()] == ["a", "b"]
    assert guard_pattern(guard) == [0, 1]
    inputs = list(g.inputs())
    fast = next(guard.output().uses()[0].user.blocks())
    assert checks_on(fast, inputs[1]) == [] and checks_on(fast, inputs[2]) == []
    # c keeps its check, branch and cast
    assert [n.kind() for n in checks_on(fast, inputs[3])] == ["prim::If", "prim::unchecked_cast"]
    s = torch_optspec.stats()
    assert s["inputs_tensor"] == 1 and s["inputs_none"] == 1
    assert s["skipped_mixed"] == 1
    with torch.no_grad():
        for c in (t, None):
            torch.testing.assert_close(fn(x, t, None, c), three(x, t, None, c))


def test_unreached_use_is_not_profiled_and_left_alone():
    fn = script_fresh(branch_only)
    x = torch.randn(3)
    with torch_optspec.enabled():
        g = run_and_get_plan(fn, x, False, x)
    FileCheck().check_not(GUARD).run(str(g))
    assert torch_optspec.stats()["skipped_not_profiled"] == 1
    with torch.no_grad():
        torch.testing.assert_close(fn(x, True, x), x + x)
