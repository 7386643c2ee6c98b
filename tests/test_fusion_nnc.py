"""End to end: the report's module (docs/report.md)
scripted unmodified, NNC on CPU, under torch.no_grad()."""
from typing import Optional

import torch
from torch.testing import FileCheck

import torch_optspec
from helpers.graphs import (GUARD, all_plans, checks_on, fast_graph, fusion_groups, guard_patterns,
                    none_checks, run_and_get_plan, script_fresh)


class ExampleModule(torch.nn.Module):
    def __init__(self, hidden_size, scale_factor):
        super().__init__()
        self.scale = int(hidden_size / scale_factor)

    def forward(self, inputs: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        tmp = inputs / self.scale
        if mask is not None:
            tmp = tmp + mask
        outputs = torch.nn.functional.softmax(tmp, dim=-1)
        return outputs


def example_inputs():
    torch.manual_seed(0)
    return torch.randn(2, 3, 4, 4), torch.randn(2, 1, 1, 4)


def mask_input(graph):
    return list(graph.inputs())[2]


def test_stock_torchscript_does_not_fuse_the_add(nnc_cpu):
    x, mask = example_inputs()
    m = script_fresh(ExampleModule(1024, 16))
    g = run_and_get_plan(m, x, mask)
    assert checks_on(g, mask_input(g)), "stock graph keeps the check on mask"
    assert all("aten::add" not in group for group in fusion_groups(g))
    FileCheck().check_not(GUARD).run(str(g))


def test_mask_present_fuses_div_add_softmax(nnc_cpu, fast_path_mode):
    x, mask = example_inputs()
    m = script_fresh(ExampleModule(1024, 16))
    with torch_optspec.enabled():
        g = run_and_get_plan(m, x, mask)
        out = m(x, mask)
    FileCheck().check(GUARD + "[pattern=[0]]").check("prim::If").run(str(g))
    fast = fast_graph(g)
    if fast_path_mode == "inline":
        assert checks_on(fast, mask_input(g)) == []
    assert none_checks(fast) == []
    assert fusion_groups(fast) == [["aten::add", "aten::div", "aten::softmax"]]
    torch.testing.assert_close(out, ExampleModule(1024, 16)(x, mask))
    s = torch_optspec.stats()
    assert s["graphs_specialized"] == 1 and s["inputs_tensor"] == 1
    assert s["guards_inserted"] == 1


def test_mask_none_gets_its_own_specialization(nnc_cpu, fast_path_mode):
    x, _ = example_inputs()
    m = script_fresh(ExampleModule(1024, 16))
    with torch_optspec.enabled():
        g = run_and_get_plan(m, x, None)
        out = m(x, None)
    FileCheck().check(GUARD + "[pattern=[1]]").run(str(g))
    fast = fast_graph(g)
    assert none_checks(fast) == []
    assert fusion_groups(fast) == [["aten::div", "aten::softmax"]]
    torch.testing.assert_close(out, ExampleModule(1024, 16)(x, None))
    assert torch_optspec.stats()["inputs_none"] == 1


def test_alternating_patterns_all_correct_and_both_specialized(nnc_cpu, fast_path_mode):
    x, mask = example_inputs()
    eager = ExampleModule(1024, 16)
    m = script_fresh(ExampleModule(1024, 16))
    with torch_optspec.enabled(), torch.no_grad():
        for i in range(10):
            arg = mask if i % 2 == 0 else None
            torch.testing.assert_close(m(x, arg), eager(x, arg), rtol=1e-6, atol=1e-6)
        g = torch.jit.last_executed_optimized_graph()
    patterns = sorted(guard_patterns(g))
    # One specialization with the mask present, one (in the fallback) with None.
    assert patterns == [[0], [1]], patterns
    s = torch_optspec.stats()
    assert s["inputs_tensor"] == 1 and s["inputs_none"] == 1
    # Each specialized plan fuses its whole body.
    for plan in all_plans(g):
        if any(n.kind() == GUARD for n in plan.nodes()):
            assert len(fusion_groups(fast_graph(plan))) == 1


def test_results_identical_with_pass_off(nnc_cpu, fast_path_mode):
    x, mask = example_inputs()
    on = script_fresh(ExampleModule(1024, 16))
    off = script_fresh(ExampleModule(1024, 16))
    with torch.no_grad():
        for arg in [mask, mask, mask, None, None, None, mask]:
            with torch_optspec.enabled():
                a = on(x, arg)
            b = off(x, arg)
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
