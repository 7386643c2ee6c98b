// The torch_optspec pass: specialize Optional[Tensor] graph inputs from the
// profiling executor's observations. See passes.h for the pipeline and
// docs/design.md for the IR at each step.
//
//   PYTORCH_JIT_LOG_LEVEL=">>specialize_optionals" python ...
//
// shows the graph before and after.
#include "passes.h"

#include <torch/csrc/jit/jit_log.h>
#include <torch_optspec/torch_optspec.h>

namespace torch_optspec {

namespace {

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

struct OptionalSpecializer {
  OptionalSpecializer(std::shared_ptr<Graph>& graph, SpecializationPlan plan)
      : graph_(graph), plan_(std::move(plan)) {}

  // Returns true when the graph was replaced by its specialized version.
  bool run() {
    if (!plan_.specializesAnything()) {
      GRAPH_DEBUG("Nothing to specialize: ", plan_.describe(*graph_));
      return false;
    }
    if (containsFallbackGraph(graph_->block())) {
      // Already versioned by the executor: SpecializeAutogradZero does this
      // to backward graphs before the custom passes run. The executor turns a
      // prim::FallbackGraph into a function only in a plan it optimizes; our
      // fallback function runs its graph unoptimized while profiling it, so a
      // copy of the executor's FallbackGraph in there would raise "Must be
      // converted to prim::FunctionCall" when reached
      // (tests/test_reliability.py::test_requires_grad_inputs_autodiff_path).
      GRAPH_DEBUG("Already versioned by the executor, left alone: ", plan_.describe(*graph_));
      return false;
    }
    GRAPH_DUMP("Before specializing " + plan_.describe(*graph_), graph_);

    // Work on a copy: the original is untouched unless the result verifies.
    auto candidate = graph_->copy();
    std::string problem;
    try {
      Block* fast = versionGraph(*candidate, plan_);
      refineFastPath(*candidate, fast, plan_);
      cleanupGraph(candidate);
      GRAPH_DEBUG(
          "Checks left on specialized inputs: ",
          countResidualChecks(*candidate, fast, plan_));
      if (shouldOutline()) {
        outlineFastPath(*candidate, fast);
      }
      problem = verifyGraph(candidate);
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      GRAPH_DEBUG("Specialization abandoned, graph left as it was: ", problem);
      recordRejected();
      return false;
    }
    graph_ = candidate;
    GRAPH_DUMP("After specializing " + plan_.describe(*graph_), graph_);
    return true;
  }

 private:
  std::shared_ptr<Graph>& graph_;
  SpecializationPlan plan_;
};

} // namespace

void SpecializeOptionalInputs(std::shared_ptr<Graph>& graph) {
  if (!is_enabled()) {
    return;
  }
  recordGraphSeen();
  // Nothing here may fail the user's call: whatever goes wrong while
  // deciding, the graph is left as it is and the executor carries on.
  try {
    SpecializationPlan plan = decideFromProfiles(*graph);
    recordPlan(plan);
    if (OptionalSpecializer(graph, plan).run()) {
      recordSpecialized(plan);
    }
  } catch (const std::exception& e) {
    GRAPH_DEBUG("Specialization abandoned, graph left as it was: ", e.what());
    recordRejected();
  }
}

bool SpecializeOptionalInputs(
    std::shared_ptr<Graph>& graph,
    const SpecializationPlan& plan) {
  return OptionalSpecializer(graph, plan).run();
}

} // namespace torch_optspec
