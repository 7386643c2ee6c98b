"""Stage 8b, emission barriers (csrc/passes/emission_barriers.cpp): stock
TorchScript's interpreter emits a single-output prim::Loop inline in its
user's inputs and can then move a value the loop body reads out of its
register on the first iteration. Plans made with the pass on get a no-op
after every loop, which keeps the loop where it stands."""
import contextlib
import pathlib
from typing import Optional, Tuple

import pytest
import torch
import torch.nn.functional as F

import torch_optspec
from helpers.graphs import script_fresh

BARRIER = "torch_optspec::emission_barrier"

# Two loops in a row; the first one's body uses the second one's trip count
# (the graph of tests/ir/emission_barriers/loop_chain.ir).
_IR_TEXT = (pathlib.Path(__file__).parent / "ir" / "emission_barriers" / "loop_chain.ir").read_text()
LOOP_CHAIN = _IR_TEXT[_IR_TEXT.index("graph("):]


@contextlib.contextmanager
def executor_optimize(on: bool):
    old = torch._C._get_graph_executor_optimize()
    torch._C._set_graph_executor_optimize(on)
    try:
        yield
    finally:
        torch._C._set_graph_executor_optimize(old)


def as_function(graph):
    return torch._C._create_function_from_graph("loop_chain", graph)


def test_stage_keeps_the_trip_count_of_a_nested_loop():
    """Stock fails on the graph as it is; with the barriers it computes a*b + a."""
    with executor_optimize(False):  # the graph runs as it is
        stock = as_function(torch._C.parse_ir(LOOP_CHAIN))
        # stock TorchScript: the register of %a is empty on %s0's 2nd iteration
        with pytest.raises(RuntimeError, match="expected int"):
            stock(1, 2)
        graph, line = torch_optspec._C._run_stage(
            "emission_barriers", torch._C.parse_ir(LOOP_CHAIN), [])
        assert line == "inserted=3"
        fixed = as_function(graph)
        for a, b in [(1, 2), (0, 3), (2, 2), (3, 5)]:
            assert fixed(a, b) == a * b + a


def int_helper(y: torch.Tensor, v: Optional[int]) -> torch.Tensor:
    if v is None:
        return y - 0.5
    for i in range(v):
        y = y * 0.75 + 0.125
    return y


def counted_loops(x: torch.Tensor, o: Optional[torch.Tensor],
                  n: Optional[int]) -> Tuple[torch.Tensor, int]:
    # fuzz case 13002887 (tests/fuzz/regressions/), trimmed
    y = x * 0.5
    n = n if n is not None else 2
    if o is not None:
        y = y + o
    y = F.scaled_dot_product_attention(y, y, y)
    for _ in range(n):
        y = int_helper(y, n)
    for _ in range(n):
        y = y * float(n + 1)
    y = int_helper(y, n)
    return y, n


def test_value_site_fallback_with_unrolled_loops_runs(nnc_cpu):
    """The value site fixes n=None; the function compiled for it is profiled
    unfused on its first call, with the loop chains unrolling made. Before
    the barriers that call raised stock's 'expected int' (the fuzz case)."""
    x, o = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    off = script_fresh(counted_loops)
    with torch.no_grad(), torch_optspec.enabled(False):
        expected = [off(x, o, None) for _ in range(10)]
    assert torch_optspec.stats()["emission_barriers"] == 0  # pass off: stock plans
    on = script_fresh(counted_loops)
    with torch.no_grad(), torch_optspec.enabled():
        got = [on(x, o, None) for _ in range(10)]
    eager = counted_loops(x, o, None)
    for (y_on, n_on), (y_off, n_off) in zip(got, expected):
        assert n_on == n_off == eager[1] == 2
        torch.testing.assert_close(y_on, y_off)
        torch.testing.assert_close(y_on, eager[0])
    s = torch_optspec.stats()
    assert s["value_sites"] == 1 and s["inputs_none"] >= 1, s  # n: None
    assert s["emission_barriers"] > 0, s


def loops(x: torch.Tensor, n: int) -> torch.Tensor:
    y = x
    for _ in range(n):
        y = y * 2.0
    return y + 1.0


def test_barriers_only_in_plans_made_with_the_pass_on():
    x = torch.randn(3)
    for enabled in (False, True):
        fn = script_fresh(loops)
        with torch.no_grad(), torch_optspec.enabled(enabled):
            for _ in range(3):
                fn(x, 3)
        plan = torch.jit.last_executed_optimized_graph()
        assert (BARRIER in str(plan)) == enabled, plan
        for node in plan.findAllNodes("prim::Loop"):
            nodes = list(node.owningBlock().nodes())
            after = nodes[nodes.index(node) + 1].kind() if node is not nodes[-1] else None
            assert (after == BARRIER) == enabled, plan


def test_loop_free_models_get_no_barriers():
    """torch.nn attention has branches but no loop (ModuleList iteration is
    unrolled when scripting): its plans stay as they were before stage 8b."""
    torch.manual_seed(0)
    encoder = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 2,
        enable_nested_tensor=False).eval()
    x = torch.randn(2, 5, 16)
    kpm = torch.zeros(2, 5, dtype=torch.bool)
    kpm[:, 3:] = True
    scripted = torch.jit.freeze(torch.jit.script(encoder))
    with torch.no_grad(), torch_optspec.enabled():
        for _ in range(8):
            out = scripted(x, None, kpm)
        expected = encoder(x, None, kpm)
    torch.testing.assert_close(out, expected)
    s = torch_optspec.stats()
    assert s["graphs_specialized"] > 0 and s["emission_barriers"] == 0, s
    assert BARRIER not in str(torch.jit.last_executed_optimized_graph())
