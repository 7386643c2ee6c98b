// What the library keeps at run time, outside the stages: the switch and
// settings (state.cpp, env.cpp), the counters and the per-thread result log
// (stats.cpp), the executor's plans (plans.cpp). The stages never read these;
// the pipeline (pipeline.cpp) and the bindings do.
#pragma once

#include "passes/passes.h"

namespace torch_optspec {

// ---- plans (plans.cpp) ------------------------------------------------------

// The optimized plan of the function a prim::CallFunction node calls (or of
// the function constant it is given); null when not optimized yet.
TORCH_OPTSPEC_API std::shared_ptr<Graph> calledPlan(Node* call);

// ---- settings (state.cpp, env.cpp) -------------------------------------------

// True when oneDNN Graph's fuser is registered as a custom pre-pass
// (torch.jit.enable_onednn_fusion(True)), recognized by its address.
TORCH_OPTSPEC_API bool onednnPrePassRegistered();

// This thread's override (-1: none, 0: off, 1: on) and the global switch,
// each alone (is_enabled() combines them).
int8_t threadOverride();
bool globalEnabled();
// The TORCH_OPTSPEC_* variables (env.cpp), applied when the library is
// loaded; true when TORCH_OPTSPEC_ENABLE enabled the pass.
bool applyEnvironmentSettings();

// ---- counters and the per-thread result log (stats.cpp) ----------------------

void recordGraphSeen();
// A read of an Optional[Tensor] input instrumented for profiling while
// enabled, and whether grad mode was on in that call.
void recordProfiledUse(bool grad_mode);
void recordDecisions(const InputDecisions& plan);
// A value site froze with `n` inputs varying.
void recordVarying(size_t n);
// Counts the driver's result and appends it, with the graph's input names, to
// this thread's log (what explain() reads: the pass runs on the thread whose
// call triggered the optimization, so other threads' compilations never mix
// in).
void recordResult(const Graph& graph, const DriverResult& result);
void recordFuserSafety(const FuserSafetyResult& result);
void recordEmissionBarriers(size_t n);

struct LoggedResult {
  std::vector<std::string> input_names;
  std::vector<std::string> input_types;
  DriverResult result;
};
// Returns and clears this thread's log (at most the last 1024 results).
TORCH_OPTSPEC_API std::vector<LoggedResult> takeThreadResults();


// ---- the bridge's work bound (state.cpp) -------------------------------------

// The limit the pipeline passes to makeSafeForOneDNN: kBridgeWorkLimit, or
// TORCH_OPTSPEC_BRIDGE_WORK_LIMIT (env.cpp; 0 moves every movable If/Loop,
// which the oneDNN fuzz mode uses to exercise the move).
TORCH_OPTSPEC_API size_t bridgeWorkLimit();
TORCH_OPTSPEC_API void setBridgeWorkLimit(size_t limit);

// ---- what register.cpp installs ----------------------------------------------

// Every torch_optspec:: operator (operators.cpp).
void registerOperators();
// The pipeline's JIT hooks (pipeline.cpp): the profiling predicate, the
// custom pre-pass (stages 0-9) and the custom post-pass (stages 10-12).
bool profilingPredicate(const Node* n);
void pipelinePrePass(std::shared_ptr<Graph>& graph);
void pipelinePostPass(std::shared_ptr<Graph>& graph);

} // namespace torch_optspec
