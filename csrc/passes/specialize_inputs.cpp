// The driver: stages 3-8 (value site, version, refine, clean up, verify,
// outline) on a copy of one graph, with explicit decisions and explicit
// settings. It reads no global state and counts nothing: the pipeline
// (../pipeline.cpp) decides when it runs, with which settings, and records
// its result. See passes.h for the stages and docs/design.md for the IR at
// each step.
//
//   PYTORCH_JIT_LOG_LEVEL=">specialize_inputs" python ...
//
// shows the graph before and after.
#include "specialize_inputs.h"

#include "outline.h"
#include "refine.h"
#include "verify.h"
#include "version.h"

#include <torch/csrc/jit/jit_log.h>

#include <stdexcept>

namespace torch_optspec {

namespace {

// A stage's output that does not verify stops the driver (transformCopy
// returns the problem).
void throwIfBroken(const std::shared_ptr<Graph>& graph) {
  const std::string problem = verifyGraph(graph);
  if (!problem.empty()) {
    throw std::runtime_error(problem);
  }
}

bool containsFallbackGraph(Block* block) {
  for (Node* n : block->nodes()) {
    if (n->kind() == c10::prim::FallbackGraph) {
      return true;
    }
    for (Block* b : n->blocks()) {
      if (containsFallbackGraph(b)) {
        return true;
      }
    }
  }
  return false;
}

struct InputSpecializer {
  InputSpecializer(
      std::shared_ptr<Graph>& graph,
      const InputDecisions& plan,
      const DriverOptions& options)
      : graph_(graph), options_(options) {
    result_.decisions = plan;
  }

  DriverResult run() {
    using Outcome = DriverResult::Outcome;
    const InputDecisions plan = result_.decisions; // the profiled (tensor) plan
    if (plan.inputs.size() != graph_->inputs().size()) {
      return reject("the plan does not fit the graph's inputs");
    }
    const bool tensors = plan.specializesAnything();
    const bool values = !options_.learned.fixed.empty();
    const bool site = !options_.value_site.empty();
    if (!tensors && !values && !site) {
      result_.reason = "no input with a conclusive profile";
      GRAPH_DEBUG("Nothing to specialize: ", plan.describe(*graph_));
      return result_;
    }
    if (containsFallbackGraph(graph_->block())) {
      // Already versioned by the executor: SpecializeAutogradZero does this
      // to backward graphs before the custom passes run. The executor turns a
      // prim::FallbackGraph into a function only in a plan it optimizes; our
      // fallback function runs its graph unoptimized while profiling it, so a
      // copy of the executor's FallbackGraph in there would raise "Must be
      // converted to prim::FunctionCall" when reached
      // (tests/test_edge_cases.py::test_requires_grad_inputs_autodiff_path).
      result_.reason = "already versioned by the executor";
      GRAPH_DEBUG("Already versioned by the executor, left alone: ", plan.describe(*graph_));
      return result_;
    }
    GRAPH_DUMP("Before specializing " + plan.describe(*graph_), graph_);

    // Work on a copy: the original is untouched unless the result verifies.
    const std::string problem = transformCopy(graph_, [&](std::shared_ptr<Graph>& candidate) {
      if (values) {
        substituteValues(*candidate, options_.learned);
        for (const auto& [input, d] : options_.learned.fixed) {
          result_.decisions.inputs.at(input) = d;
        }
      }
      Block* fast = nullptr;
      if (tensors) {
        result_.guard_inserted = true;
        fast = versionGraph(*candidate, plan);
        refineFastPath(*candidate, fast, plan);
      }
      result_.cleanup = cleanupGraph(candidate, options_.cleanup_max_rounds);
      if (fast) {
        result_.residual_checks = countResidualChecks(*candidate, fast, plan);
        GRAPH_DEBUG("Checks left on specialized inputs: ", result_.residual_checks);
      }
      // Verified before outlining too: once outlined, the fast path is the
      // subgraph of a prim::FallbackGraph node (verifyGraph enters those as
      // well, so the final check covers the outlined function).
      if (fast && options_.outline) {
        throwIfBroken(candidate);
        outlineFastPath(*candidate, fast);
      }
      if (site) {
        // With a top-level-only fuser, a body left generic would sit nested
        // in the site's If: it becomes a function too. Only a body without
        // FallbackGraph nodes can be (a function's profiling run executes its
        // graph unoptimized, where those are not converted yet): a versioned
        // body already keeps its fast path in a function of its own.
        throwIfBroken(candidate);
        result_.value_site = insertValueSite(
            *candidate, *graph_, options_.value_site, options_.learn_calls,
            options_.outline && !fast);
      }
      return true;
    });
    if (!problem.empty()) {
      return reject(problem);
    }
    result_.outcome = tensors || values ? Outcome::Specialized : Outcome::Watching;
    GRAPH_DUMP("After specializing " + result_.decisions.describe(*graph_), graph_);
    return result_;
  }

 private:
  DriverResult reject(const std::string& problem) {
    GRAPH_DEBUG("Specialization abandoned, graph left as it was: ", problem);
    result_.outcome = DriverResult::Outcome::Rejected;
    result_.reason = problem;
    return result_;
  }

  std::shared_ptr<Graph>& graph_;
  const DriverOptions options_;
  DriverResult result_;
};

} // namespace

const char* DriverResult::outcomeName(Outcome o) {
  switch (o) {
    case Outcome::Specialized:
      return "specialized";
    case Outcome::NothingToDo:
      return "nothing_to_do";
    case Outcome::Rejected:
      return "rejected";
    case Outcome::Watching:
      return "watching_values";
  }
  return "?";
}

DriverResult specializeGraph(
    std::shared_ptr<Graph>& graph,
    const InputDecisions& plan,
    const DriverOptions& options) {
  return InputSpecializer(graph, plan, options).run();
}

} // namespace torch_optspec
