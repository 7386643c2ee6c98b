"""Stage 8: NNC groups without inputs in specialized graphs are un-fused.

Specializing an Optional to None can fold a loop-carried accumulator to
constants; NNC then fuses ops on those constants into a group with no inputs,
which torch 2.13 computes wrongly on CPU (tools/nnc_constant_group_repro.py,
no plugin). The pass must not expose that."""
from typing import Optional

import torch

import torch_optspec
from helpers.graphs import all_plans, guard_patterns, nodes, script_fresh


def acc_loop(x: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    y = x * 0.5
    acc = o
    for _ in range(2):
        if acc is None:
            acc = torch.zeros(3, 3)
        else:
            acc = acc * 0.5 + 1.0
    if acc is not None:
        y = y + acc.mean()
    return y


def inputless_groups(graph):
    return [n for plan in all_plans(graph) for n in nodes(plan, recurse_subgraphs=False)
            if n.kind() == "prim::TensorExprGroup" and n.inputsSize() == 0]


def test_inputless_group_is_unfused_and_results_stay_right(nnc_cpu):
    fn = script_fresh(acc_loop)
    x = torch.zeros(2)
    with torch.no_grad(), torch_optspec.enabled():
        for _ in range(5):
            torch.testing.assert_close(fn(x, None), acc_loop(x, None))
        g = torch.jit.last_executed_optimized_graph()
    assert guard_patterns(g) == [[1]]
    assert inputless_groups(g) == []


def test_graphs_not_specialized_are_left_as_stock(nnc_cpu):
    """Pass on but nothing to specialize (no Optional input): the stock plan,
    input-less group included, is untouched."""
    def no_optional(x: torch.Tensor) -> torch.Tensor:
        y = x * 0.5
        acc = torch.zeros(3, 3)
        for _ in range(2):
            acc = acc * 0.5 + 1.0
        return y + acc.mean()

    fn_on, fn_off = script_fresh(no_optional), script_fresh(no_optional)
    x = torch.zeros(2)
    with torch.no_grad():
        with torch_optspec.enabled():
            for _ in range(4):
                fn_on(x)
            g_on = torch.jit.last_executed_optimized_graph()
        for _ in range(4):
            fn_off(x)
        g_off = torch.jit.last_executed_optimized_graph()
    assert len(inputless_groups(g_off)) >= 1  # stock forms one here
    assert len(inputless_groups(g_on)) == len(inputless_groups(g_off))
