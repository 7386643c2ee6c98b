// torch_optspec::specialize: ahead-of-time specialization of a module's
// method for the arguments of one example call (public header).
//
//   1. bind the example to the method's schema (defaults filled in)
//   2. clone the module (parameters copied; trainable ones stay leaves)
//   3. a copy of the clone's method graph with every call inlined
//   4. decisionsFromExample, then specializeGraphAhead (passes/aot.cpp): stock
//      checks, guarded or strict, refined, cleaned up, verified
//   5. the result replaces the clone's method graph in place (its schema,
//      defaults included, is kept), so torch::jit::save writes it as code
//
// Reads no global state and counts nothing (the runtime pass's stats() are
// about the runtime pass).
#include "runtime.h"

#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <ATen/core/grad_mode.h>

#include <sstream>

namespace torch_optspec {

using torch::jit::Module;

namespace {

// Replaces the contents of `dst` (nodes, inputs, outputs) by a copy of `src`.
// The function owning `dst` keeps its schema.
void replaceGraphContents(Graph& dst, Graph& src) {
  while (!dst.outputs().empty()) {
    dst.eraseOutput(dst.outputs().size() - 1);
  }
  for (auto it = dst.block()->nodes().reverse().begin();
       it != dst.block()->nodes().reverse().end();) {
    Node* n = *it;
    ++it;
    n->destroy();
  }
  while (!dst.inputs().empty()) {
    dst.eraseInput(dst.inputs().size() - 1);
  }
  dst.block()->cloneFrom(src.block(), [](Value* v) -> Value* {
    TORCH_INTERNAL_ASSERT(false, "specialize: free value %", v->debugName());
    return v;
  });
}

// Module::clone deep-copies tensors with Tensor::clone(): under grad mode a
// parameter would come back as a non-leaf with a grad_fn. Cloned without
// grad, its requires_grad is then set back from the original's.
Module cloneKeepingLeaves(const Module& module) {
  Module out;
  {
    at::AutoGradMode no_grad(false);
    out = module.clone();
  }
  auto original = module.named_attributes(/*recurse=*/true);
  auto copy = out.named_attributes(/*recurse=*/true);
  auto o = original.begin();
  auto c = copy.begin();
  for (; o != original.end() && c != copy.end(); ++o, ++c) {
    TORCH_INTERNAL_ASSERT((*o).name == (*c).name, "specialize: clone reordered attributes");
    if ((*o).value.isTensor() && (*c).value.isTensor()) {
      const at::Tensor& from = (*o).value.toTensor();
      at::Tensor to = (*c).value.toTensor();
      if (from.defined() && to.defined() && from.requires_grad() != to.requires_grad()) {
        to.requires_grad_(from.requires_grad());
      }
    }
  }
  return out;
}

// What a decision fixes, in words.
std::string specializedFor(const InputDecision& d) {
  switch (d.kind) {
    case InputKind::Skip:
      return "";
    case InputKind::None:
      return "None";
    case InputKind::Present:
      return "not None";
    case InputKind::Value:
      if (d.value.isBool()) {
        return d.value.toBool() ? "True" : "False";
      }
      return d.value.isInt() ? std::to_string(d.value.toInt()) : c10::str(d.value);
    case InputKind::Tensor: {
      std::vector<std::string> properties;
      if (d.dtype) {
        properties.push_back(std::string("dtype ") + c10::toString(*d.dtype));
      }
      if (d.dim) {
        properties.push_back("dim " + std::to_string(*d.dim));
      }
      if (d.device) {
        properties.push_back("device " + d.device->str());
      }
      std::string text = "a Tensor";
      for (size_t k = 0; k < properties.size(); ++k) {
        text += (k ? ", " : " (") + properties[k];
      }
      return text + (properties.empty() ? "" : ")");
    }
  }
  return "?";
}

std::vector<std::string> argumentNames(const c10::FunctionSchema& schema) {
  std::vector<std::string> names;
  for (const auto& a : schema.arguments()) {
    names.push_back(a.name());
  }
  return names;
}

} // namespace

std::string SpecializeReport::describe() const {
  std::ostringstream out;
  if (!specialized) {
    out << method << "(): nothing specialized (" << reason << ")\n";
    return out.str();
  }
  out << method << "() specialized " << (strict ? "strict" : "guarded") << " for:\n";
  size_t width = 0;
  for (const auto& a : arguments) {
    width = std::max(width, a.name.size());
  }
  for (const auto& a : arguments) {
    if (a.decision == "skip" && a.reason == "-") {
      continue;
    }
    out << "  " << a.name << std::string(width - a.name.size() + 2, ' ');
    if (a.decision == "skip") {
      out << "left as is (" << a.reason << ")";
    } else {
      out << a.specialized_for << "   checked: " << a.check;
    }
    out << "\n";
  }
  out << (strict ? "A call that does not match raises an error naming the argument "
                   "(RuntimeError in Python, std::runtime_error in C++).\n"
                 : "A call that does not match runs the original code.\n");
  if (residual_checks) {
    out << residual_checks << " check(s) on specialized arguments left in the fast path\n";
  }
  return out.str();
}

Module specialize(
    const Module& module,
    const std::vector<c10::IValue>& example_inputs,
    const SpecializeOptions& options,
    SpecializeReport* report) {
  auto method = module.find_method(options.method);
  TORCH_CHECK(
      method, "torch_optspec::specialize: the module has no method '", options.method, "'");
  const c10::FunctionSchema& schema = method->function().getSchema();
  std::vector<c10::IValue> stack;
  stack.reserve(example_inputs.size() + 1);
  stack.push_back(module._ivalue());
  stack.insert(stack.end(), example_inputs.begin(), example_inputs.end());
  // The example against the schema: types, count, defaults of the rest.
  schema.checkAndNormalizeInputs(stack);

  Module out = cloneKeepingLeaves(module);
  auto& fn = torch::jit::toGraphFunction(out.get_method(options.method).function());
  std::shared_ptr<Graph> graph = fn.graph()->copy();
  torch::jit::Inline(*graph);
  stack[0] = out._ivalue();
  InputDecisions plan = decisionsFromExample(*graph, stack);

  AheadOptions ahead;
  ahead.strict = options.strict;
  ahead.function_name = options.method;
  ahead.input_names = argumentNames(schema);
  ahead.cleanup_max_rounds = options.cleanup_max_rounds;
  DriverResult result = specializeGraphAhead(graph, plan, ahead);
  TORCH_CHECK(
      result.outcome != DriverResult::Outcome::Rejected,
      "torch_optspec::specialize: the specialized ", options.method,
      "() did not verify: ", result.reason);
  if (result.outcome == DriverResult::Outcome::Specialized) {
    replaceGraphContents(*fn.graph(), *graph);
    fn.clear_optimized_graphs();
  }

  if (report) {
    *report = SpecializeReport();
    report->method = options.method;
    report->strict = options.strict;
    report->specialized = result.outcome == DriverResult::Outcome::Specialized;
    report->reason = result.reason;
    report->cleanup_rounds = result.cleanup.rounds;
    report->residual_checks = result.residual_checks;
    const std::vector<StockCheck> checks = stockChecks(*graph, result.decisions, ahead.input_names);
    for (size_t i = 0; i < result.decisions.inputs.size(); ++i) {
      const InputDecision& d = result.decisions.inputs[i];
      SpecializedArgument a;
      a.name = i < schema.arguments().size() ? schema.arguments()[i].name() : "";
      a.type = i < schema.arguments().size() ? schema.arguments()[i].type()->annotation_str() : "";
      a.decision = kindName(d.kind);
      a.reason = d.kind == InputKind::Skip ? reasonName(d.reason) : "";
      a.specialized_for = specializedFor(d);
      for (const StockCheck& c : checks) {
        if (c.input == i) {
          a.check += (a.check.empty() ? "" : " and ") + c.condition;
        }
      }
      report->arguments.push_back(a);
    }
  }
  return out;
}

Module specialize(
    const torch::jit::Function& function,
    const std::vector<c10::IValue>& example_inputs,
    const SpecializeOptions& options,
    SpecializeReport* report) {
  // As torch.jit.save does for a function: a module whose forward is it, with
  // a self argument of the module's type.
  const auto& source = torch::jit::toGraphFunction(function);
  const c10::QualifiedName qualname = function.qualname();
  Module wrapper(
      c10::QualifiedName(qualname.prefix().empty() ? "__torch__" : qualname.prefix(),
                         "Specialized_" + function.name()),
      std::make_shared<torch::jit::CompilationUnit>(),
      /*shouldMangle=*/true);
  wrapper.register_attribute("training", c10::BoolType::get(), false);
  auto graph = source.graph()->copy();
  graph->insertInput(0, "self")->setType(wrapper._ivalue()->type());
  auto* forward = wrapper._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*wrapper.type()->name(), "forward"), graph);
  const c10::FunctionSchema& schema = function.getSchema();
  std::vector<c10::Argument> arguments{c10::Argument("self", wrapper._ivalue()->type())};
  arguments.insert(arguments.end(), schema.arguments().begin(), schema.arguments().end());
  forward->setSchema(schema.cloneWithName("forward", "").cloneWithArguments(arguments));
  wrapper.type()->addMethod(forward);
  SpecializeOptions forward_options = options;
  forward_options.method = "forward";
  return specialize(wrapper, example_inputs, forward_options, report);
}

} // namespace torch_optspec
