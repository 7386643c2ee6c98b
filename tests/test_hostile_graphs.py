"""Graphs the pass does not understand (docs/reliability.md): ill-typed,
unknown-op, loop-carried, returned-directly and prim::Uninitialized graphs
under every plan are left unchanged or lint; bad plans raise instead of
crashing."""
import itertools

import pytest
import torch

import torch_optspec
from helpers.programs import GUARD


HOSTILE_IR = {
    # an aten op that takes a Tensor, given a Tensor? (no operator matches)
    "ill_typed_use": """
graph(%x : Tensor, %o : Tensor?):
  %one : int = prim::Constant[value=1]()
  %y : Tensor = aten::add(%x, %o, %one)
  return (%y)
""",
    "returned_directly": """
graph(%o : Tensor?, %p : Tensor?):
  return (%o, %p)
""",
    "loop_carried": """
graph(%x : Tensor, %o : Tensor?):
  %n : int = prim::Constant[value=3]()
  %true : bool = prim::Constant[value=1]()
  %r : Tensor? = prim::Loop(%n, %true, %o)
    block0(%i : int, %acc : Tensor?):
      %none : NoneType = prim::Constant()
      %c : bool = aten::__is__(%acc, %none)
      %next : Tensor? = prim::If(%c)
        block0():
          -> (%x)
        block1():
          -> (%acc)
      -> (%true, %next)
  return (%r)
""",
    "unknown_op_reads_it": """
graph(%x : Tensor, %o : Tensor?):
  %y : Tensor = my_ns::not_an_operator(%x, %o)
  return (%y)
""",
    "uninitialized_and_unchecked_cast": """
graph(%x : Tensor, %o : Tensor?):
  %u : Tensor = prim::Uninitialized()
  %none : NoneType = prim::Constant()
  %c : bool = aten::__isnot__(%o, %none)
  %r : Tensor = prim::If(%c)
    block0():
      %t : Tensor = prim::unchecked_cast(%o)
      -> (%t)
    block1():
      -> (%u)
  return (%r)
""",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_IR))
def test_graphs_the_pass_does_not_understand_are_left_alone(name):
    """Every plan on odd graphs: the result is either the graph unchanged
    (the driver's outcome says "rejected" when the candidate failed
    verification) or a graph that lints; nothing crashes."""
    text = HOSTILE_IR[name]
    outcomes = []
    for pattern in itertools.product(["", "none", "tensor"], repeat=2):
        graph = torch._C.parse_ir(text)
        opt_inputs = [i for i, v in enumerate(graph.inputs()) if str(v.type()) == "Optional[Tensor]"]
        plan = [""] * len(list(graph.inputs()))
        for k, i in enumerate(opt_inputs):
            plan[i] = pattern[k % len(pattern)]
        before = str(graph)
        words = ",".join(p or "skip" for p in plan)
        result, outcome = torch_optspec._C._run_stage("specialize_inputs", graph, [words])
        torch._C._jit_pass_lint(result)
        if GUARD not in str(result):
            assert str(result) == before
            assert not outcome.startswith("specialized")
        else:
            assert outcome == "specialized"
        outcomes.append(outcome)
    if name in ("ill_typed_use", "unknown_op_reads_it"):
        assert any(o.startswith("rejected") for o in outcomes), outcomes


def test_bad_plans_raise_instead_of_crashing():
    graph = torch._C.parse_ir(HOSTILE_IR["ill_typed_use"])
    with pytest.raises(RuntimeError, match="entries"):
        torch_optspec._C._specialize_with_pattern(graph, ["none"])
    with pytest.raises(RuntimeError, match="not Optional"):
        torch_optspec._C._specialize_with_pattern(graph, ["tensor", "none"])
    with pytest.raises(RuntimeError, match="pattern entries"):
        torch_optspec._C._specialize_with_pattern(graph, ["", "maybe"])
