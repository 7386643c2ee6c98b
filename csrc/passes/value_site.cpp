// Stage 3: learn the values of non-tensor inputs, and substitute them.
//
// torch 2.13's ProfilingRecord profiles tensors only (prim::profile with
// seen_none for Optional[Tensor]); the nvfuser-era prim::profile_ivalue hooks
// are only reached with nvfuser enabled, which needs CUDA. So the pass
// observes values itself, at run time, in the first optimized plan:
//
//   %learned : bool = torch_optspec::check_values[site=K, learn_calls=3](%flag, %n)
//   %r = prim::If(%learned)
//     block0(): %v = prim::FallbackGraph_0(<all inputs>)     (marked: site K)
//     block1(): <the plan as specialized from the profiles>
//
// check_values watches `learn_calls` no-grad calls, then freezes: an input
// whose value (for bool/int/Optional[bool]/Optional[int]) or None-ness (other
// Optional[T]) did not change is fixed, one that changed is "varying" and
// never specialized. From then on it returns true exactly when a call has the
// fixed values (never under grad mode: the fallback would be compiled on the
// autodiff path). The executor compiles the FallbackGraph into a function
// when first taken; its optimization reaches our pre-pass with the marker
// torch_optspec::value_site[site=K] at the top, and learnedValues() tells
// what K fixed. Bounded: one site per graph, learned once; a site that fixed
// nothing never calls its fallback.
//
// Floats are not specialized by value: a float input is a scale or a
// probability far more often than a switch, folding it removes no branch in
// the models we target, and each new value would need a new compilation.
#include "value_site.h"

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/runtime/graph_executor.h>


namespace torch_optspec {

using torch::jit::Stack;

namespace {

const c10::Symbol kCheckValues = c10::Symbol::fromQualString(value_site_op_name());
const c10::Symbol kValueSite = c10::Symbol::fromQualString("torch_optspec::value_site");
const c10::Symbol kSite = c10::Symbol::attr("site");
const c10::Symbol kLearnCalls = c10::Symbol::attr("learn_calls");
const c10::Symbol kNoneOnly = c10::Symbol::attr("none_only");
const c10::Symbol kInputs = c10::Symbol::attr("inputs");

bool isValueType(const c10::TypePtr& t) {
  return t->kind() == c10::TypeKind::BoolType || t->kind() == c10::TypeKind::IntType;
}

Node* findValueSiteMarker(const Graph& graph) {
  for (const Node* n : graph.nodes()) {
    if (n->kind() == kValueSite) {
      return const_cast<Node*>(n);
    }
  }
  return nullptr;
}

} // namespace

std::vector<ValueCandidate> valueCandidates(const Graph& graph) {
  std::vector<ValueCandidate> out;
  if (!canBecomeFallbackGraph(graph.block())) {
    // the learned branch is a FallbackGraph of the original body
    return out;
  }
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const Value* v = graph.inputs()[i];
    if (!v->hasUses()) {
      continue;
    }
    const auto& t = v->type();
    if (isValueType(t)) {
      out.push_back({i, false});
    } else if (auto opt = t->cast<c10::OptionalType>()) {
      const auto& elem = opt->getElementType();
      if (elem->kind() == c10::TypeKind::TensorType) {
        continue; // profiled: decide.cpp
      }
      out.push_back({i, !isValueType(elem)});
    }
  }
  return out;
}

LearnedValues learnedValues(const Graph& graph) {
  LearnedValues learned;
  Node* marker = findValueSiteMarker(graph);
  if (!marker) {
    return learned;
  }
  learned.site = marker->i(kSite);
  for (const FrozenInput& f : frozenInputs(learned.site)) {
    if (f.input >= graph.inputs().size()) {
      continue;
    }
    InputDecision d;
    if (f.none_only) {
      d.kind = f.key.toBool() ? InputKind::None : InputKind::Present;
    } else if (f.key.isNone()) {
      d.kind = InputKind::None;
    } else {
      d.kind = InputKind::Value;
      d.value = f.key;
    }
    learned.fixed.emplace_back(f.input, d);
  }
  return learned;
}

void substituteValues(Graph& graph, const LearnedValues& learned) {
  if (Node* marker = findValueSiteMarker(graph)) {
    marker->destroy();
  }
  Node* first = graph.nodes().begin() == graph.nodes().end() ? graph.return_node()
                                                            : graph.nodes().front();
  torch::jit::WithInsertPoint at(first);
  for (const auto& [index, d] : learned.fixed) {
    Value* input = graph.inputs().at(index);
    Value* replacement = nullptr;
    switch (d.kind) {
      case InputKind::None:
        replacement = graph.insertConstant(c10::IValue());
        break;
      case InputKind::Value:
        replacement = graph.insertConstant(d.value);
        break;
      case InputKind::Present: {
        auto opt = input->type()->cast<c10::OptionalType>();
        TORCH_INTERNAL_ASSERT(opt, "Present for a non-Optional input");
        Node* cast = graph.insertNode(graph.create(c10::prim::unchecked_cast, {input}, 1));
        cast->output()->setType(opt->getElementType());
        cast->output()->setDebugName(input->debugName() + ".present");
        replacement = cast->output();
        break;
      }
      default:
        continue;
    }
    input->replaceAllUsesAfterNodeWith(replacement->node(), replacement);
    GRAPH_UPDATE(
        "Replaced %", input->debugName(), " by %", replacement->debugName(), " (",
        kindName(d.kind), d.kind == InputKind::Value ? " " : "",
        d.kind == InputKind::Value ? c10::str(d.value) : std::string(), ") from value site ",
        learned.site);
  }
}

int64_t insertValueSite(
    Graph& graph,
    const Graph& original,
    const std::vector<ValueCandidate>& candidates,
    int64_t learn_calls,
    bool outline_current) {
  TORCH_CHECK(!candidates.empty(), "torch_optspec: a value site needs inputs to watch");
  TORCH_CHECK(
      canBecomeFallbackGraph(original.block()),
      "torch_optspec: a value site needs a graph that returns something other than None");
  TORCH_CHECK(learn_calls >= 1, "torch_optspec: learn_calls must be >= 1");
  const int64_t id = newValueSite(candidates, learn_calls);

  std::vector<Value*> watched;
  std::vector<int64_t> inputs, none_only;
  for (const auto& c : candidates) {
    watched.push_back(graph.inputs().at(c.input));
    inputs.push_back(static_cast<int64_t>(c.input));
    none_only.push_back(c.none_only ? 1 : 0);
  }
  Node* check = graph.create(kCheckValues, watched, 1);
  check->i_(kSite, id);
  check->i_(kLearnCalls, learn_calls);
  check->is_(kInputs, inputs);
  check->is_(kNoneOnly, none_only);
  check->output()->setType(c10::BoolType::get());

  // The If over the current body: block1 takes it, block0 the marked original.
  Node* by_values = graph.create(c10::prim::If, {}, graph.outputs().size());
  Block* learned = by_values->addBlock();
  Block* current = by_values->addBlock();
  cloneBodyInto(graph, graph, current);
  // block0: the original graph, marked, then made a FallbackGraph.
  cloneBodyInto(graph, original, learned);
  Node* marker = graph.create(kValueSite, {}, 0);
  marker->i_(kSite, id);
  learned->prependNode(marker);

  graph.block()->prependNode(check);
  by_values->addInput(check->output());
  by_values->insertAfter(check);
  replaceBodyWith(graph, by_values);
  torch::jit::replaceBlockWithFallbackGraph(learned, graph.inputs());
  if (outline_current) {
    // A top-level-only fuser (oneDNN Graph) would not see the current plan
    // nested in block1: it gets a function of its own too.
    torch::jit::replaceBlockWithFallbackGraph(current, graph.inputs());
  }
  GRAPH_UPDATE("Inserted value site ", id, " over ", candidates.size(), " inputs: ", *check);
  return id;
}

} // namespace torch_optspec
