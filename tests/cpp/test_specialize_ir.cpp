// (a) The specialization on parsed IR, with explicit plans.
//
// Drives the internal entry points of csrc/passes/ (decisionsFromPattern,
// specializeGraph): this test links the pass's object library, not
// libtorch_optspec, whose exports are only the public API.
#include "check.h"
#include "graph_queries.h"
#include "runtime.h"

#include <torch/csrc/jit/codegen/onednn/interface.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/pass_manager.h>

using namespace graph_queries;

namespace {

// `mask` is an Optional[Tensor] read behind `if mask is None`.
const char* kMaskedGraph = R"IR(
graph(%x : Tensor, %mask : Tensor?):
  %none : NoneType = prim::Constant()
  %is_none : bool = aten::__is__(%mask, %none)
  %r : Tensor = prim::If(%is_none)
    block0():
      %a : Tensor = aten::relu(%x)
      -> (%a)
    block1():
      %m : Tensor = prim::unchecked_cast(%mask)
      %b : Tensor = aten::mul(%x, %m)
      -> (%b)
  return (%r)
)IR";

// Two Optional[Tensor] inputs, each tested with `is not None`.
const char* kTwoOptionalsGraph = R"IR(
graph(%x : Tensor, %bias : Tensor?, %scale : Tensor?):
  %none : NoneType = prim::Constant()
  %one : int = prim::Constant[value=1]()
  %has_bias : bool = aten::__isnot__(%bias, %none)
  %y : Tensor = prim::If(%has_bias)
    block0():
      %b : Tensor = prim::unchecked_cast(%bias)
      %y1 : Tensor = aten::add(%x, %b, %one)
      -> (%y1)
    block1():
      -> (%x)
  %has_scale : bool = aten::__isnot__(%scale, %none)
  %z : Tensor = prim::If(%has_scale)
    block0():
      %s : Tensor = prim::unchecked_cast(%scale)
      %z1 : Tensor = aten::mul(%y, %s)
      -> (%z1)
    block1():
      -> (%y)
  %out : Tensor = aten::tanh(%z)
  return (%out)
)IR";

std::shared_ptr<torch::jit::Graph> parse(const char* ir) {
  auto graph = std::make_shared<torch::jit::Graph>();
  torch::jit::parseIR(ir, graph.get());
  return graph;
}

// Specializes `graph` with `pattern`; returns whether it changed. The pass
// works on a copy and swaps it in, so take Value pointers after the call.
bool specialize(std::shared_ptr<torch::jit::Graph>& graph,
                const std::vector<std::string>& pattern) {
  auto plan = torch_optspec::decisionsFromPattern(*graph, pattern);
  return torch_optspec::specializeGraph(graph, plan, {}).outcome ==
      torch_optspec::DriverResult::Outcome::Specialized;
}

std::vector<int64_t> guardPattern(Node* guard) {
  return guard->is(c10::Symbol::attr("pattern"));
}

// Checks the common shape: a guard on `guarded` inputs with `pattern`, a
// versioning If on it whose block0 has no None test left on those inputs and
// whose block1 is the fallback. Returns the fast path (or nullptr).
Block* expectVersioned(const std::shared_ptr<Graph>& graph,
                       const std::vector<Value*>& guarded,
                       const std::vector<int64_t>& pattern) {
  Node* guard = topLevelGuard(graph);
  if (!EXPECT(guard != nullptr, "no single guard in\n" + str(graph))) {
    return nullptr;
  }
  EXPECT(guardPattern(guard) == pattern, str(graph));
  EXPECT(guard->inputs().vec() == guarded, str(graph));
  Node* versioning = versioningIf(guard);
  if (!EXPECT(versioning != nullptr, "guard feeds no prim::If\n" + str(graph))) {
    return nullptr;
  }
  Block* fast = versioning->blocks().at(0);
  Block* slow = versioning->blocks().at(1);
  for (Value* input : guarded) {
    EXPECT(noneTestsOn(fast, input).empty(),
           "None test left on %" + input->debugName() + "\n" + str(graph));
  }
  EXPECT(find(fast, c10::prim::If).empty(),
         "the fast path still branches\n" + str(graph));
  EXPECT(find(slow, c10::prim::FallbackGraph).size() == 1, str(graph));
  return fast;
}

void testPresentMask() {
  auto graph = parse(kMaskedGraph);
  EXPECT(specialize(graph, {"", "tensor"}));
  Value* mask = graph->inputs().at(1);
  auto plan = torch_optspec::decisionsFromPattern(*graph, {"", "tensor"});
  Block* fast = expectVersioned(graph, {mask}, {0});
  if (!fast) {
    return;
  }
  EXPECT(torch_optspec::countResidualChecks(*graph, fast, plan) == 0, str(graph));
  // Only the `mask is not None` branch is left, on the refined mask.
  EXPECT(find(fast, c10::aten::mul).size() == 1, str(graph));
  EXPECT(find(fast, c10::aten::relu).empty(), str(graph));
  auto casts = find(fast, c10::prim::unchecked_cast);
  EXPECT(casts.size() == 1 && casts[0]->input() == mask &&
             casts[0]->output()->type()->kind() == c10::TypeKind::TensorType,
         str(graph));
}

void testNoneMask() {
  auto graph = parse(kMaskedGraph);
  EXPECT(specialize(graph, {"", "none"}));
  Value* mask = graph->inputs().at(1);
  Block* fast = expectVersioned(graph, {mask}, {1});
  if (!fast) {
    return;
  }
  // Only the `mask is None` branch is left, and it does not read the mask.
  EXPECT(find(fast, c10::aten::relu).size() == 1, str(graph));
  EXPECT(find(fast, c10::aten::mul).empty(), str(graph));
  EXPECT(find(fast, c10::prim::unchecked_cast).empty(), str(graph));
}

void testTwoOptionals() {
  auto graph = parse(kTwoOptionalsGraph);
  EXPECT(specialize(graph, {"", "none", "tensor"}));
  Value* bias = graph->inputs().at(1);
  Value* scale = graph->inputs().at(2);
  Block* fast = expectVersioned(graph, {bias, scale}, {1, 0});
  if (!fast) {
    return;
  }
  EXPECT(find(fast, c10::aten::add).empty(), str(graph));
  EXPECT(find(fast, c10::aten::mul).size() == 1, str(graph));
  EXPECT(find(fast, c10::aten::tanh).size() == 1, str(graph));
}

void testNothingToSpecialize() {
  auto graph = parse(kMaskedGraph);
  auto before = graph;
  const std::string text = graph->toString();
  EXPECT(!specialize(graph, {"", ""}));
  EXPECT(graph == before);
  EXPECT(graph->toString() == text);
  EXPECT(topLevelGuard(graph) == nullptr);
}

void testPatternMustFitTheGraph() {
  auto graph = parse(kMaskedGraph);
  bool threw = false;
  try {
    torch_optspec::decisionsFromPattern(*graph, {"tensor", ""}); // %x is a Tensor
  } catch (const c10::Error&) {
    threw = true;
  }
  EXPECT(threw, "a pattern on a non-optional input was accepted");
}

} // namespace

// Auto mode outlines for oneDNN Graph's pre-pass only: another custom
// pre-pass (here a no-op one) does not make the fast path outlined.
void testOutlineFollowsOneDnnOnly() {
  torch_optspec::ensure_registered();
  torch_optspec::set_fast_path(torch_optspec::FastPathMode::Auto);
  EXPECT(!torch_optspec::outlines_now(), "nothing else registered");
  auto other = torch::jit::registerPrePass([](std::shared_ptr<torch::jit::Graph>&) {});
  EXPECT(!torch_optspec::outlines_now(), "a non-oneDNN pre-pass must not outline");
  const bool was = torch::jit::RegisterLlgaFuseGraph::setEnabled(true);
  EXPECT(torch_optspec::outlines_now(), "oneDNN Graph's pre-pass is registered");
  torch::jit::RegisterLlgaFuseGraph::setEnabled(was);
  EXPECT(!torch_optspec::outlines_now(), "oneDNN Graph off again");
  torch_optspec::set_fast_path(torch_optspec::FastPathMode::Outline);
  EXPECT(torch_optspec::outlines_now(), "explicit outline");
  torch_optspec::set_fast_path(torch_optspec::FastPathMode::Auto);
  torch::jit::clearPrePass(other);
}

int main() {
  testPresentMask();
  testNoneMask();
  testTwoOptionals();
  testNothingToSpecialize();
  testPatternMustFitTheGraph();
  testOutlineFollowsOneDnnOnly();
  return check::exit_code();
}
