"""Edge cases through the executor (docs/reliability.md): an Optional use
profiling never reached, an Optional input also returned, inputs requiring
grad (the autodiff path), 40 Optional inputs, enabling after compilation,
odd idioms of None checks. Every result equals eager."""
import random

import pytest
import torch

import torch_optspec
from helpers.programs import (FOUR, FOUR_SHAPES, assert_same, clones, import_source, optional_args,
                              specialized_in)


def test_optional_use_that_profiling_never_reached(tmp_path):
    """The uses of `b` sit in a branch the profiled calls never took: its
    profile nodes saw nothing, so it is not specialized; later calls that take
    the branch, with b present or None, are still correct."""
    src = """
def fn(x: torch.Tensor, flag: bool, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    y = x * 3.0
    if a is not None:
        y = y + a
    if flag:
        if b is not None:
            y = y - b
        else:
            y = y * 0.5
    return y
"""
    mod = import_source(tmp_path, src)
    fn = torch.jit.script(mod.fn)
    x, a, b = torch.randn(4), torch.randn(4), torch.randn(4)
    with torch.no_grad(), torch_optspec.enabled():
        for _ in range(4):
            assert_same(fn(x, False, a, None), mod.fn(x, False, a, None))
        assert specialized_in(torch.jit.last_executed_optimized_graph())
        assert torch_optspec.stats()["skipped_not_profiled"] >= 1
        for flag, bb in [(True, b), (True, None), (False, b), (True, b)] * 3:
            assert_same(fn(x, flag, a, bb), mod.fn(x, flag, a, bb))


def test_optional_input_that_is_also_returned(tmp_path):
    src = """
def fn(x: torch.Tensor, a: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    if a is not None:
        a.mul_(2.0)
        return x + a, a, a
    return x, a, None
"""
    mod = import_source(tmp_path, src)
    fn = torch.jit.script(mod.fn)
    x = torch.randn(3)
    with torch.no_grad(), torch_optspec.enabled():
        for pattern in [0, 0, 0, 1, 1, 1, 0, 1, 0]:
            a = None if pattern else torch.randn(3)
            a_ref = None if a is None else a.clone()
            out, ref = fn(x, a), mod.fn(x, a_ref)
            assert_same(out, ref)
            assert_same(a, a_ref)
            if a is not None:
                assert out[1] is a and out[2] is a  # the caller's tensor itself
            else:
                assert out[1] is None
    assert torch_optspec.stats()["graphs_specialized"] >= 1


def test_requires_grad_inputs_autodiff_path(tmp_path):
    """With inputs that require grad the executor takes the autodiff path (the
    pass does not run there): outputs and gradients equal eager for every
    None-pattern, also after no-grad calls specialized the same function."""
    src = """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    y = torch.tanh(x) * 2.0
    if a is not None:
        y = y * a
    y = torch.nn.functional.linear(y, torch.ones(4, 4) * 0.5, b)
    return y.sigmoid()
"""
    mod = import_source(tmp_path, src)
    fn = torch.jit.script(mod.fn)
    patterns = [(0, 0), (1, 0), (0, 1), (1, 1)]
    with torch_optspec.enabled():
        with torch.no_grad():
            for p in [(0, 1)] * 3:
                fn(torch.randn(2, 4), *optional_args(p, [[4], [4]], 1))
        assert torch_optspec.stats()["graphs_specialized"] >= 1
        for step in range(16):
            p = patterns[step % 4]
            opts = optional_args(p, [[4], [4]], step)
            opts = [o.requires_grad_(True) if o is not None else None for o in opts]
            opts_ref = [o.detach().clone().requires_grad_(True) if o is not None else None for o in opts]
            x = torch.randn(2, 4, requires_grad=True)
            x_ref = x.detach().clone().requires_grad_(True)
            out, ref = fn(x, *opts), mod.fn(x_ref, *opts_ref)
            torch.testing.assert_close(out, ref)
            out.sum().backward()
            ref.sum().backward()
            torch.testing.assert_close(x.grad, x_ref.grad)
            for o, r in zip(opts, opts_ref):
                if o is not None:
                    torch.testing.assert_close(o.grad, r.grad)


def test_module_with_40_optional_inputs(tmp_path):
    n = 40
    params = ", ".join(f"o{i}: Optional[torch.Tensor] = None" for i in range(n))
    body = "\n".join(
        f"        if o{i} is not None:\n            y = y {'+-*'[i % 3]} o{i}" for i in range(n))
    src = f"""
class Many(torch.nn.Module):
    def forward(self, x: torch.Tensor, {params}) -> torch.Tensor:
        y = x * 1.0
{body}
        return y
"""
    mod = import_source(tmp_path, src)
    eager, scripted = mod.Many(), torch.jit.script(mod.Many())
    rng = random.Random(3)
    patterns = [tuple(rng.random() < 0.5 for _ in range(n)) for _ in range(3)]
    x = torch.randn(5)
    with torch.no_grad(), torch_optspec.enabled():
        for step in range(40):
            p = patterns[(step // 4) % 3] if step < 24 else rng.choice(patterns)
            opts = optional_args(p, [[5]] * n, step)
            assert_same(scripted(x, *opts), eager(x, *opts))
        graph = torch.jit.last_executed_optimized_graph()
    stats = torch_optspec.stats()
    assert stats["graphs_specialized"] >= 1 and stats["graphs_rejected"] == 0
    assert stats["inputs_none"] + stats["inputs_tensor"] >= n
    # one guard node checks all 40 inputs
    assert specialized_in(graph) or any(specialized_in(g) for g in torch_optspec._C._fallback_plans(graph))


def test_enabling_after_the_model_was_compiled(tmp_path):
    mod = import_source(tmp_path, FOUR)
    eager, scripted = mod.Four(), torch.jit.script(mod.Four())
    x = torch.randn(3, 4)
    p = (0, 1, 0, 1)
    opts = optional_args(p, FOUR_SHAPES, 0)
    with torch.no_grad():
        for _ in range(3):
            assert_same(scripted(x, *clones(opts)), eager(x, *clones(opts)))
        assert not specialized_in(torch.jit.last_executed_optimized_graph())
        torch_optspec.enable()
        # The compiled plan stays as it was (documented), and correct.
        for _ in range(3):
            assert_same(scripted(x, *clones(opts)), eager(x, *clones(opts)))
        assert not specialized_in(torch.jit.last_executed_optimized_graph())
        assert torch_optspec.reset_plans(scripted) >= 1
        for _ in range(3):
            assert_same(scripted(x, *clones(opts)), eager(x, *clones(opts)))
        assert specialized_in(torch.jit.last_executed_optimized_graph())
        q = (1, 0, 1, 0)
        opts_q = optional_args(q, FOUR_SHAPES, 1)
        for _ in range(3):
            assert_same(scripted(x, *clones(opts_q)), eager(x, *clones(opts_q)))


ODD_IDIOMS = {
    "isinstance": """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        x = x + a
    return x if b is None else x * b
""",
    "unwrap_optional": """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    if a is not None and b is not None:
        return torch.jit._unwrap_optional(a) + b
    return x
""",
    "list_of_optionals": """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    items = torch.jit.annotate(List[Optional[torch.Tensor]], [a, b, a])
    for t in items:
        if t is not None:
            x = x + t
    return x
""",
    "or_condition": """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    if a is None or b is None:
        return x - 1.0
    return x + a * b
""",
    "reassigned_then_none": """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    if a is not None:
        x = x + a
        a = None
    if a is None and b is not None:
        a = b
    if a is not None:
        x = x * a
    return x
""",
    "optional_returned_from_loop": """
def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
    cur = a
    for i in range(3):
        if cur is not None:
            x = x + cur
        cur = b if i == 0 else cur
    return x
""",
}


@pytest.mark.parametrize("name", sorted(ODD_IDIOMS))
def test_odd_idioms_through_the_executor(tmp_path, name):
    mod = import_source(tmp_path, ODD_IDIOMS[name])
    fn = torch.jit.script(mod.fn)
    x = torch.randn(4)
    order = [(0, 0)] * 3 + [(1, 0)] * 3 + [(0, 1), (1, 1), (0, 0), (1, 0), (1, 1), (0, 1)] * 2
    with torch.no_grad(), torch_optspec.enabled():
        for i, p in enumerate(order):
            opts = optional_args(p, [[4], [4]], i)
            assert_same(fn(x, *opts), mod.fn(x, *opts))
    assert torch_optspec.stats()["graphs_rejected"] == 0
