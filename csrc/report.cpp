// report(): one line on what the pass did and, when it specialized nothing
// while enabled, the likely reasons this library can check; and its log at
// process exit (set_summary_at_exit, TORCH_OPTSPEC_SUMMARY).
//
// The reasons, each read from torch's own switches or the counters:
// - the executor: torch::jit::getExecutorMode() off selects the legacy
//   executor, which specializes each call's argument types itself and records
//   no profiles; getProfilingMode() off makes the profiling executor run
//   graphs unoptimized (Triton: ENABLE_JIT_EXECUTOR / ENABLE_JIT_PROFILING=
//   false);
// - getGraphExecutorOptimize() off: plans are never optimized (Triton:
//   DISABLE_OPTIMIZED_EXECUTION=true). That switch is per thread: report()
//   reads the calling thread's; when nothing was profiled at all it names
//   the switch as a possible cause on the threads that ran the model;
// - grad mode: the profiling predicate counts, per instrumented read of an
//   Optional[Tensor] input, whether the call had grad mode on
//   (uses_profiled_with_grad). With inputs or parameters that require grad
//   such a call is optimized on the autodiff path, where custom passes do not
//   run (ProfilingGraphExecutorImpl::runProfilingOptimizations).
#include "runtime.h"

#include <c10/util/Logging.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <vector>

namespace torch_optspec {

namespace {

std::atomic<bool> summary_at_exit{false};

void logSummaryAtExit() {
  if (summary_at_exit.load() && is_active_copy()) {
    LOG(WARNING) << report();
  }
}

std::vector<std::string> reasonsNothingSpecialized(const Stats& s) {
  std::vector<std::string> reasons;
  if (!torch::jit::getExecutorMode()) {
    reasons.emplace_back(
        "the legacy executor is in use (torch::jit::getExecutorMode() off; Python: "
        "torch._C._jit_set_profiling_executor(False); Triton: ENABLE_JIT_EXECUTOR=false): "
        "it specializes each call's argument types itself and records no profiles for the pass");
  } else if (!torch::jit::getProfilingMode()) {
    reasons.emplace_back(
        "the profiling executor's profiling is off (torch::jit::getProfilingMode(); Python: "
        "torch._C._jit_set_profiling_mode(False); Triton: ENABLE_JIT_PROFILING=false): "
        "graphs run unoptimized");
  }
  const bool optimize_off_here = !torch::jit::getGraphExecutorOptimize();
  if (optimize_off_here) {
    reasons.emplace_back(
        "graph-executor optimization is off on this thread "
        "(torch::jit::setGraphExecutorOptimize(false), a per-thread switch; Python: "
        "torch._C._set_graph_executor_optimize(False); Triton: DISABLE_OPTIMIZED_EXECUTION=true)");
  }
  if (s.uses_profiled_with_grad > 0) {
    reasons.emplace_back(
        "graphs were profiled in calls with grad mode on: with inputs or parameters that "
        "require grad (a loaded module's do) the executor takes the autodiff path, where the "
        "pass does not run (C++: torch::NoGradGuard or c10::InferenceMode; Python: "
        "torch.no_grad() or torch.inference_mode())");
  }
  if (reasons.empty()) {
    if (s.graphs_seen > 0) {
      reasons.emplace_back("the graphs seen had nothing to specialize (see stats())");
    } else if (s.uses_profiled == 0) {
      reasons.emplace_back(
          "no graph has been optimized while the pass was on (a graph is profiled on its "
          "first call and optimized on its second; graph-executor optimization, a per-thread "
          "switch, may also be off on the threads that ran the model: Triton's "
          "DISABLE_OPTIMIZED_EXECUTION=true)");
    } else {
      reasons.emplace_back(
          "graphs were profiled but none optimized yet (a graph is optimized on its second call)");
    }
  }
  return reasons;
}

} // namespace

std::string report() {
  const Stats s = stats();
  const bool on = is_enabled() || globalEnabled();
  std::ostringstream o;
  o << "torch_optspec " << version() << " (torch " << built_with_torch()
    << "): " << (on ? "enabled" : "disabled") << "; graphs seen " << s.graphs_seen
    << ", specialized " << s.graphs_specialized << " (inputs: " << s.inputs_none << " None, "
    << s.inputs_tensor << " Tensor, " << s.inputs_value << " values), rejected "
    << s.graphs_rejected;
  if (on && s.graphs_specialized == 0) {
    o << "; nothing specialized:";
    const char* sep = " ";
    for (const auto& reason : reasonsNothingSpecialized(s)) {
      o << sep << reason;
      sep = "; ";
    }
  }
  return o.str();
}

void set_summary_at_exit(bool on) {
  summary_at_exit.store(on);
  if (on) {
    static std::once_flag registered;
    std::call_once(registered, [] { std::atexit(logSummaryAtExit); });
  }
}

bool get_summary_at_exit() {
  return summary_at_exit.load();
}

} // namespace torch_optspec
