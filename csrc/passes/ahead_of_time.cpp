// Ahead of time: the plan from example values, guarded with stock
// TorchScript operations only (the graph-level half of
// torch_optspec::specialize, ../specialize_module.cpp).
//
// Guarded, for the report's module specialized with a mask:
//
//   %3 : bool = aten::__isnot__(%mask.1, %none)
//   %out : Tensor = prim::If(%3)
//     block0():  <the body with %mask.1 refined to a Tensor, cleaned up>
//     block1():  %f = prim::fork_0(<inputs>)  (the original body)
//                %r = aten::wait(%f)
//
// Strict:
//
//   %3 : bool = aten::__isnot__(%mask.1, %none)
//    = prim::If(%3)
//     block0(): -> ()
//     block1(): %t = aten::_functional_assert_scalar(0, "forward(): argument
//                      'mask' was ...", <tensor>)   (raises RuntimeError)
//               prim::Print(%t)
//               prim::RaiseException(<the message>, "builtins.RuntimeError")
//               -> ()
//   %mask.refined : Tensor = prim::unchecked_cast(%mask.1)
//   <the refined body, cleaned up, at the top level>
//
// The decision kinds meet this file in two places, both switches over
// InputKind: decideFromExample (which kind an example value gives) and
// checksFor (the stock conditions of a decision). The rest (versioning, strict
// raises, messages) works on the checks and is kind-agnostic; the
// substitutions are the runtime pass's (refineFastPath, substituteValues).
#include "ahead_of_time.h"

#include "profile.h"
#include "refine.h"
#include "verify.h"

#include <torch/csrc/jit/jit_log.h>

#include <ATen/core/ivalue.h>
#include <ATen/ops/zeros.h>

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

std::string nameOf(const Graph& graph, size_t i, const std::vector<std::string>& names) {
  if (i < names.size() && !names[i].empty()) {
    return names[i];
  }
  return sourceName(graph.inputs()[i]);
}

bool isValueType(const c10::TypePtr& t) {
  return t->kind() == c10::TypeKind::BoolType || t->kind() == c10::TypeKind::IntType;
}

bool isTensorType(const c10::TypePtr& t) {
  return t->kind() == c10::TypeKind::TensorType;
}

c10::TypePtr optionalElement(const c10::TypePtr& t) {
  auto opt = t->cast<c10::OptionalType>();
  return opt ? opt->getElementType() : nullptr;
}

std::string valueText(const c10::IValue& v) {
  if (v.isBool()) {
    return v.toBool() ? "True" : "False";
  }
  if (v.isInt()) {
    return std::to_string(v.toInt());
  }
  return c10::str(v);
}

// The dtype/rank/device of the example that the graph reads.
void fixProperties(const Value* input, const at::Tensor& t, InputDecision& d) {
  PropertyReads reads;
  collectPropertyReads(input, reads);
  if (reads.dtype) {
    d.dtype = t.scalar_type();
  }
  if (reads.dim) {
    d.dim = t.dim();
  }
  if (reads.device) {
    d.device = t.device();
  }
}

// The decision an example value gives; the one place that maps example
// values to decision kinds (see decisionsFromExample in ahead_of_time.h).
InputDecision decideFromExample(const Value* input, const c10::IValue& example) {
  InputDecision d;
  const c10::TypePtr& type = input->type();
  const c10::TypePtr elem = optionalElement(type);
  if (isTensorType(type)) {
    if (example.isTensor() && example.toTensor().defined()) {
      fixProperties(input, example.toTensor(), d);
      if (d.guardsProperties()) {
        d.kind = InputKind::Tensor;
        d.type = c10::TensorType::get();
      }
    }
    return d; // reason NotOptional: a plain Tensor with nothing read to fix
  }
  if (!isValueType(type) && !elem) {
    return d; // floats, strings, lists, objects: not specialized
  }
  if (!input->hasUses()) {
    d.reason = SkipReason::Unused;
    return d;
  }
  if (isValueType(type)) {
    d.kind = InputKind::Value;
    d.value = example;
  } else if (example.isNone()) {
    d.kind = InputKind::None;
  } else if (isTensorType(elem)) {
    TORCH_CHECK(
        example.isTensor(), "torch_optspec: the example for %", input->debugName(),
        " (Optional[Tensor]) is a ", example.tagKind());
    if (example.toTensor().defined()) {
      d.kind = InputKind::Tensor;
      d.type = c10::TensorType::get();
      fixProperties(input, example.toTensor(), d);
    } else {
      d.reason = SkipReason::Undefined;
    }
  } else if (isValueType(elem)) {
    d.kind = InputKind::Value;
    d.value = example;
  } else {
    d.kind = InputKind::Present;
  }
  return d;
}

bool decidesAnything(const InputDecisions& plan) {
  for (const auto& d : plan.inputs) {
    if (d.kind != InputKind::Skip) {
      return true;
    }
  }
  return false;
}

// The input itself, or (an Optional input, once its presence is checked) its
// value cast to the element type.
Value* presentValue(Graph& graph, size_t i) {
  Value* x = graph.inputs()[i];
  c10::TypePtr elem = optionalElement(x->type());
  if (!elem) {
    return x;
  }
  Node* cast = graph.insertNode(graph.create(c10::prim::unchecked_cast, {x}, 1));
  cast->output()->setType(elem);
  return cast->output();
}

// The stock conditions of one decision; the one place that maps a decision
// kind to TorchScript (see stockChecks in ahead_of_time.h).
std::vector<StockCheck> checksFor(
    const Graph& graph,
    size_t i,
    const InputDecision& d,
    const std::string& name) {
  std::vector<StockCheck> out;
  const c10::TypePtr& type = graph.inputs()[i]->type();
  const c10::TypePtr elem = optionalElement(type);
  auto noneCheck = [&](bool none, std::string expected, std::string otherwise) {
    StockCheck c;
    c.input = i;
    c.expected = std::move(expected);
    c.otherwise = std::move(otherwise);
    c.condition = name + (none ? " is None" : " is not None");
    c.emit = [i, none](Graph& g) {
      return g.insert(none ? c10::aten::__is__ : c10::aten::__isnot__,
                      {g.inputs()[i], g.insertConstant(c10::IValue())});
    };
    return c;
  };
  auto equalCheck = [&](std::string expected, std::string otherwise, std::string condition,
                        std::function<Value*(Graph&, Value*)> read, c10::IValue constant) {
    StockCheck c;
    c.input = i;
    c.expected = std::move(expected);
    c.otherwise = std::move(otherwise);
    c.condition = std::move(condition);
    c.emit = [i, read, constant](Graph& g) {
      Value* v = read(g, presentValue(g, i));
      return g.insert(c10::aten::eq, {v, g.insertConstant(constant)});
    };
    return c;
  };
  const std::string what = elem && isTensorType(elem) ? "a Tensor" : "a value";
  switch (d.kind) {
    case InputKind::Skip:
      break;
    case InputKind::None:
      out.push_back(noneCheck(true, "None", what));
      break;
    case InputKind::Present:
      out.push_back(noneCheck(false, "a value (not None)", "None"));
      break;
    case InputKind::Value:
      if (elem) {
        out.push_back(noneCheck(false, valueText(d.value), "None"));
      }
      out.push_back(equalCheck(
          valueText(d.value), "another value", name + " == " + valueText(d.value),
          [](Graph&, Value* v) { return v; }, d.value));
      break;
    case InputKind::Tensor:
      if (elem) {
        out.push_back(noneCheck(false, "a Tensor", "None"));
      }
      if (d.dtype) {
        const std::string dtype = c10::toString(*d.dtype);
        out.push_back(equalCheck(
            "a Tensor of dtype " + dtype, "another dtype", name + ".dtype is " + dtype,
            [](Graph& g, Value* t) { return g.insert(c10::prim::dtype, {t}); },
            c10::IValue(static_cast<int64_t>(*d.dtype))));
      }
      if (d.dim) {
        const std::string dim = std::to_string(*d.dim);
        out.push_back(equalCheck(
            "a " + dim + "-d Tensor", "a Tensor of another rank", name + ".dim() == " + dim,
            [](Graph& g, Value* t) { return g.insert(c10::aten::dim, {t}); },
            c10::IValue(*d.dim)));
      }
      if (d.device) {
        const std::string device = d.device->str();
        out.push_back(equalCheck(
            "a Tensor on " + device, "another device", name + ".device is " + device,
            [](Graph& g, Value* t) { return g.insert(c10::prim::device, {t}); },
            c10::IValue(*d.device)));
      }
      break;
  }
  return out;
}

// %a and %b and ... as TorchScript compiles `and`: a chain of prim::If, each
// check emitted inside the branch where the ones before it hold.
Value* allOf(Graph& graph, const std::vector<StockCheck>& checks) {
  TORCH_INTERNAL_ASSERT(!checks.empty());
  Value* all = checks[0].emit(graph);
  for (size_t k = 1; k < checks.size(); ++k) {
    Node* chain = graph.insertNode(graph.create(c10::prim::If, {all}, 1));
    chain->output()->setType(c10::BoolType::get());
    Block* then_block = chain->addBlock();
    Block* else_block = chain->addBlock();
    {
      torch::jit::WithInsertPoint in_then(then_block);
      then_block->registerOutput(checks[k].emit(graph));
    }
    {
      torch::jit::WithInsertPoint in_else(else_block);
      else_block->registerOutput(graph.insertConstant(false));
    }
    all = chain->output();
  }
  return all;
}

Node* firstNodeOrReturn(Graph& graph) {
  return graph.block()->nodes().begin() == graph.block()->nodes().end()
      ? graph.return_node()
      : graph.block()->nodes().front();
}

} // namespace

InputDecisions decisionsFromExample(
    const Graph& graph,
    const std::vector<c10::IValue>& inputs) {
  TORCH_CHECK(
      inputs.size() == graph.inputs().size(),
      "torch_optspec: ", inputs.size(), " example values for a graph with ",
      graph.inputs().size(), " inputs");
  InputDecisions plan;
  for (size_t i = 0; i < inputs.size(); ++i) {
    plan.inputs.push_back(decideFromExample(graph.inputs()[i], inputs[i]));
  }
  GRAPH_DEBUG("Plan from the example: ", plan.describe(graph));
  return plan;
}

std::vector<StockCheck> stockChecks(
    const Graph& graph,
    const InputDecisions& plan,
    const std::vector<std::string>& names) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());
  std::vector<StockCheck> checks;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    for (auto& c : checksFor(graph, i, plan.inputs[i], nameOf(graph, i, names))) {
      checks.push_back(std::move(c));
    }
  }
  return checks;
}

void specializeBody(Graph& graph, const InputDecisions& plan) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());
  // Tensor inputs and Optional[Tensor] go through refine (casts, property
  // folds), the others through the value substitution, as at run time.
  InputDecisions tensors;
  tensors.inputs.resize(plan.inputs.size());
  LearnedValues values;
  bool any_tensor = false;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const InputDecision& d = plan.inputs[i];
    if (d.kind == InputKind::Skip) {
      continue;
    }
    const c10::TypePtr& type = graph.inputs()[i]->type();
    const c10::TypePtr elem = optionalElement(type);
    if (isTensorType(type) || (elem && isTensorType(elem))) {
      tensors.inputs[i] = d;
      any_tensor = true;
    } else {
      values.fixed.emplace_back(i, d);
    }
  }
  if (any_tensor) {
    refineFastPath(graph, graph.block(), tensors);
  }
  if (!values.fixed.empty()) {
    substituteValues(graph, values);
  }
}

void versionGraphStock(Graph& graph, Graph& fast, const std::vector<StockCheck>& checks) {
  TORCH_CHECK(!checks.empty(), "torch_optspec: versionGraphStock with nothing to check");
  Node* versioning_if = graph.create(c10::prim::If, {}, graph.outputs().size());
  Block* fast_block = versioning_if->addBlock();
  Block* slow_block = versioning_if->addBlock();
  cloneBodyInto(graph, fast, fast_block);
  if (graph.outputs().size() == 1) {
    // The original body as a function of its own: torch.jit.fork + wait.
    // Inline in block1 it would be code the profiling run of the specialized
    // pattern never executes, and oneDNN Graph's bridge, which walks every
    // block, fails on such code (bad optional access); a fork's subgraph is
    // compiled only when a call takes it, with that call's profile, as stock
    // TorchScript compiles the original. The fast path stays nested in
    // block0: oneDNN Graph partitions the top level only (strict mode puts
    // the fast path there).
    auto original = graph.copy();
    torch::jit::WithInsertPoint in_slow(slow_block);
    Node* fork = graph.insertNode(graph.create(c10::prim::fork, graph.inputs(), 1));
    fork->g_(c10::attr::Subgraph, original);
    fork->output()->setType(c10::FutureType::create(graph.outputs()[0]->type()));
    Value* result = graph.insert(c10::aten::wait, {fork->output()});
    slow_block->registerOutput(result);
    GRAPH_UPDATE("Original body behind prim::fork + aten::wait in the guard's else-branch");
  } else {
    cloneBodyInto(graph, graph, slow_block);
  }

  torch::jit::WithInsertPoint at_start(firstNodeOrReturn(graph));
  versioning_if->addInput(allOf(graph, checks));
  graph.insertNode(versioning_if);
  replaceBodyWith(graph, versioning_if); // the original nodes are all after it
  GRAPH_DUMP("After versioning with stock checks:", &graph);
}

void insertStrictChecks(
    Graph& graph,
    const std::vector<StockCheck>& checks,
    const std::string& function_name,
    const std::vector<std::string>& names) {
  torch::jit::WithInsertPoint at_start(firstNodeOrReturn(graph));
  for (const StockCheck& c : checks) {
    const std::string message = function_name + "(): argument '" +
        nameOf(graph, c.input, names) + "' was specialized for " + c.expected +
        ", but this call passed " + c.otherwise +
        " (strict ahead-of-time specialization, torch_optspec.specialize(..., strict=True); "
        "specialize again for this call's arguments, or without strict to run the original "
        "code for them)";
    Node* check = graph.insertNode(graph.create(c10::prim::If, {c.emit(graph)}, 0));
    check->addBlock();
    Block* fail = check->addBlock();
    torch::jit::WithInsertPoint in_fail(fail);
    Value* text = graph.insertConstant(message);
    // The error itself: aten::_functional_assert_scalar(False, message, token)
    // throws a c10::Error, which TorchScript's interpreter passes on as a
    // plain RuntimeError (Python) / std::runtime_error (C++) with the message.
    // A scripted `raise RuntimeError(...)` (prim::RaiseException) would reach
    // Python as torch.jit.Error, which `except RuntimeError` does not catch.
    // The prim::Print of its result keeps the assert from dead-code
    // elimination (the op has no side effects of its own); the
    // RaiseException after it is never reached, and tells the JIT's passes
    // that the block does not return.
    Value* never = graph.insertConstant(static_cast<int64_t>(0));
    Value* token = graph.insertConstant(at::zeros({}));
    Node* assert_node = graph.insertNode(graph.create(
        c10::Symbol::fromQualString("aten::_functional_assert_scalar"), {never, text, token}, 1));
    assert_node->output()->setType(c10::TensorType::get());
    graph.insertNode(graph.create(c10::prim::Print, {assert_node->output()}, 0));
    Value* cls = graph.insertConstant(std::string("builtins.RuntimeError"));
    graph.insertNode(graph.create(c10::prim::RaiseException, {text, cls}, 0));
    GRAPH_UPDATE("Strict check: ", c.condition, " else raise");
  }
  GRAPH_DUMP("After the strict checks:", &graph);
}

DriverResult specializeGraphAhead(
    std::shared_ptr<Graph>& graph,
    const InputDecisions& plan,
    const AheadOptions& options) {
  DriverResult result;
  result.decisions = plan;
  auto reject = [&](const std::string& problem) {
    GRAPH_DEBUG("Ahead-of-time specialization abandoned: ", problem);
    result.outcome = DriverResult::Outcome::Rejected;
    result.reason = problem;
    return result;
  };
  if (plan.inputs.size() != graph->inputs().size()) {
    return reject("the plan does not fit the graph's inputs");
  }
  if (!decidesAnything(plan)) {
    result.reason = "no argument to specialize";
    return result;
  }
  GRAPH_DUMP("Before specializing ahead of time " + plan.describe(*graph), graph);
  const std::string problem = transformCopy(graph, [&](std::shared_ptr<Graph>& candidate) {
    const std::vector<StockCheck> checks = stockChecks(*graph, plan, options.input_names);
    auto fast = candidate; // specialized in place
    specializeBody(*fast, plan);
    result.cleanup = cleanupGraph(fast, options.cleanup_max_rounds);
    result.residual_checks = countResidualChecks(*fast, fast->block(), plan);
    GRAPH_DEBUG("Checks left on specialized inputs: ", result.residual_checks);
    if (options.strict) {
      insertStrictChecks(*candidate, checks, options.function_name, options.input_names);
    } else {
      // The original body cleaned up too, as the runtime pass leaves its
      // fallback (no branch folded there: nothing is decided in it).
      candidate = graph->copy();
      cleanupGraph(candidate, options.cleanup_max_rounds);
      versionGraphStock(*candidate, *fast, checks);
    }
    return true;
  });
  if (!problem.empty()) {
    return reject(problem);
  }
  result.outcome = DriverResult::Outcome::Specialized;
  GRAPH_DUMP("After specializing ahead of time " + plan.describe(*graph), graph);
  return result;
}

} // namespace torch_optspec
