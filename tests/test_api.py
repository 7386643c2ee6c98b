"""enable/disable/enabled() (global and per thread), what a plan compiled
while the pass was off or on keeps, reset_plans(), the fallback functions of
a plan, fresh_copy()."""
import threading
from typing import Optional

import pytest
import torch

import torch_optspec
from helpers.graphs import GUARD, guard_patterns, run_and_get_plan, script_fresh


def f(x: torch.Tensor, m: Optional[torch.Tensor] = None) -> torch.Tensor:
    if m is not None:
        x = x + m
    return x * 3


def test_enable_disable_is_enabled():
    assert not torch_optspec.is_enabled()
    torch_optspec.enable()
    assert torch_optspec.is_enabled()
    torch_optspec.disable()
    assert not torch_optspec.is_enabled()


def test_context_manager_restores_and_nests():
    with torch_optspec.enabled():
        assert torch_optspec.is_enabled()
        with torch_optspec.enabled(False):
            assert not torch_optspec.is_enabled()
            with torch_optspec.enabled():
                assert torch_optspec.is_enabled()
            assert not torch_optspec.is_enabled()
        assert torch_optspec.is_enabled()
    assert not torch_optspec.is_enabled()
    torch_optspec.enable()
    with torch_optspec.enabled(False):
        assert not torch_optspec.is_enabled()
    assert torch_optspec.is_enabled()


def test_context_manager_restores_on_exception():
    with pytest.raises(ValueError):
        with torch_optspec.enabled():
            raise ValueError("boom")
    assert not torch_optspec.is_enabled()


def test_context_manager_is_per_thread():
    barrier = threading.Barrier(2)
    seen = {}

    def inside():
        with torch_optspec.enabled():
            barrier.wait()   # both threads are now in their blocks
            seen["inside"] = torch_optspec.is_enabled()
            barrier.wait()

    def outside():
        barrier.wait()
        seen["outside"] = torch_optspec.is_enabled()
        barrier.wait()

    threads = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"inside": True, "outside": False}


def test_many_threads_nesting_concurrently():
    errors = []

    def worker(mode):
        try:
            for _ in range(200):
                with torch_optspec.enabled(mode):
                    assert torch_optspec.is_enabled() == mode
                    with torch_optspec.enabled(not mode):
                        assert torch_optspec.is_enabled() == (not mode)
                    assert torch_optspec.is_enabled() == mode
                assert torch_optspec.is_enabled() is False
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_disabled_pass_does_nothing():
    fn = script_fresh(f)
    g = run_and_get_plan(fn, torch.ones(2), torch.ones(2))
    assert GUARD not in str(g)
    assert torch_optspec.stats()["graphs_seen"] == 0


def test_plan_compiled_while_off_stays_until_reset_plans():
    fn = script_fresh(f)
    x = torch.ones(2)
    g = run_and_get_plan(fn, x, x)           # compiled with the pass off
    assert guard_patterns(g) == []
    with torch_optspec.enabled():
        g = run_and_get_plan(fn, x, x)       # same cached plan
        assert guard_patterns(g) == []
        assert torch_optspec.reset_plans(fn) == 1
        g = run_and_get_plan(fn, x, x)       # profiled and optimized again
    assert guard_patterns(g) == [[0]]


def test_plan_compiled_while_on_stays_after_disable():
    fn = script_fresh(f)
    x = torch.ones(2)
    with torch_optspec.enabled():
        run_and_get_plan(fn, x, x)
    g = run_and_get_plan(fn, x, x)
    assert guard_patterns(g) == [[0]]
    torch_optspec.reset_plans(fn)
    g = run_and_get_plan(fn, x, x)
    assert guard_patterns(g) == []


def test_reset_plans_on_module_covers_submodules():
    class Inner(torch.nn.Module):
        def forward(self, x: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:
            return f(x, m)

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def forward(self, x: torch.Tensor, m: Optional[torch.Tensor] = None) -> torch.Tensor:
            return self.inner(x, m)

    m = torch.jit.script(Outer())
    assert torch_optspec.reset_plans(m) == 2


def test_reset_plans_rejects_other_objects():
    with pytest.raises(TypeError, match="ScriptModule or ScriptFunction"):
        torch_optspec.reset_plans(f)


def test_fallback_functions_follow_the_state_of_their_plan():
    """The functions of a plan (the fallback for another pattern) are
    compiled when first called, maybe on another thread or under another
    scope: they are compiled under the state the plan was made with
    (register.cpp: pass_state markers). The plan is made in an enabled()
    scope; the other pattern comes from a thread without one (global off),
    and its fallback is still specialized."""
    fn = script_fresh(f)
    x = torch.ones(3)
    with torch.no_grad(), torch_optspec.enabled():
        plan = run_and_get_plan(fn, x, None)
    assert guard_patterns(plan) == [[1]]
    before = torch_optspec.stats()
    results = []

    def other_thread():
        with torch.no_grad():
            for _ in range(4):
                results.append(torch.equal(fn(x, x), f(x, x)))

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    after = torch_optspec.stats()
    assert results == [True] * 4
    assert not torch_optspec.is_enabled()
    assert after["graphs_specialized"] - before["graphs_specialized"] >= 1, (before, after)


def test_fresh_copy_is_an_independent_compiled_copy():
    """Scripted instances of one class share compiled methods and plans;
    torch_optspec.fresh_copy gives each variant its own (the A/B comparison
    the benchmarks make)."""
    from typing import Optional

    class M(torch.nn.Module):
        def forward(self, x, mask: Optional[torch.Tensor] = None):
            y = torch.tanh(x)
            if mask is not None:
                y = y * mask
            return y

    x, m = torch.randn(3), torch.rand(3)
    guard = GUARD

    def plan(model, on):
        with torch.no_grad(), torch_optspec.enabled(on):
            for _ in range(4):
                model(x, m)
        return str(torch.jit.last_executed_optimized_graph())

    # shared: the second instance gets the first one's plan
    a, b = torch.jit.script(M()), torch.jit.script(M())
    assert guard not in plan(a, False) and guard not in plan(b, True)
    # fresh copies: each its own plan
    off, on = torch_optspec.fresh_copy(M()), torch_optspec.fresh_copy(torch.jit.script(M()))
    assert guard not in plan(off, False)
    assert guard in plan(on, True)
    assert torch.equal(on(x, m), off(x, m))
