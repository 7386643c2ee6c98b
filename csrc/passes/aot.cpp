// Ahead of time: the plan from example values, guarded with stock
// TorchScript operations only (the graph-level half of
// torch_optspec::specialize, ../aot.cpp).
//
// Guarded, for the report's module specialized with a mask:
//
//   %3 : bool = aten::__isnot__(%mask.1, %none)
//   %out : Tensor = prim::If(%3)
//     block0():  <the body with %mask.1 refined to a Tensor, cleaned up>
//     block1():  <the original body>
//
// Strict:
//
//   %3 : bool = aten::__isnot__(%mask.1, %none)
//    = prim::If(%3)
//     block0(): -> ()
//     block1(): prim::RaiseException("forward(): argument 'mask' was ...",
//                                    "builtins.RuntimeError") -> ()
//   %mask.refined : Tensor = prim::unchecked_cast(%mask.1)
//   <the refined body, cleaned up, at the top level>
//
// The decision kinds meet this file in two places, both switches over
// InputKind: decideFromExample (which kind an example value gives) and
// checkFor (the stock condition of a decision). The rest (versioning, strict
// raises, messages) works on the checks and is kind-agnostic.
#include "passes.h"

#include <torch/csrc/jit/jit_log.h>

#include <ATen/core/ivalue.h>

namespace torch_optspec {

namespace {

// "mask.1" -> "mask": the source name of a graph input.
std::string sourceName(const Value* v) {
  std::string name = v->debugName();
  auto dot = name.rfind('.');
  if (dot != std::string::npos && dot + 1 < name.size() &&
      name.find_first_not_of("0123456789", dot + 1) == std::string::npos) {
    name.resize(dot);
  }
  return name;
}

std::string nameOf(
    const Graph& graph,
    size_t i,
    const std::vector<std::string>& names) {
  if (i < names.size() && !names[i].empty()) {
    return names[i];
  }
  return sourceName(graph.inputs()[i]);
}

InputDecision decideFromExample(const Value* input, const c10::IValue& example) {
  InputDecision d;
  if (!isOptionalTensorInput(input)) {
    // The breadth kinds plug in here: a bool/int input -> its value, an
    // Optional[T] -> None / present, a Tensor -> dtype/rank.
    return d;
  }
  if (!input->hasUses()) {
    d.reason = SkipReason::Unused;
  } else if (example.isNone()) {
    d.kind = InputKind::None;
  } else if (example.isTensor() && example.toTensor().defined()) {
    d.kind = InputKind::Tensor;
    d.type = c10::TensorType::get();
  } else if (example.isTensor()) {
    d.reason = SkipReason::Undefined;
  } else {
    TORCH_CHECK(
        false, "torch_optspec: the example for %", input->debugName(),
        " (Optional[Tensor]) is a ", example.tagKind());
  }
  return d;
}

// The stock condition for one decision; the one place that maps a decision
// kind to TorchScript. A new kind adds a case (its condition, e.g.
// aten::eq(%flag, True); aten::eq(prim::dtype(%x), 6); aten::eq(aten::dim(%x), 4),
// and the words for messages).
StockCheck checkFor(
    Graph& graph,
    size_t i,
    const InputDecision& d,
    const std::string& name) {
  StockCheck c;
  c.input = i;
  Value* input = graph.inputs()[i];
  switch (d.kind) {
    case InputKind::None:
      c.ok = graph.insert(c10::aten::__is__, {input, graph.insertConstant(c10::IValue())});
      c.expected = "None";
      c.otherwise = "a Tensor";
      c.condition = name + " is None";
      break;
    case InputKind::Tensor:
      c.ok = graph.insert(c10::aten::__isnot__, {input, graph.insertConstant(c10::IValue())});
      c.expected = "a Tensor";
      c.otherwise = "None";
      c.condition = name + " is not None";
      break;
    case InputKind::Skip:
      TORCH_INTERNAL_ASSERT(false, "checkFor: a skipped input has no check");
  }
  TORCH_INTERNAL_ASSERT(c.ok, "torch_optspec: no stock check for the decision on %", name);
  return c;
}

// %a and %b and ... as TorchScript compiles `and`: a chain of prim::If.
Value* allOf(Graph& graph, const std::vector<StockCheck>& checks) {
  TORCH_INTERNAL_ASSERT(!checks.empty());
  Value* all = checks[0].ok;
  for (size_t k = 1; k < checks.size(); ++k) {
    Node* chain = graph.insertNode(graph.create(c10::prim::If, {all}, 1));
    chain->output()->setType(c10::BoolType::get());
    Block* then_block = chain->addBlock();
    Block* else_block = chain->addBlock();
    then_block->registerOutput(checks[k].ok);
    {
      torch::jit::WithInsertPoint in_else(else_block);
      else_block->registerOutput(graph.insertConstant(false));
    }
    all = chain->output();
  }
  return all;
}

// A copy of the graph body in `block`, reading the graph inputs.
void cloneBodyInto(Graph& graph, Block* block) {
  block->cloneFrom(graph.block(), [](Value* v) { return v; });
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    block->inputs().at(i)->replaceAllUsesWith(graph.inputs().at(i));
  }
  for (size_t i = graph.inputs().size(); i > 0; --i) {
    block->eraseInput(i - 1);
  }
}

Node* firstNodeOrReturn(Graph& graph) {
  return graph.block()->nodes().begin() == graph.block()->nodes().end()
      ? graph.return_node()
      : graph.block()->nodes().front();
}

} // namespace

SpecializationPlan planFromExample(
    const Graph& graph,
    const std::vector<c10::IValue>& inputs) {
  TORCH_CHECK(
      inputs.size() == graph.inputs().size(),
      "torch_optspec: ", inputs.size(), " example values for a graph with ",
      graph.inputs().size(), " inputs");
  SpecializationPlan plan;
  for (size_t i = 0; i < inputs.size(); ++i) {
    plan.inputs.push_back(decideFromExample(graph.inputs()[i], inputs[i]));
  }
  GRAPH_DEBUG("Plan from the example: ", plan.describe(graph));
  return plan;
}

std::vector<StockCheck> insertStockChecks(
    Graph& graph,
    const SpecializationPlan& plan,
    const std::vector<std::string>& names) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());
  std::vector<StockCheck> checks;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const InputDecision& d = plan.inputs[i];
    if (d.kind != InputKind::Skip) {
      checks.push_back(checkFor(graph, i, d, nameOf(graph, i, names)));
      GRAPH_UPDATE("Check: ", checks.back().condition, " (%", checks.back().ok->debugName(), ")");
    }
  }
  return checks;
}

Block* versionGraphStock(
    Graph& graph,
    const SpecializationPlan& plan,
    const std::vector<std::string>& names,
    std::vector<StockCheck>* checks_out) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());
  Node* versioning_if = graph.create(c10::prim::If, {}, graph.outputs().size());
  Block* fast = versioning_if->addBlock();
  Block* slow = versioning_if->addBlock();
  cloneBodyInto(graph, fast);
  cloneBodyInto(graph, slow);

  torch::jit::WithInsertPoint at_start(firstNodeOrReturn(graph));
  std::vector<StockCheck> checks = insertStockChecks(graph, plan, names);
  TORCH_CHECK(!checks.empty(), "torch_optspec: versionGraphStock with nothing to check");
  versioning_if->addInput(allOf(graph, checks));
  graph.insertNode(versioning_if);
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    versioning_if->output(i)->copyMetadata(graph.outputs()[i]);
  }
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    graph.return_node()->replaceInput(i, versioning_if->output(i));
  }
  // The original nodes, all after the If now, feed nothing: destroy them,
  // users first.
  for (auto it = graph.block()->nodes().reverse().begin(); *it != versioning_if;) {
    Node* n = *it;
    ++it;
    n->destroy();
  }
  GRAPH_DUMP("After versioning with stock checks:", &graph);
  if (checks_out) {
    *checks_out = std::move(checks);
  }
  return fast;
}

size_t insertStrictChecks(
    Graph& graph,
    const SpecializationPlan& plan,
    const std::string& function_name,
    const std::vector<std::string>& names) {
  torch::jit::WithInsertPoint at_start(firstNodeOrReturn(graph));
  std::vector<StockCheck> checks = insertStockChecks(graph, plan, names);
  for (const StockCheck& c : checks) {
    const std::string message = function_name + "(): argument '" +
        nameOf(graph, c.input, names) + "' was specialized for " + c.expected +
        ", but this call passed " + c.otherwise +
        " (strict ahead-of-time specialization, torch_optspec.specialize(..., strict=True); "
        "specialize again for this call's arguments, or without strict to run the original "
        "code for them)";
    Node* check = graph.insertNode(graph.create(c10::prim::If, {c.ok}, 0));
    check->addBlock();
    Block* fail = check->addBlock();
    torch::jit::WithInsertPoint in_fail(fail);
    Value* text = graph.insertConstant(message);
    Value* cls = graph.insertConstant(std::string("builtins.RuntimeError"));
    graph.insertNode(graph.create(c10::prim::RaiseException, {text, cls}, 0));
    GRAPH_UPDATE("Strict check: ", c.condition, " else raise");
  }
  GRAPH_DUMP("After the strict checks:", &graph);
  return checks.size();
}

DriverResult specializeGraphAhead(
    std::shared_ptr<Graph>& graph,
    const SpecializationPlan& plan,
    const AheadOptions& options) {
  DriverResult result;
  result.plan = plan;
  auto reject = [&](const std::string& problem) {
    GRAPH_DEBUG("Ahead-of-time specialization abandoned: ", problem);
    result.outcome = DriverResult::Outcome::Rejected;
    result.reason = problem;
    return result;
  };
  if (plan.inputs.size() != graph->inputs().size()) {
    return reject("the plan does not fit the graph's inputs");
  }
  if (!plan.specializesAnything()) {
    result.reason = "no argument to specialize";
    return result;
  }
  GRAPH_DUMP("Before specializing ahead of time " + plan.describe(*graph), graph);
  auto candidate = graph->copy();
  std::string problem;
  try {
    size_t strict_checks = 0;
    Block* fast = nullptr;
    if (options.strict) {
      fast = candidate->block();
      refineFastPath(*candidate, fast, plan);
      strict_checks = insertStrictChecks(*candidate, plan, options.function_name, options.input_names);
    } else {
      fast = versionGraphStock(*candidate, plan, options.input_names);
      refineFastPath(*candidate, fast, plan);
    }
    result.cleanup = cleanupGraph(candidate, options.cleanup_max_rounds);
    // In strict mode the fast path is the whole graph, and each strict check
    // is an If on a specialized input: not a residual one.
    size_t residual = countResidualChecks(*candidate, fast, plan);
    result.residual_checks = residual >= strict_checks ? residual - strict_checks : 0;
    problem = verifyGraph(candidate);
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (!problem.empty()) {
    return reject(problem);
  }
  graph = candidate;
  result.outcome = DriverResult::Outcome::Specialized;
  GRAPH_DUMP("After specializing ahead of time " + plan.describe(*graph), graph);
  return result;
}

} // namespace torch_optspec
