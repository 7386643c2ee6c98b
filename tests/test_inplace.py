"""In-place updates of an Optional input stay visible to the caller, and
results are identical to the unspecialized graph."""
from typing import Optional

import torch

import torch_optspec
from helpers.graphs import block_text, guard_fast_block, guard_patterns, run_and_get_plan, script_fresh


def bump(x: torch.Tensor, acc: Optional[torch.Tensor]) -> torch.Tensor:
    if acc is not None:
        acc.add_(x)          # result unused: only the mutation is observable
    return x * 2


def bump_and_use(x: torch.Tensor, acc: Optional[torch.Tensor]) -> torch.Tensor:
    if acc is not None:
        acc.mul_(2)
        return acc + x
    return x


def test_inplace_update_of_unused_result_is_kept():
    fn = script_fresh(bump)
    x = torch.ones(3)
    acc = torch.zeros(3)
    with torch_optspec.enabled(), torch.no_grad():
        for _ in range(5):
            fn(x, acc)
        g = torch.jit.last_executed_optimized_graph()
    assert guard_patterns(g) == [[0]]
    assert "aten::add_" in block_text(guard_fast_block(g))
    torch.testing.assert_close(acc, torch.full((3,), 5.0))


def test_inplace_update_then_read(nnc_cpu):
    fn = script_fresh(bump_and_use)
    x = torch.ones(3)
    acc_on, acc_ref = torch.ones(3), torch.ones(3)
    with torch_optspec.enabled(), torch.no_grad():
        for _ in range(4):
            out = fn(x, acc_on)
            ref = bump_and_use(x, acc_ref)
            torch.testing.assert_close(out, ref)
        g = torch.jit.last_executed_optimized_graph()
    assert guard_patterns(g) == [[0]]
    torch.testing.assert_close(acc_on, acc_ref)
    torch.testing.assert_close(acc_on, torch.full((3,), 16.0))


def test_returned_optional_is_the_same_object():
    def ident(x: torch.Tensor, m: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if m is not None:
            return m
        return None

    fn = script_fresh(ident)
    m = torch.ones(2)
    with torch_optspec.enabled():
        g = run_and_get_plan(fn, m, m)
        with torch.no_grad():
            assert fn(m, m) is m
            assert fn(m, None) is None
    assert guard_patterns(g)[0] == [0]


LIST_ELEMENT_UPDATES = '''
import torch
from typing import List, Optional


def literal_list(x: torch.Tensor):
    y = x * 0.5
    states = [y * 0.5]
    for h in states:
        h.add_(0.25)
    return y + torch.stack(states).mean(0)


def none_made_literal(x: torch.Tensor, states: Optional[List[torch.Tensor]]):
    y = x * 0.5
    if states is None:
        states = [y * 0.5]
    for h in states:
        h.add_(0.25)
    for h in states:
        h.add_(0.25)
    return y + torch.stack(states).mean(0)
'''


def test_updates_of_list_elements_survive(tmp_path):
    """An in-place update of a literal list's element, read later through
    the list: stock TorchScript drops the update once loop unrolling has made
    the loop straight-line code (its dead-code elimination does not see a
    write to an element as a write to the list), from the first optimized
    call on. The pass keeps it (element_writes.cpp). It also makes such lists
    itself: `states` learned to be None (fuzz case 19000433)."""
    import importlib.util
    x = torch.randn(2, 3)

    def run(name, args, on):
        # a module of its own per run: scripted functions are cached per
        # Python function, plans and all
        path = tmp_path / f"list_updates_{name}_{int(on)}.py"
        path.write_text(LIST_ELEMENT_UPDATES)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fn = getattr(mod, name)
        s = torch.jit.script(fn)
        with torch.no_grad(), torch_optspec.enabled(on):
            return [torch.equal(s(*args), fn(*args)) for _ in range(8)]

    stock = run("literal_list", (x,), False)
    assert stock[0] and not all(stock), stock  # the stock bug this works around
    assert all(run("literal_list", (x,), True))
    assert all(run("none_made_literal", (x, None), True))
