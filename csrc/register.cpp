// Registration with the JIT, once per process, when the library is loaded:
//   - the profiling predicate (profile.cpp), gated on the switch;
//   - the custom pre-pass: decide (decide.cpp), then the driver
//     (specialize_optionals.cpp) with the settings of state.cpp, then, when
//     oneDNN Graph's pre-pass is registered, the fuser-safety stage
//     (fuser_safety.cpp) on whatever graph the driver left, specialized or
//     not; it counts and logs what happened (stats.cpp). It sits at the front
//     of the pre-pass list, before fusers registered as pre-passes (oneDNN
//     Graph registers itself when torch.jit.enable_onednn_fusion(True) is
//     called), so oneDNN Graph always receives the safe graph;
//   - the guard operator (version.cpp), the value-site operators
//     (values.cpp) and the fuser-safety stage's same-kernel operators
//     (fuser_safety.cpp);
//   - the post-fusion clean-up (postfusion.cpp), as a custom post-pass,
//     which also marks the subgraphs compiled later (prim::FallbackGraph,
//     prim::fork) with the pass state of the optimization (below) and, in a
//     plan made with the pass on, puts the emission barriers
//     (emission_barriers.cpp) in the plan and those subgraphs; the pre-pass
//     removes them from the graph it is given.
// At load time the TORCH_OPTSPEC_* environment variables apply (env.cpp):
// with TORCH_OPTSPEC_ENABLE=1 a LibTorch host gets the specialization with
// LD_PRELOAD alone, and c10's log says so in one line (TORCH_CPP_LOG_LEVEL=
// ERROR silences it).
#include "passes/passes.h"

#include <c10/core/GradMode.h>
#include <c10/util/Logging.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/pass_manager.h>
#include <torch/csrc/jit/runtime/custom_operator.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <torch/csrc/jit/runtime/profiling_record.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>

#ifndef TORCH_OPTSPEC_VERSION
#error "TORCH_OPTSPEC_VERSION must be defined by the build (from version.txt)"
#endif

namespace torch_optspec {

namespace {

std::atomic<bool> active_copy{false};

// The graph the pre-pass specialized in the optimization running on this
// thread: the post-pass of the same optimization (same Graph object, see
// runNoGradOptimizations) un-fuses its input-less NNC groups; any other graph
// is left exactly as stock TorchScript fuses it. A graph behind a value site
// has its guard nested, and a value-specialized one may have none: this
// tracks them all.
thread_local const Graph* specialized_here = nullptr;

void movePassToFront(torch::jit::GraphPassNameType id) {
  auto& passes = torch::jit::getCustomPrePasses();
  auto it = std::find_if(passes.begin(), passes.end(), [id](const auto& p) {
    return p.second == id;
  });
  if (it != passes.end()) {
    std::rotate(passes.begin(), it, it + 1);
  }
}

// Stage 7 on a copy, swapped in when it verifies (a graph it cannot handle
// goes to oneDNN Graph as it was, as with the pass off).
void makeFuserSafe(std::shared_ptr<Graph>& graph) {
  try {
    auto candidate = graph->copy();
    FuserSafetyResult r = makeSafeForOneDNN(candidate, bridgeWorkLimit());
    if (r.total() == 0) {
      return;
    }
    std::string problem = verifyGraph(candidate);
    if (!problem.empty()) {
      GRAPH_DEBUG("Fuser-safety rewrites abandoned, graph left as it was: ", problem);
      return;
    }
    graph = candidate;
    recordFuserSafety(r);
  } catch (const std::exception& e) {
    GRAPH_DEBUG("Fuser-safety rewrites abandoned, graph left as it was: ", e.what());
  }
}

// ---- The per-thread switch in functions compiled later -----------------------
//
// The executor compiles parts of a plan into functions of their own, profiled
// and optimized when first called: the subgraph of each prim::FallbackGraph
// (the pass's slow path, outlined fast path and value sites, NNC's guards)
// and of each prim::fork (torch.jit.fork). That call may come much later, on
// a thread where another override (torch_optspec.enabled(...)) is set, or
// none: a fork runs on an inter-op thread. So when a thread with an override
// optimizes a graph, the post-pass marks those subgraphs with its state,
//
//   torch_optspec::pass_state[enabled=1]()      (first node; a no-op)
//
// and the profiling predicate and the pre-pass of such a function follow the
// marker (the pre-pass removes it, and its post-pass marks the function's own
// subgraphs the same way): a plan runs under the state it was made with.
// Without an override every thread sees the global switch: nothing is marked
// (nor is off while the global switch is off).
const c10::Symbol kPassState = c10::Symbol::fromQualString("torch_optspec::pass_state");
const c10::Symbol kEnabledAttr = c10::Symbol::attr("enabled");

// The state of the optimization running on this thread (-1: the thread's
// switch): set by the pre-pass, read by the post-pass of the same
// optimization.
thread_local int8_t optimizing_state = -1;
// Whether that optimization ran with the pass on (set by the pre-pass).
thread_local bool optimizing_enabled = false;

// The marker at the top of `block`: the first node after the constants
// (constant pooling hoists them above it), or nullptr.
Node* findMarker(Block* block) {
  for (Node* n : block->nodes()) {
    if (n->kind() == kPassState) {
      return n;
    }
    if (n->kind() != c10::prim::Constant) {
      return nullptr;
    }
  }
  return nullptr;
}

// The state the marker of `graph` records: -1 (none), 0 or 1.
int8_t markedState(const Graph& graph) {
  const Node* marker = findMarker(const_cast<Graph&>(graph).block());
  return marker ? static_cast<int8_t>(marker->i(kEnabledAttr)) : -1;
}

void markSubgraphs(Graph& graph, int8_t state) {
  forEachSubgraphCompiledLater(graph.block(), [state](Graph& sub) {
    if (Node* marker = findMarker(sub.block())) {
      marker->i_(kEnabledAttr, state);
    } else {
      Node* added = sub.create(kPassState, {}, 0);
      added->i_(kEnabledAttr, state);
      sub.block()->prependNode(added);
    }
    GRAPH_UPDATE("Marked a subgraph compiled later with the pass state ", int(state));
  });
}

// Removes the marker of `graph` (and any other pass_state node of its top
// block, so that none stays in the plan); returns its state (-1: none).
int8_t takeMarkedState(Graph& graph) {
  const int8_t state = markedState(graph);
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    if (it->kind() == kPassState) {
      it.destroyCurrent();
    } else {
      ++it;
    }
  }
  return state;
}

void registerPassStateOperator() {
  // kept by dead-code elimination until the function's pre-pass reads it
  static torch::jit::RegisterOperators reg({markerOperator("torch_optspec::pass_state() -> ()")});
}

void prePassBody(std::shared_ptr<Graph>& graph);

// The pre-pass: a function compiled from a marked subgraph runs under the
// state its marker records.
void specializeOptionalInputsPrePass(std::shared_ptr<Graph>& graph) {
  const int8_t marked = takeMarkedState(*graph);
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
  prePassBody(graph);
}

// The pre-pass proper. Nothing here may fail the user's call: whatever goes
// wrong, the graph is left as it is and the executor carries on.
void prePassBody(std::shared_ptr<Graph>& graph) {
  specialized_here = nullptr;
  if (!is_enabled()) {
    return;
  }
  recordGraphSeen();
  bool specialized = false;
  try {
    // Before anything runs a dead-code elimination on it (stage 0).
    keepElementWrites(*graph);
    SpecializationPlan plan = decideFromProfiles(*graph);
    recordPlan(plan);
    DriverOptions options;
    options.outline = outlines_now();
    // A graph marked by a value site gets the values it fixed; any other
    // graph with bool/int/Optional inputs gets a site that learns them.
    options.learned = learnedValues(*graph);
    if (options.learned.site < 0 && get_value_learning()) {
      options.value_site = valueCandidates(*graph);
    }
    DriverResult result = specializeGraph(graph, plan, options);
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
  if (onednnPrePassRegistered()) {
    makeFuserSafe(graph);
  }
  specialized_here = specialized ? graph.get() : nullptr; // after any swap
}

bool profilingPredicate(const Node* n) {
  const int8_t marked = markedState(*n->owningGraph());
  const bool profile = (marked >= 0 ? marked != 0 : is_enabled()) && readsOptionalTensorInput(n);
  if (profile) {
    // instrumented in the call that profiles the graph: its grad mode
    recordProfiledUse(at::GradMode::is_enabled());
  }
  return profile;
}

void postFusionPass(std::shared_ptr<Graph>& graph) {
  if (graph.get() == specialized_here) {
    UnfuseInputlessGroups(graph);
  }
  specialized_here = nullptr;
  // Off is marked only while the global switch is on: otherwise every thread
  // without an override sees off anyway, and a plan made with the pass off
  // stays exactly stock.
  if (optimizing_state == 1 || (optimizing_state == 0 && globalEnabled())) {
    markSubgraphs(*graph, optimizing_state);
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

} // namespace

std::string version() {
  return TORCH_OPTSPEC_VERSION;
}

std::string built_with_torch() {
  return TORCH_VERSION;
}

const char* guard_op_name() {
  return "torch_optspec::check_none_pattern";
}

const char* value_site_op_name() {
  return "torch_optspec::check_values";
}

bool is_active_copy() {
  ensure_registered();
  return active_copy.load();
}

void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The Python package links this same library, so one process normally
    // has one copy, whatever the load order (the dynamic linker reuses a
    // loaded libtorch_optspec with the same soname). A second copy from
    // another file (dlopen-ed by path) finds the guard operator registered:
    // it stays inert and says so.
    if (!torch::jit::getAllOperatorsFor(guardKind()).empty()) {
      TORCH_WARN(
          "torch_optspec: another copy of torch_optspec is already loaded in "
          "this process and registered with the JIT; this copy (",
          version(), ", torch ", built_with_torch(),
          ") stays inactive. Load one libtorch_optspec only.");
      return;
    }
    registerGuardOperator();
    registerValueOperators();
    registerFuserSafetyOperators();
    registerPassStateOperator();
    registerEmissionBarrierOperator();
    registerKeepWriteOperator();
    torch::jit::RegisterProfilingNode(profilingPredicate);
    auto id = torch::jit::registerPrePass(specializeOptionalInputsPrePass);
    movePassToFront(id);
    torch::jit::registerPostPass(postFusionPass);
    active_copy.store(true);
  });
}

namespace {
// Runs when the shared object is loaded (linked, dlopen-ed, LD_PRELOAD-ed or
// torch.ops.load_library-ed, and when the Python package imports _C).
struct LoadTimeRegistration {
  LoadTimeRegistration() {
    ensure_registered();
    if (!is_active_copy()) {
      return;
    }
    // c10 reads TORCH_CPP_LOG_LEVEL in initLogging(), which torch's Python
    // module calls and a plain LibTorch host may never call: call it so that
    // the variable governs this library's lines there too.
    c10::initLogging();
    if (applyEnvironmentSettings()) {
      LOG(WARNING) << "torch_optspec " << version() << ": enabled by TORCH_OPTSPEC_ENABLE";
    }
  }
} load_time_registration;
} // namespace

} // namespace torch_optspec
