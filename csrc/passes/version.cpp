// Stage 3: version the graph behind a None-pattern guard.
//
//   %ok : bool = torch_optspec::check_none_pattern[pattern=[1, 0]](%a, %b)
//   %out : ... = prim::If(%ok)
//     block0():   <a copy of the graph body: the fast path, refined next>
//     block1():   <the original body: see buildSlowPath>
//   return (%out)
//
// The guard is a single interpreter instruction whatever the number of inputs.
// The executor turns prim::FallbackGraph into a separately profiled and
// optimized function (ProfilingGraphExecutorImpl::
// replaceFallbackGraphWithFallbackFunction, with one less bailout depth), so a
// call with another None-pattern gets its own specialization there.
#include "passes.h"

#include <algorithm>

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/runtime/custom_operator.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

namespace torch_optspec {

using torch::jit::Stack;

c10::Symbol guardKind() {
  static const auto kind =
      c10::Symbol::fromQualString("torch_optspec::check_none_pattern");
  return kind;
}

c10::Symbol patternAttr() {
  static const auto attr = c10::Symbol::attr("pattern");
  return attr;
}

namespace {

// pattern[i] == 1: input i must be None; 0: it must be a defined Tensor.
// An undefined Tensor (which TorchScript's `is None` treats as None) matches
// neither and goes to the fallback, which reproduces the unspecialized result.
torch::jit::Operation createGuard(const Node* node) {
  std::vector<int64_t> pattern = guardPattern(node);
  TORCH_CHECK(
      pattern.size() == node->inputs().size(),
      "torch_optspec::check_none_pattern: pattern has ", pattern.size(),
      " entries for ", node->inputs().size(), " inputs");
  return [pattern](Stack& stack) {
    const size_t n = pattern.size();
    auto inputs = torch::jit::last(stack, n);
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      const c10::IValue& v = inputs[i];
      ok = pattern[i] ? v.isNone() : (v.isTensor() && v.toTensor().defined());
    }
    torch::jit::drop(stack, n);
    torch::jit::push(stack, ok);
  };
}

// block1, when the None-pattern does not match:
//
//   %grad : bool = aten::is_grad_enabled()
//   %r = prim::If(%grad)
//     block0(): <the original body, inline>
//     block1(): prim::FallbackGraph(<the original body>)
//
// Without grad mode, a fallback function that the executor profiles and
// specializes for the pattern it sees. Under grad mode the original body runs
// inline, exactly as the unspecialized plan (compiled on the no-grad path)
// would run it: a fallback function first compiled under grad mode would go
// down the executor's autodiff path, which this plan never takes, and which in
// torch 2.13 returns wrong gradients for some graphs (tools/
// autodiff_optional_bias_repro.py). aten::is_grad_enabled is never folded
// (conservative alias analysis).
void buildSlowPath(Graph& graph, Block* original, Block* slow) {
  auto identity = [](Value* v) { return v; };
  torch::jit::WithInsertPoint at_slow(slow);
  static const auto is_grad_enabled =
      c10::Symbol::fromQualString("aten::is_grad_enabled");
  Value* grad_enabled = graph.insert(is_grad_enabled, {});
  Node* by_grad = graph.insertNode(
      graph.create(c10::prim::If, {grad_enabled}, original->outputs().size()));
  Block* inline_body = by_grad->addBlock();
  Block* fallback = by_grad->addBlock();
  inline_body->cloneFrom(original, identity);
  fallback->cloneFrom(original, identity);
  torch::jit::replaceBlockWithFallbackGraph(fallback, graph.inputs());
  for (size_t i = 0; i < original->outputs().size(); ++i) {
    by_grad->output(i)->copyMetadata(original->outputs()[i]);
    slow->registerOutput(by_grad->output(i));
  }
}

} // namespace

void registerGuardOperator() {
  static torch::jit::RegisterOperators reg({torch::jit::Operator(
      "torch_optspec::check_none_pattern(...) -> bool",
      createGuard,
      c10::AliasAnalysisKind::FROM_SCHEMA)});
}

std::vector<int64_t> guardPattern(const Node* guard) {
  TORCH_CHECK(
      guard->hasAttribute(patternAttr()),
      "torch_optspec: the guard has no pattern attribute");
  if (guard->kindOf(patternAttr()) == torch::jit::AttributeKind::ival) {
    return guard->ival(patternAttr()).toIntVector();
  }
  return guard->is(patternAttr());
}

Node* findGuard(const Graph& graph) {
  for (const Node* n : graph.nodes()) {
    if (n->kind() == guardKind()) {
      return const_cast<Node*>(n); // the graph owns its nodes; callers may edit
    }
  }
  return nullptr;
}

Block* findFastPath(const Graph& graph) {
  Node* guard = findGuard(graph);
  if (!guard) {
    return nullptr;
  }
  for (const auto& use : guard->output()->uses()) {
    if (use.user->kind() == c10::prim::If && use.offset == 0) {
      return use.user->blocks()[0];
    }
  }
  return nullptr;
}

SpecializationPlan planFromGuard(const Graph& graph) {
  Node* guard = findGuard(graph);
  TORCH_CHECK(guard, "torch_optspec: the graph has no ", guardKind().toQualString());
  std::vector<int64_t> pattern = guardPattern(guard);
  TORCH_CHECK(
      pattern.size() == guard->inputs().size(),
      "torch_optspec: guard pattern and inputs differ in length");
  SpecializationPlan plan;
  plan.inputs.resize(graph.inputs().size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    const Value* v = guard->input(i);
    auto it = std::find(graph.inputs().begin(), graph.inputs().end(), v);
    TORCH_CHECK(
        it != graph.inputs().end(),
        "torch_optspec: guard input %", v->debugName(), " is not a graph input");
    InputDecision& d = plan.inputs[it - graph.inputs().begin()];
    d.kind = pattern[i] ? InputKind::None : InputKind::Tensor;
    d.type = c10::TensorType::get();
  }
  return plan;
}

Block* versionGraph(Graph& graph, const SpecializationPlan& plan) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());

  // The versioning If; block0 is a copy of the body reading the graph inputs.
  Node* versioning_if =
      graph.create(c10::prim::If, {}, graph.outputs().size());
  Block* fast = versioning_if->addBlock();
  Block* slow = versioning_if->addBlock();
  fast->cloneFrom(graph.block(), [](Value* v) { return v; });
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    fast->inputs().at(i)->replaceAllUsesWith(graph.inputs().at(i));
  }
  for (size_t i = graph.inputs().size(); i > 0; --i) {
    fast->eraseInput(i - 1);
  }

  // The guard, before everything else.
  std::vector<Value*> checked;
  std::vector<int64_t> pattern;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const auto kind = plan.inputs[i].kind;
    if (kind != InputKind::Skip) {
      checked.push_back(graph.inputs()[i]);
      pattern.push_back(kind == InputKind::None ? 1 : 0);
    }
  }
  Node* guard = graph.create(guardKind(), checked, 1);
  guard->is_(patternAttr(), pattern);
  guard->output()->setType(c10::BoolType::get());
  graph.block()->prependNode(guard);
  GRAPH_UPDATE("Inserted the guard ", *guard);

  versioning_if->addInput(guard->output());
  versioning_if->insertAfter(guard);
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    versioning_if->output(i)->copyMetadata(graph.outputs()[i]);
  }

  // The original body now only feeds the old outputs: point the outputs at
  // the If and destroy the original nodes (in reverse, users first).
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    graph.return_node()->replaceInput(i, versioning_if->output(i));
  }
  for (auto it = graph.block()->nodes().reverse().begin();
       *it != versioning_if;) {
    Node* n = *it;
    ++it;
    n->destroy();
  }

  buildSlowPath(graph, fast, slow);
  GRAPH_UPDATE(
      "Versioned the body: fast path in block0, original in block1 of ",
      versioning_if->output(0)->debugName());

  GRAPH_DUMP("After versioning (guard + fast path + fallback):", &graph);
  return fast;
}

} // namespace torch_optspec
