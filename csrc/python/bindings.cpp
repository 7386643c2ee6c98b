// The Python extension torch_optspec._C: a thin layer over the C++ API and
// two entry points meant for tests and tools (explicit plans on parsed IR).
#include <torch/extension.h>

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>

#include "../passes/passes.h"
#include <torch_optspec/torch_optspec.h>

namespace py = pybind11;

namespace {

py::dict statsDict() {
  auto s = torch_optspec::stats();
  py::dict skipped;
  skipped["unused"] = s.skipped_unused;
  skipped["not_profiled"] = s.skipped_not_profiled;
  skipped["mixed"] = s.skipped_mixed;
  skipped["undefined_tensor"] = s.skipped_undefined;
  py::dict d;
  d["graphs_seen"] = s.graphs_seen;
  d["graphs_specialized"] = s.graphs_specialized;
  d["inputs_none"] = s.inputs_none;
  d["inputs_tensor"] = s.inputs_tensor;
  d["guards_inserted"] = s.guards_inserted;
  d["inputs_skipped"] = skipped;
  d["graphs_rejected"] = s.graphs_rejected;
  return d;
}

// Runs the specialization with a plan given per graph input ("none",
// "tensor", or "" to skip) and returns the resulting graph (the input graph
// itself when nothing was specialized).
std::shared_ptr<torch::jit::Graph> specializeWithPattern(
    std::shared_ptr<torch::jit::Graph> graph,
    const std::vector<std::string>& pattern) {
  auto plan = torch_optspec::planFromPattern(*graph, pattern);
  torch_optspec::SpecializeOptionalInputs(graph, plan);
  return graph;
}

// The plan the pass would make from the profile nodes of `graph`.
std::string describeProfiledPlan(std::shared_ptr<torch::jit::Graph> graph) {
  return torch_optspec::decideFromProfiles(*graph).describe(*graph);
}

void flushFunction(torch::jit::Function& f) {
  if (auto* gf = dynamic_cast<torch::jit::GraphFunction*>(&f)) {
    gf->get_executor().debugFlushCompilationCache();
  }
}

// Drops the compiled plans of every method of `module` and its submodules.
size_t flushModulePlans(const torch::jit::Module& module) {
  size_t n = 0;
  for (const auto& m : module.modules()) {
    for (const auto& method : m.get_methods()) {
      flushFunction(method.function());
      ++n;
    }
  }
  return n;
}

// The optimized graphs of the fallback functions that `graph` calls (the
// executor compiles a prim::FallbackGraph into such a function), depth first,
// for those that have been optimized. Lets tests and explain() look at the
// specialization made for a second None-pattern.
// The optimized plan of the function a prim::CallFunction node calls (or of
// the function constant itself); None when it has not been optimized yet.
std::shared_ptr<torch::jit::Graph> calledPlan(torch::jit::Node* n) {
  if (n->kind() == c10::prim::CallFunction) {
    n = n->input(0)->node();
  }
  auto fn_type = n->output()->type()->cast<c10::FunctionType>();
  auto* gf = fn_type
      ? dynamic_cast<torch::jit::GraphFunction*>(fn_type->function())
      : nullptr;
  if (!gf || !gf->get_executor().isOptimized()) {
    return nullptr;
  }
  auto state = gf->get_executor().getDebugState();
  return state.execution_plans.begin()->second.graph;
}

void collectFallbackPlans(
    torch::jit::Block* block,
    std::vector<std::shared_ptr<torch::jit::Graph>>& out) {
  for (torch::jit::Node* n : block->nodes()) {
    for (torch::jit::Block* b : n->blocks()) {
      collectFallbackPlans(b, out);
    }
    if (n->kind() != c10::prim::Constant || !n->hasAttributeS("fallback")) {
      continue;
    }
    if (auto plan = calledPlan(n)) {
      out.push_back(plan);
      collectFallbackPlans(plan->block(), out);
    }
  }
}

std::vector<std::shared_ptr<torch::jit::Graph>> fallbackPlans(
    std::shared_ptr<torch::jit::Graph> graph) {
  std::vector<std::shared_ptr<torch::jit::Graph>> out;
  collectFallbackPlans(graph->block(), out);
  return out;
}

} // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "torch_optspec: specialize Optional[Tensor] inputs of TorchScript graphs";
  m.def("enable", &torch_optspec::enable);
  m.def("disable", &torch_optspec::disable);
  m.def("is_enabled", &torch_optspec::is_enabled);
  // The Python context manager's halves of EnabledGuard: set this thread's
  // override (-1 none, 0 off, 1 on) and get the previous one back.
  m.def("_exchange_thread_override", &torch_optspec::exchangeThreadOverride);
  m.def("stats", &statsDict);
  m.def("_set_fast_path_mode", [](int mode) {
    TORCH_CHECK(mode >= 0 && mode <= 2, "torch_optspec: bad fast path mode ", mode);
    torch_optspec::setFastPathMode(static_cast<torch_optspec::FastPathMode>(mode));
  });
  m.def("_fast_path_mode", [] { return static_cast<int>(torch_optspec::fastPathMode()); });
  m.def("_outlines_now", &torch_optspec::shouldOutline);
  m.def("reset_stats", &torch_optspec::reset_stats);
  m.def("built_with_torch", &torch_optspec::built_with_torch);
  m.def("_specialize_with_pattern", &specializeWithPattern);
  m.def("_describe_profiled_plan", &describeProfiledPlan);
  m.def("_fallback_plans", &fallbackPlans);
  m.def("_called_plan", &calledPlan);
  m.def("_flush_module_plans", &flushModulePlans);
  m.def("_flush_function_plans", [](const py::object& fn) {
    // torch.jit.ScriptFunction
    auto strong = py::cast<torch::jit::StrongFunctionPtr>(fn);
    flushFunction(*strong.function_);
  });
}
