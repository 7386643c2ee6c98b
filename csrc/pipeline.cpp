// The run-time pipeline, top to bottom: what the JIT hooks do with a graph
// the profiling executor optimizes with the pass on. register.cpp installs
// the three hooks below; every stage is a function of csrc/passes/
// (passes/passes.h lists them) and this file is the only place that orders
// them, reads the switch and the settings (state.cpp) and counts (stats.cpp).
//
//   while profiling:
//     profilingPredicate      1. profile: the readers of Optional[Tensor]
//                                inputs and the tensor property reads
//   pipelinePrePass (a custom pre-pass, first in the list, before any fuser
//   registered as a pre-pass, such as oneDNN Graph):
//     the pass state a marked function was compiled with (11), barriers off
//     keepElementWrites       0. element writes
//     decideFromProfiles      2. decide
//     specializeGraph         the driver, on a copy (specialize_inputs.cpp):
//                                3. value site, 4. version, 5. refine,
//                                6. clean up, 7. verify, 8. outline
//     makeFuserSafe           9. fuser safety, when oneDNN Graph is registered,
//                                on every graph (specialized or not)
//   the fusers run (the executor's own passes)
//   pipelinePostPass (a custom post-pass):
//     UnfuseInputlessGroups  10. unfuse, on the graph this optimization
//                                specialized only
//     markSubgraphsCompiledLater 11. mark
//     insertEmissionBarriers 12. barriers, in every plan made with the pass on
//
// Nothing here may fail the user's call: whatever goes wrong, the graph is
// left as it is and the executor carries on.
#include "runtime.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/jit/jit_log.h>

#include <optional>

namespace torch_optspec {

namespace {

// ---- what one optimization on this thread carries from pre- to post-pass ----
//
// The post-pass of an optimization gets the same Graph object as its pre-pass
// (runNoGradOptimizations), on the same thread.

// The graph the pre-pass specialized: the post-pass un-fuses its input-less
// NNC groups; any other graph is left exactly as stock TorchScript fuses it.
// A graph behind a value site has its guard nested, and a value-specialized
// one may have none: this tracks them all.
thread_local const Graph* specialized_here = nullptr;
// The pass state the optimization runs under (-1: the thread's switch): the
// marker of a function compiled later, else the thread's override.
thread_local int8_t optimizing_state = -1;
// Whether that optimization ran with the pass on.
thread_local bool optimizing_enabled = false;

// ---- the pre-pass --------------------------------------------------------------

// Stage 9 on a copy, swapped in when it verifies (a graph it cannot handle
// goes to oneDNN Graph as it was, as with the pass off).
void makeFuserSafe(std::shared_ptr<Graph>& graph) {
  FuserSafetyResult r;
  const std::string problem = transformCopy(graph, [&](std::shared_ptr<Graph>& copy) {
    r = makeSafeForOneDNN(copy, bridgeWorkLimit());
    return r.total() > 0;
  });
  if (!problem.empty()) {
    GRAPH_DEBUG("Fuser-safety rewrites abandoned, graph left as it was: ", problem);
  } else if (r.total() > 0) {
    recordFuserSafety(r);
  }
}

// Stages 0, 2 and the driver. Returns whether the graph was specialized (or
// got a value site).
bool specialize(std::shared_ptr<Graph>& graph) {
  bool specialized = false;
  try {
    keepElementWrites(*graph); // before anything runs a dead-code elimination on it
    InputDecisions decisions = decideFromProfiles(*graph);
    recordDecisions(decisions);
    DriverOptions options;
    options.outline = outlines_now();
    // A graph marked by a value site gets the values it fixed; any other
    // graph with bool/int/Optional inputs gets a site that learns them.
    options.learned = learnedValues(*graph);
    if (options.learned.site < 0 && get_value_learning()) {
      options.value_site = valueCandidates(*graph);
    }
    DriverResult result = specializeGraph(graph, decisions, options);
    using Outcome = DriverResult::Outcome;
    specialized =
        result.outcome == Outcome::Specialized || result.outcome == Outcome::Watching;
    recordResult(*graph, result);
  } catch (const std::exception& e) {
    GRAPH_DEBUG("Specialization abandoned, graph left as it was: ", e.what());
    DriverResult failed;
    failed.outcome = DriverResult::Outcome::Rejected;
    failed.reason = e.what();
    recordResult(*graph, failed);
  }
  return specialized;
}

} // namespace

bool profilingPredicate(const Node* n) {
  const int8_t marked = markedPassState(*n->owningGraph());
  const bool profile = (marked >= 0 ? marked != 0 : is_enabled()) && readsOptionalTensorInput(n);
  if (profile) {
    // instrumented in the call that profiles the graph: its grad mode
    recordProfiledUse(at::GradMode::is_enabled());
  }
  return profile;
}

void pipelinePrePass(std::shared_ptr<Graph>& graph) {
  // A function compiled from a marked subgraph runs under the state its
  // marker records.
  const int8_t marked = takeMarkedPassState(*graph);
  optimizing_state = marked >= 0 ? marked : threadOverride();
  std::optional<EnabledGuard> as_marked;
  if (marked >= 0) {
    as_marked.emplace(marked != 0);
  }
  // A function compiled from a subgraph of a plan of the pass has the
  // barriers that plan's post-pass put there (for its profiling run), in its
  // graph and its own subgraphs: the stages and the fusers work without
  // them; this optimization's post-pass puts them back if the pass is on.
  removeEmissionBarriers(*graph, /*subgraphs=*/true);
  optimizing_enabled = is_enabled();
  specialized_here = nullptr;
  if (!optimizing_enabled) {
    return;
  }
  recordGraphSeen();
  const bool specialized = specialize(graph);
  if (onednnPrePassRegistered()) {
    makeFuserSafe(graph);
  }
  specialized_here = specialized ? graph.get() : nullptr; // after any swap
}

void pipelinePostPass(std::shared_ptr<Graph>& graph) {
  if (graph.get() == specialized_here) {
    UnfuseInputlessGroups(graph);
  }
  specialized_here = nullptr;
  // Off is marked only while the global switch is on: otherwise every thread
  // without an override sees off anyway, and a plan made with the pass off
  // stays exactly stock.
  if (optimizing_state == 1 || (optimizing_state == 0 && globalEnabled())) {
    markSubgraphsCompiledLater(*graph, optimizing_state);
  }
  // Any plan made with the pass on, specialized or not: in the final plan the
  // barriers change only how the interpreter emits it (a pass-off plan stays
  // stock).
  if (optimizing_enabled) {
    recordEmissionBarriers(insertEmissionBarriers(*graph, /*subgraphs=*/true));
  }
  optimizing_state = -1;
  optimizing_enabled = false;
}

} // namespace torch_optspec
