"""The fuser-safety stage (csrc/passes/fuser_safety.cpp) changes no result.

Its rewrites replace nodes oneDNN Graph's bridge mishandles by nodes that run
the same ATen kernels; here, without any fuser:
  - the replacement ops against the ops they replace, bit for bit, over
    dtypes, broadcast shapes, scalar operands, alpha, rounding modes and
    special values (-0.0, inf, nan);
  - layer_norm with None weight/bias against the ones/zeros fill and
    aten::native_layer_norm;
  - whole profiled graphs (the profiling executor's own, taken after the
    first call) with and without the stage, run by the interpreter, with each
    kind of rewrite present (checked), on inputs including the patterns the
    profiling run never saw.
The oneDNN Graph side (stock fails, the pass runs): tests/test_onednn_safety.py.
"""
import itertools
from typing import Optional

import pytest
import torch
import torch.nn.functional as F

import torch_optspec
from helpers.graphs import script_fresh

ops = torch.ops.torch_optspec


def bits_equal(a, b):
    """Same dtype, shape, strides and bits (so -0.0 != 0.0, nan payloads compared)."""
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(bits_equal(x, y) for x, y in zip(a, b))
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return a == b
    if a.dtype != b.dtype or a.shape != b.shape or a.stride() != b.stride():
        return False
    if a.dtype.is_floating_point:
        view = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
        return torch.equal(a.contiguous().view(view), b.contiguous().view(view))
    return torch.equal(a, b)


def outcome(fn, *args, **kwargs):
    """The result, or the exception type and message."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001
        return (type(e).__name__, str(e).splitlines()[0])


def special(shape, dtype):
    t = torch.randn(shape) * 3
    flat = t.view(-1)
    flat[:4] = torch.tensor([-0.0, float("inf"), float("nan"), 0.0])[: flat.numel()]
    if dtype.is_floating_point:
        return t.to(dtype)
    if dtype == torch.bool:
        return t > 0
    return (t * 10).to(dtype)


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.int64, torch.int32,
          torch.bool]
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)),
          ((2, 3), ())]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_replacement_binary_ops_are_bitwise_the_same(dtype):
    torch.manual_seed(0)
    checked = 0
    for (sa, sb), other_dtype in itertools.product(SHAPES, [dtype, torch.float32, torch.int64]):
        a, b = special(sa, dtype), special(sb, other_dtype)
        pairs = [
            (outcome(ops.add, a, b), outcome(torch.add, a, b)),
            (outcome(ops.add, a, b, alpha=2), outcome(torch.add, a, b, alpha=2)),
            (outcome(ops.add, a, b, alpha=0.5), outcome(torch.add, a, b, alpha=0.5)),
            (outcome(torch.multiply, a, b), outcome(torch.mul, a, b)),
            (outcome(torch.divide, a, b), outcome(torch.div, a, b)),
            (outcome(torch.divide, a, b, rounding_mode="floor"),
             outcome(torch.div, a, b, rounding_mode="floor")),
            (outcome(torch.divide, a, b, rounding_mode="trunc"),
             outcome(torch.div, a, b, rounding_mode="trunc")),
        ]
        for scalar in (0, 1, 2, 0.5, -0.0, 1e10):
            pairs += [
                (outcome(ops.add, a, scalar), outcome(torch.add, a, scalar)),
                (outcome(ops.add, a, scalar, 3), outcome(torch.add, a, scalar, alpha=3)),
                (outcome(torch.multiply, a, scalar), outcome(torch.mul, a, scalar)),
                (outcome(torch.divide, a, scalar), outcome(torch.div, a, scalar)),
            ]
        for got, want in pairs:
            assert bits_equal(got, want), (dtype, sa, sb, other_dtype, got, want)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.int64],
                         ids=str)
def test_replacement_in_place_ops_are_bitwise_the_same(dtype):
    torch.manual_seed(0)
    for sa, sb in [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((3,), ())]:
        base, other = special(sa, dtype), special(sb, dtype)
        for alpha in (1, 2):
            x, y = base.clone(), base.clone()
            r1, r2 = outcome(ops.add_, x, other, alpha=alpha), outcome(y.add_, other, alpha=alpha)
            assert bits_equal(x, y) and (r1 is x) == (r2 is y)
        x, y = base.clone(), base.clone()
        ops.add_(x, 3)
        y.add_(3)
        assert bits_equal(x, y)
        x, y = base.clone(), base.clone()
        assert x.multiply_(other) is x and bits_equal(x, y.mul_(other))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_replacement_silu_and_linear_are_bitwise_the_same(dtype):
    torch.manual_seed(0)
    x = special((2, 5, 8), dtype)
    assert bits_equal(ops.silu(x), F.silu(x))
    w, b = torch.randn(3, 8).to(dtype), torch.randn(3).to(dtype)
    assert bits_equal(ops.linear(x, w, b), F.linear(x, w, b))
    assert bits_equal(ops.linear(x, w, None), F.linear(x, w, None))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_layer_norm_fill_and_native_layer_norm_are_bitwise_the_same(dtype):
    """The fill (None weight -> ones, None bias -> zeros, of the input's
    dtype) and aten::native_layer_norm compute layer_norm's bits. (A None
    weight with a bias is not filled: ATen rounds that case differently.)"""
    torch.manual_seed(0)
    for shape, norm in [((2, 3, 4), [4]), ((2, 3, 768), [768]), ((8, 33), [33]), ((5, 1), [1]),
                        ((2, 3, 4), [3, 4]), ((4, 17, 3), [17, 3])]:
        x = (torch.randn(shape) * 3 + 1).to(dtype)
        x.view(-1)[0] = -0.0
        ones, zeros = torch.ones(norm, dtype=dtype), torch.zeros(norm, dtype=dtype)
        w, b = torch.randn(norm).to(dtype), torch.randn(norm).to(dtype)
        for strided in (False, True):
            xi = x.transpose(0, -1).contiguous().transpose(0, -1) if strided and x.dim() > 1 else x
            assert bits_equal(F.layer_norm(xi, norm, ones, zeros), F.layer_norm(xi, norm, None, None))
            assert bits_equal(F.layer_norm(xi, norm, w, zeros), F.layer_norm(xi, norm, w, None))
            for wa, ba in [(None, None), (w, None), (None, b), (w, b)]:
                native = torch.native_layer_norm(xi, norm, wa, ba, 1e-5)[0]
                assert bits_equal(native, F.layer_norm(xi, norm, wa, ba, 1e-5))


# ---- whole profiled graphs, with and without the stage ----------------------


def profiled(fn, *args):
    """The graph of the profiling run (prim::profile nodes with the types
    seen), without the run counter (a prim::profile without outputs), as the
    executor hands it to the optimization passes."""
    with torch.no_grad():
        fn(*args)
    graph = torch.jit.last_executed_optimized_graph().copy()
    for n in graph.findAllNodes("prim::profile"):
        if len(list(n.outputs())) == 0:
            n.destroy()
    return graph


def strip_profiles(graph):
    def walk(block):
        for n in list(block.nodes()):
            for b in n.blocks():
                walk(b)
            if n.kind() == "prim::profile":
                n.output().replaceAllUsesWith(n.input())
                n.destroy()
    walk(graph.block())
    return graph


def with_and_without_stage(graph):
    safe, line = torch_optspec._C._run_stage("fuser_safety", graph.copy(), [])
    return strip_profiles(graph.copy()), strip_profiles(safe), line


def kinds(graph):
    out = []

    def walk(block):
        for n in block.nodes():
            out.append(n.kind())
            for b in n.blocks():
                walk(b)
    walk(graph.block())
    return out


def branchy(y: torch.Tensor, m: Optional[torch.Tensor], n: torch.Tensor, s: torch.Tensor):
    y = y * 0.5
    if m is not None:
        y = y + m * 2.0          # never profiled: renamed
        y = y / 3.0
        m.mul_(1.5)
        m.add_(y, alpha=2)
        y = torch.add(y, m, alpha=2)
    z = n * 0.5                  # int tensor * float: renamed
    u = s.sum() * 2.0 + 0        # 0-dim * scalar, identity: renamed
    v = y + s.double().sum()     # float + 0-dim double: renamed
    w = torch.relu(y) * s.sum()  # 0-dim operand at top level: renamed
    return y, z, u, v, w


def test_profiled_graph_with_never_profiled_branch_bitwise(tmp_path):
    fn = script_fresh(branchy)
    torch.manual_seed(0)
    graph = profiled(fn, torch.randn(2, 3), None, torch.arange(6), torch.randn(3))
    plain, safe, line = with_and_without_stage(graph)
    # the rewrites are there (the test is not vacuous)
    assert "binary=0 " not in line, line
    k = kinds(safe)
    assert {"aten::multiply", "aten::divide", "torch_optspec::add", "aten::multiply_",
            "torch_optspec::add_"} <= set(k), k
    for dtype, m_shape in [(torch.float32, (2, 3)), (torch.float64, (2, 3)),
                           (torch.bfloat16, (2, 3))]:
        for m_given in (False, True):
            torch.manual_seed(1)
            y = torch.randn(2, 3).to(dtype)
            m = torch.randn(m_shape).to(dtype) if m_given else None
            args = [y, m, torch.arange(6), torch.randn(3).to(dtype)]
            fresh = lambda: [a.clone() if isinstance(a, torch.Tensor) else a for a in args]  # noqa: E731
            a1, a2 = fresh(), fresh()
            r1 = torch._C._jit_interpret_graph(plain, tuple(a1))
            r2 = torch._C._jit_interpret_graph(safe, tuple(a2))
            assert bits_equal(r1, r2), (dtype, m_shape, m_given)
            assert bits_equal(a1, a2)  # the in-place updates too


class Norms(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(4))
        self.b = torch.nn.Parameter(torch.randn(4))

    def forward(self, x, o: Optional[torch.Tensor], v):
        a = F.layer_norm(x, [4], None, None)        # filled
        b = F.layer_norm(x, [4], self.w, None)      # filled
        c = F.layer_norm(x, [4], None, self.b)      # native_layer_norm
        d = F.layer_norm(x, x.shape[-1:], None, None)  # native_layer_norm
        e = F.layer_norm(x, [4], self.w, self.b) + x   # the add renamed
        f = F.silu(F.linear(x, self.w.expand(4, 4), o))  # linear renamed (o may be None)
        g = (torch.relu(x) + v) * v                      # the add renamed
        h = torch.matmul(x, self.w.expand(4, 4)) + self.b  # the add renamed (constant)
        return a, b, c, d, e, f, g, h


def test_profiled_module_graph_top_level_rewrites_bitwise():
    torch.manual_seed(0)
    m = torch.jit.freeze(torch.jit.script(Norms().eval()))
    x, v = torch.randn(2, 3, 4), torch.randn(4)
    # o seen both ways during profiling (2 runs): left Optional
    old = torch._C._jit_set_num_profiled_runs(2)
    try:
        with torch.no_grad():
            m(x, None, v)
            m(x, torch.randn(4), v)
        graph = torch.jit.last_executed_optimized_graph().copy()
    finally:
        torch._C._jit_set_num_profiled_runs(old)
    for n in graph.findAllNodes("prim::profile"):
        if len(list(n.outputs())) == 0:
            n.destroy()
    plain, safe, line = with_and_without_stage(graph)
    k = kinds(safe)
    assert "layer_norm_filled=2" in line and "layer_norm_native=2" in line, line
    assert "linear=1" in line and "torch_optspec::linear" in k, (line, k)
    assert k.count("torch_optspec::add") >= 3, k
    for o in (None, torch.randn(4)):
        for dtype in (torch.float32, torch.float64):
            args = (m._c, x.to(dtype), None if o is None else o.to(dtype), v.to(dtype)) \
                if list(plain.inputs())[0].type().kind() == "ClassType" else \
                (x.to(dtype), None if o is None else o.to(dtype), v.to(dtype))
            # float64 inputs with the float32 parameters: both raise the same
            # error; the (None, None) fill converts to the input's dtype
            r1 = outcome(torch._C._jit_interpret_graph, plain, args)
            r2 = outcome(torch._C._jit_interpret_graph, safe, args)
            assert bits_equal(r1, r2), (dtype, r1 if isinstance(r1, tuple) else "", r2)


class NoAffine(torch.nn.Module):
    def forward(self, x):
        return F.layer_norm(x * 2.0, [4], None, None), F.layer_norm(x, [2, 4], None, None)


def test_layer_norm_fill_follows_the_dtype_and_device_of_each_call():
    """The fill is converted to the input's dtype at run time: a call with
    another dtype than the profiled one computes what layer_norm(x, s, None,
    None) computes."""
    m = torch.jit.freeze(torch.jit.script(NoAffine().eval()))
    graph = profiled(m, torch.randn(3, 2, 4))
    plain, safe, line = with_and_without_stage(graph)
    assert "layer_norm_filled=2" in line, line
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        x = torch.randn(3, 2, 4).to(dtype)
        args = (m._c, x)
        assert bits_equal(torch._C._jit_interpret_graph(plain, args),
                          torch._C._jit_interpret_graph(safe, args)), dtype
