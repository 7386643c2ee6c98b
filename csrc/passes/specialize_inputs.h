// The driver: stages 3-8 on a copy of one graph, with the settings it is given.
#pragma once

#include "cleanup.h"
#include "value_site.h"

namespace torch_optspec {

struct DriverOptions {
  bool outline = false;     // stage 8 (outline) on (the caller resolves FastPathMode)
  int cleanup_max_rounds = 32;
  // Values a frozen site fixed for this graph (learnedValues): substituted.
  LearnedValues learned;
  // Put a value site over these inputs (empty: none), watching learn_calls calls.
  std::vector<ValueCandidate> value_site;
  int64_t learn_calls = 3;
};

struct TORCH_OPTSPEC_API DriverResult {
  enum class Outcome {
    Specialized,   // the graph was replaced by its guarded, specialized version
    NothingToDo,   // no input to specialize, or the graph is already versioned
    Rejected,      // the specialized copy failed (reason); graph left as it was
    Watching,      // nothing specialized yet, a value site inserted (learning)
  };
  Outcome outcome = Outcome::NothingToDo;
  std::string reason; // why NothingToDo / Rejected, empty when Specialized
  InputDecisions decisions; // the decisions, with the learned values merged in
  int64_t value_site = -1; // the site inserted, or -1
  bool guard_inserted = false; // a tensor guard (check_inputs) was inserted
  CleanupResult cleanup;
  size_t residual_checks = 0; // countResidualChecks on the fast path

  static const char* outcomeName(Outcome o);
};

// Stages 3-6 on one graph with an explicit plan. Works on a copy and swaps it
// in only when it verifies (before and after outlining), so a graph it cannot
// handle is left exactly as it was. Never throws for a graph it does not
// understand; counts nothing and reads no global state.
TORCH_OPTSPEC_API DriverResult specializeGraph(
    std::shared_ptr<Graph>& graph,
    const InputDecisions& plan,
    const DriverOptions& options);

} // namespace torch_optspec
