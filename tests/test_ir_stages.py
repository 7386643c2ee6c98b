"""System tests of the driver on parsed IR: the whole specialization (version,
refine, cleanup, outline) with a given plan, or the plan decided from profile
nodes, FileChecked. Each stage alone is tested by the IR files in tests/ir/
(tests/test_ir_files.py)."""
import pytest
import torch
from torch.testing import FileCheck

import torch_optspec
from helpers.graphs import GUARD, block_text, count

specialize = torch_optspec._C._specialize_with_pattern
describe = torch_optspec._C._describe_profiled_plan

REPORT_IR = """
graph(%self : int, %inputs : Tensor, %mask : Tensor?):
  %none : NoneType = prim::Constant()
  %one : int = prim::Constant[value=1]()
  %dim : int = prim::Constant[value=-1]()
  %tmp : Tensor = aten::div(%inputs, %self)
  %c : bool = aten::__isnot__(%mask, %none)
  %tmp2 : Tensor = prim::If(%c)
    block0():
      %m : Tensor = prim::unchecked_cast(%mask)
      %t3 : Tensor = aten::add(%tmp, %m, %one)
      -> (%t3)
    block1():
      -> (%tmp)
  %out : Tensor = aten::softmax(%tmp2, %dim, %none)
  return (%out)
"""


def parse(text):
    return torch._C.parse_ir(text)


# ---- decide -----------------------------------------------------------------

PROFILED_IR = """
graph(%x : Tensor, %a : Tensor?, %b : Tensor?, %c : Tensor?, %d : Tensor?, %e : Tensor?):
  %none : NoneType = prim::Constant()
  %pa : Tensor? = prim::profile[profiled_type=Float(2, strides=[1], requires_grad=0, device=cpu), seen_none=0](%a)
  %pb : Tensor? = prim::profile[profiled_type=Tensor, seen_none=1](%b)
  %pc : Tensor? = prim::profile[profiled_type=Float(2, strides=[1], requires_grad=0, device=cpu), seen_none=1](%c)
  %pd : Tensor? = prim::profile[profiled_type=Tensor, seen_none=0](%d)
  %ca : bool = aten::__isnot__(%pa, %none)
  %cb : bool = aten::__isnot__(%pb, %none)
  %cc : bool = aten::__isnot__(%pc, %none)
  %cd : bool = aten::__isnot__(%pd, %none)
  return (%ca, %cb, %cc, %cd)
"""


def test_decide_reads_seen_none_and_profiled_type():
    assert describe(parse(PROFILED_IR)) == (
        "(x: -, a: Tensor, b: None, c: skipped: saw None and Tensor, "
        "d: skipped: not profiled, e: skipped: unused)"
    )


def test_decide_merges_profiles_of_all_uses():
    g = parse("""
graph(%a : Tensor?):
  %none : NoneType = prim::Constant()
  %p1 : Tensor? = prim::profile[profiled_type=Tensor, seen_none=1](%a)
  %p2 : Tensor? = prim::profile[profiled_type=Float(2, strides=[1], requires_grad=0, device=cpu), seen_none=0](%a)
  %c1 : bool = aten::__isnot__(%p1, %none)
  %c2 : bool = aten::__isnot__(%p2, %none)
  return (%c1, %c2)
""")
    assert describe(g) == "(a: skipped: saw None and Tensor)"


# ---- version ----------------------------------------------------------------

def test_version_guards_the_pattern_and_keeps_a_fallback():
    g = specialize(parse(REPORT_IR), ["", "", "tensor"])
    FileCheck().check(GUARD + "[pattern=[0]](%mask").check("prim::If").check(
        "block0").check("block1").check("prim::FallbackGraph").check("return").run(str(g))
    # The fallback holds the original graph, check and branch included.
    fallback = [n for n in g.findAllNodes("prim::FallbackGraph")][0].g("Subgraph")
    FileCheck().check("aten::__isnot__").check("prim::If").check(
        "prim::unchecked_cast").run(str(fallback))


def test_version_slow_path_runs_inline_under_grad_and_falls_back_otherwise():
    g = specialize(parse(REPORT_IR), ["", "", "tensor"])
    slow = list(g.findNode("prim::If").blocks())[1]
    grad_if = [n for n in slow.nodes() if n.kind() == "prim::If"][0]
    assert grad_if.input().node().kind() == "aten::is_grad_enabled"
    inline_body, fallback = list(grad_if.blocks())
    FileCheck().check("aten::__isnot__").check("prim::If").check("aten::add").check(
        "aten::softmax").run(block_text(inline_body))
    assert [n.kind() for n in fallback.nodes()] == ["prim::FallbackGraph"]


def test_version_pattern_lists_only_specialized_inputs_in_order():
    g = parse("""
graph(%a : Tensor?, %b : Tensor?, %c : Tensor?):
  %none : NoneType = prim::Constant()
  %x : bool = aten::__isnot__(%a, %none)
  %y : bool = aten::__isnot__(%b, %none)
  %z : bool = aten::__isnot__(%c, %none)
  return (%x, %y, %z)
""")
    g = specialize(g, ["none", "", "tensor"])
    FileCheck().check(GUARD + "[pattern=[1, 0]](%a").check("%c").run(str(g))


# ---- refine + clean up --------------------------------------------------------

def test_tensor_refinement_folds_check_and_cast():
    g = specialize(parse(REPORT_IR), ["", "", "tensor"])
    fast = next(g.findNode("prim::If").blocks())
    assert count(fast, "aten::__isnot__") == 0
    assert count(fast, "prim::If") == 0
    FileCheck().check("prim::unchecked_cast(%mask").check("aten::div").check(
        "aten::add").check("aten::softmax").run(block_text(fast))


def test_none_refinement_removes_the_branch_and_the_add():
    g = specialize(parse(REPORT_IR), ["", "", "none"])
    fast = next(g.findNode("prim::If").blocks())
    assert count(fast, "prim::If") == 0
    assert count(fast, "aten::add") == 0
    assert count(fast, "prim::unchecked_cast") == 0
    FileCheck().check("aten::div").check("aten::softmax").run(block_text(fast))


def test_refine_retypes_optional_profiles_on_tensor_inputs():
    g = specialize(parse("""
graph(%mask : Tensor?):
  %none : NoneType = prim::Constant()
  %p : Tensor? = prim::profile[profiled_type=Float(2, strides=[1], requires_grad=0, device=cpu), seen_none=0](%mask)
  %c : bool = aten::__isnot__(%p, %none)
  return (%c)
"""), ["tensor"])
    fast = next(g.findNode("prim::If").blocks())
    # the check folded to True through the re-typed profile node
    FileCheck().check("prim::Constant[value=1]").check_not("aten::__isnot__").run(block_text(fast))


def test_refine_removes_profiles_on_none_inputs():
    g = specialize(parse("""
graph(%mask : Tensor?):
  %none : NoneType = prim::Constant()
  %p : Tensor? = prim::profile[profiled_type=Tensor, seen_none=1](%mask)
  %c : bool = aten::__isnot__(%p, %none)
  return (%c)
"""), ["none"])
    fast = next(g.findNode("prim::If").blocks())
    FileCheck().check("prim::Constant[value=0]").check_not("prim::profile").run(block_text(fast))


def test_tensor_optional_schema_arg_gets_none_constant():
    g = specialize(parse("""
graph(%x : Tensor, %w : Tensor, %b : Tensor?):
  %y : Tensor = aten::linear(%x, %w, %b)
  return (%y)
"""), ["", "", "none"])
    fast = next(g.findNode("prim::If").blocks())
    FileCheck().check("NoneType = prim::Constant").check("aten::linear").run(block_text(fast))


# ---- outline ----------------------------------------------------------------

def test_outline_moves_the_fast_path_into_a_function_of_its_own():
    g = specialize(parse(REPORT_IR), ["", "", "tensor"], outline=True)
    # refinement hoisted before the If; both branches are fallback graphs
    FileCheck().check(GUARD).check("prim::unchecked_cast(%mask").check("prim::If").check(
        "block0").check("prim::FallbackGraph").check("block1").check(
        "prim::FallbackGraph").run(str(g))
    fast_node = next(next(g.findNode("prim::If").blocks()).nodes())
    assert fast_node.kind() == "prim::FallbackGraph"
    fast = fast_node.g("Subgraph")
    # The function receives the refined mask as a Tensor and has no check left.
    assert sorted(i.type().kind() for i in fast.inputs()) == ["IntType", "TensorType", "TensorType"]
    assert count(fast, "aten::__isnot__") == 0 and count(fast, "prim::If") == 0


def test_outline_of_a_none_input_passes_nothing_for_it():
    g = specialize(parse(REPORT_IR), ["", "", "none"], outline=True)
    fast_node = next(next(g.findNode("prim::If").blocks()).nodes())
    assert [i.debugName().split(".")[0] for i in fast_node.inputs()] == ["inputs", "self"]


# ---- driver -------------------------------------------------------------------

def test_no_plan_leaves_graph_untouched():
    g = parse(REPORT_IR)
    before = str(g)
    assert str(specialize(g, ["", "", ""])) == before


def test_pattern_errors_are_clear():
    with pytest.raises(RuntimeError, match="pattern has 1 entries but the graph has 3"):
        specialize(parse(REPORT_IR), ["none"])
    with pytest.raises(RuntimeError, match="not Optional\\[Tensor\\]"):
        specialize(parse(REPORT_IR), ["", "none", ""])
    with pytest.raises(RuntimeError, match="'none', 'tensor' or ''"):
        specialize(parse(REPORT_IR), ["", "", "maybe"])
