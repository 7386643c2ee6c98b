"""Stage 1: the profiling executor records Optional[Tensor] graph inputs
(seen_none, profiled_type) while the pass is enabled, and only then."""
from typing import Optional

import torch

import torch_optspec
from helpers.graphs import script_fresh


def f(x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    y = x * 2
    if mask is not None:
        y = y + mask
    return y


def profiled_graph(fn, *args):
    with torch.no_grad():
        fn(*args)  # first call: the profiling plan runs
    return torch.jit.last_executed_optimized_graph()


def optional_profiles(graph):
    mask = list(graph.inputs())[1]
    return [u.user for u in mask.uses() if u.user.kind() == "prim::profile"]


def test_enabled_profiles_the_optional_input():
    fn = script_fresh(f)
    with torch_optspec.enabled():
        g = profiled_graph(fn, torch.ones(2), None)
    profiles = optional_profiles(g)
    assert profiles, str(g)
    assert all(p.i("seen_none") == 1 for p in profiles[:1])


def test_tensor_seen_is_recorded_as_profiled_type():
    fn = script_fresh(f)
    with torch_optspec.enabled():
        g = profiled_graph(fn, torch.ones(2), torch.ones(2))
    p = optional_profiles(g)[0]
    assert p.i("seen_none") == 0
    assert p.ty("profiled_type").sizes() == [2]
    assert torch_optspec._C._describe_profiled_plan(g) == "(x.1: -, mask.1: Tensor)"


def test_disabled_adds_no_profiles():
    fn = script_fresh(f)
    g = profiled_graph(fn, torch.ones(2), torch.ones(2))
    assert optional_profiles(g) == []
