"""Frozen modules, and modules saved with torch.jit.save / loaded with
torch.jit.load, specialize like freshly scripted ones."""
import io

import torch

import torch_optspec
from helpers.graphs import fast_graph, fusion_groups, guard_patterns, none_checks, run_and_get_plan, script_fresh
from test_fusion_nnc import ExampleModule, example_inputs


def check_specialized(module, x, mask, expected_group):
    with torch_optspec.enabled():
        g = run_and_get_plan(module, x, mask)
        out = module(x, mask)
    fast = fast_graph(g)
    assert none_checks(fast) == []
    assert fusion_groups(fast) == [expected_group]
    torch.testing.assert_close(out, ExampleModule(1024, 16)(x, mask))


def test_frozen_module(nnc_cpu):
    x, mask = example_inputs()
    frozen = torch.jit.freeze(script_fresh(ExampleModule(1024, 16)).eval())
    check_specialized(frozen, x, mask, ["aten::add", "aten::div", "aten::softmax"])


def test_frozen_module_none(nnc_cpu):
    x, _ = example_inputs()
    frozen = torch.jit.freeze(script_fresh(ExampleModule(1024, 16)).eval())
    check_specialized(frozen, x, None, ["aten::div", "aten::softmax"])


def test_saved_and_loaded_module(nnc_cpu):
    x, mask = example_inputs()
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(ExampleModule(1024, 16)), buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    check_specialized(loaded, x, mask, ["aten::add", "aten::div", "aten::softmax"])


def test_saved_module_does_not_carry_the_specialization(nnc_cpu):
    """What is saved is the code, not the plan: a module saved after it ran
    specialized loads unspecialized and specializes again when enabled."""
    x, mask = example_inputs()
    m = script_fresh(ExampleModule(1024, 16))
    with torch_optspec.enabled():
        run_and_get_plan(m, x, mask)
    buf = io.BytesIO()
    torch.jit.save(m, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    g = run_and_get_plan(loaded, x, mask)  # pass off
    assert guard_patterns(g) == []
