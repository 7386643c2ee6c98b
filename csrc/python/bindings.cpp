// The Python extension torch_optspec._C: a thin binding over libtorch_optspec
// (which it links; the package ships the library next to it). It holds no
// state of its own and calls only functions the library exports, so every
// call acts on the one torch_optspec state of the process, whichever copy of
// the library the dynamic linker gave it.
#include <torch/extension.h>

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/python/pybind_utils.h>

#include "../runtime.h"
#include <torch_optspec/torch_optspec.h>

namespace py = pybind11;

namespace {

namespace tos = torch_optspec;

py::dict statsDict() {
  py::dict d;
  for (const auto& [name, value] : tos::stats_table()) {
    d[py::str(name)] = value;
  }
  return d;
}

py::dict planDict(
    const tos::InputDecisions& plan,
    const std::vector<std::string>& names,
    const std::vector<std::string>& types) {
  py::list inputs;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const auto& d = plan.inputs[i];
    py::dict entry;
    entry["name"] = i < names.size() ? names[i] : std::string();
    entry["type"] = i < types.size() ? types[i] : std::string();
    entry["kind"] = tos::kindName(d.kind);
    entry["reason"] = tos::reasonName(d.reason);
    if (d.kind == tos::InputKind::Value) {
      entry["value"] = c10::str(d.value);
    }
    if (d.dtype) {
      entry["dtype"] = std::string(c10::toString(*d.dtype));
    }
    if (d.dim) {
      entry["dim"] = *d.dim;
    }
    if (d.device) {
      entry["device"] = d.device->str();
    }
    inputs.append(entry);
  }
  py::dict out;
  out["inputs"] = inputs;
  return out;
}

// This thread's driver results since the last call, oldest first.
py::list takeResults() {
  py::list out;
  for (const auto& logged : tos::takeThreadResults()) {
    const auto& r = logged.result;
    py::dict d = planDict(r.decisions, logged.input_names, logged.input_types);
    d["outcome"] = tos::DriverResult::outcomeName(r.outcome);
    d["reason"] = r.reason;
    d["cleanup_rounds"] = r.cleanup.rounds;
    d["cleanup_hit_round_limit"] = r.cleanup.hit_round_limit;
    d["residual_checks"] = r.residual_checks;
    d["value_site"] = r.value_site;
    out.append(d);
  }
  return out;
}

std::vector<std::string> graphInputNames(const torch::jit::Graph& g) {
  std::vector<std::string> names;
  for (const auto* v : g.inputs()) {
    names.push_back(v->debugName());
  }
  return names;
}

py::dict reportDict(const tos::SpecializeReport& r) {
  py::list arguments;
  for (const auto& a : r.arguments) {
    py::dict d;
    d["name"] = a.name;
    d["type"] = a.type;
    d["decision"] = a.decision;
    d["reason"] = a.reason;
    d["specialized_for"] = a.specialized_for;
    d["check"] = a.check;
    arguments.append(d);
  }
  py::dict out;
  out["method"] = r.method;
  out["strict"] = r.strict;
  out["specialized"] = r.specialized;
  out["reason"] = r.reason;
  out["arguments"] = arguments;
  out["cleanup_rounds"] = r.cleanup_rounds;
  out["residual_checks"] = r.residual_checks;
  out["text"] = r.describe();
  return out;
}

// specialize() from Python: the example bound to the schema like a call
// (positional, keywords, defaults), without self.
std::vector<c10::IValue> exampleStack(
    const c10::FunctionSchema& schema,
    const py::tuple& args,
    const py::dict& kwargs,
    std::optional<c10::IValue> self) {
  bool has_self = self.has_value();
  auto stack = torch::jit::createStackForSchema(
      schema, torch::jit::tuple_slice(args), py::reinterpret_borrow<py::kwargs>(kwargs),
      std::move(self));
  if (has_self) {
    stack.erase(stack.begin());
  }
  return stack;
}

} // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "torch_optspec: specialize Optional[Tensor] inputs of TorchScript graphs";

  // ---- state ----
  m.def("enable", &tos::enable);
  m.def("disable", &tos::disable);
  m.def("is_enabled", &tos::is_enabled);
  m.def("_exchange_thread_override", &tos::exchange_thread_override,
        "Set this thread's override (-1 none, 0 off, 1 on); returns the previous one.");
  m.def("_set_fast_path_mode", [](int mode) {
    TORCH_CHECK(mode >= 0 && mode <= 2, "torch_optspec: bad fast path mode ", mode);
    tos::set_fast_path(static_cast<tos::FastPathMode>(mode));
  });
  m.def("_fast_path_mode", [] { return static_cast<int>(tos::get_fast_path()); });
  m.def("_outlines_now", &tos::outlines_now);
  m.def("_onednn_registered", &tos::onednnPrePassRegistered);
  m.def("_set_value_learning", &tos::set_value_learning);
  m.def("_value_learning", &tos::get_value_learning);
  m.def("_set_summary_at_exit", &tos::set_summary_at_exit);
  m.def("_summary_at_exit", &tos::get_summary_at_exit);
  // TORCH_OPTSPEC_BRIDGE_WORK_LIMIT's effect (tests)
  m.def("_bridge_work_limit", &tos::bridgeWorkLimit);
  m.def("report", &tos::report);
  m.def("stats", &statsDict);
  m.def("reset_stats", &tos::reset_stats);
  m.def("version", &tos::version);
  m.def("built_with_torch", &tos::built_with_torch);
  m.def("is_active_copy", &tos::is_active_copy);
  m.attr("GUARD_KIND") = tos::guard_op_name();
  m.attr("VALUE_SITE_KIND") = tos::value_site_op_name();

  // ---- plans ----
  m.def("_reset_module_plans", [](const torch::jit::Module& module) {
    return tos::reset_plans(module);
  });
  m.def("_reset_function_plans", [](const py::object& fn) {
    auto strong = py::cast<torch::jit::StrongFunctionPtr>(fn);
    return tos::reset_plans(*strong.function_);
  });
  m.def("_fallback_plans", &tos::fallback_plans);
  m.def("_called_plan", &tos::calledPlan);
  // A copy of a scripted module with its own compiled methods (and so its own,
  // empty, plans): Module::clone gives the copy a new class type.
  m.def("_clone_module", [](const torch::jit::Module& module) { return module.clone(); });
  m.def("_take_results", &takeResults);
  m.def("_value_site", [](int64_t id) {
    auto info = tos::valueSiteInfo(id);
    py::dict d;
    d["exists"] = info.exists;
    d["state"] = info.state;
    d["observed"] = info.observed;
    d["inputs"] = info.inputs;
    d["varying"] = std::vector<bool>(info.varying.begin(), info.varying.end());
    return d;
  }, "What value site `id` watches and saw (state, observed calls, inputs, varying).");

  // ---- ahead of time ----
  m.def(
      "_specialize_module",
      [](const torch::jit::Module& module, const py::tuple& args, const py::dict& kwargs,
         bool strict) {
        tos::SpecializeOptions options;
        options.strict = strict;
        auto method = module.find_method(options.method);
        TORCH_CHECK(method, "torch_optspec.specialize: the module has no forward()");
        auto inputs = exampleStack(method->function().getSchema(), args, kwargs, module._ivalue());
        tos::SpecializeReport report;
        torch::jit::Module out = tos::specialize(module, inputs, options, &report);
        return py::make_tuple(out, reportDict(report));
      },
      "torch_optspec::specialize on a scripted module; returns (module, report dict).");
  m.def(
      "_specialize_function",
      [](const py::object& fn, const py::tuple& args, const py::dict& kwargs, bool strict) {
        auto strong = py::cast<torch::jit::StrongFunctionPtr>(fn);
        tos::SpecializeOptions options;
        options.strict = strict;
        auto inputs = exampleStack(strong.function_->getSchema(), args, kwargs, std::nullopt);
        tos::SpecializeReport report;
        torch::jit::Module out = tos::specialize(*strong.function_, inputs, options, &report);
        return py::make_tuple(out, reportDict(report));
      },
      "torch_optspec::specialize on a scripted function; returns (module, report dict).");

  // ---- stages, for tests and tools ----
  m.def(
      "_run_stage",
      [](const std::string& stage, std::shared_ptr<torch::jit::Graph> graph,
         const std::vector<std::string>& args) {
        std::string line = tos::runStage(stage, graph, args);
        return py::make_tuple(graph, line);
      },
      "Run one stage on `graph` (see runStage in csrc/passes/stages.h); "
      "returns (graph, line).");
  m.def(
      "_specialize_with_pattern",
      [](std::shared_ptr<torch::jit::Graph> graph, const std::vector<std::string>& pattern,
         bool outline) {
        auto plan = tos::decisionsFromPattern(*graph, pattern);
        tos::DriverOptions options;
        options.outline = outline;
        tos::specializeGraph(graph, plan, options);
        return graph;
      },
      py::arg("graph"), py::arg("pattern"), py::arg("outline") = false,
      "The driver with a plan given per graph input ('none', 'tensor', '' to "
      "skip); returns the resulting graph (the input itself when nothing was "
      "specialized).");
  m.def(
      "_specialize_ahead_with_pattern",
      [](std::shared_ptr<torch::jit::Graph> graph, const std::vector<std::string>& pattern,
         bool strict) {
        auto plan = tos::decisionsFromPattern(*graph, pattern);
        tos::AheadOptions options;
        options.strict = strict;
        auto result = tos::specializeGraphAhead(graph, plan, options);
        return py::make_tuple(graph, tos::DriverResult::outcomeName(result.outcome),
                              result.reason);
      },
      py::arg("graph"), py::arg("pattern"), py::arg("strict") = false,
      "The ahead-of-time driver (stock checks) with a plan given per graph input; returns "
      "(graph, outcome, reason).");
  m.def("_describe_profiled_plan", [](std::shared_ptr<torch::jit::Graph> graph) {
    return tos::decideFromProfiles(*graph).describe(*graph);
  });
  m.def("_profiled_plan", [](std::shared_ptr<torch::jit::Graph> graph) {
    return planDict(tos::decideFromProfiles(*graph), graphInputNames(*graph), {});
  });
}
