// The torch_optspec pipeline, one stage per file:
//
//   profile.cpp   1. ask the profiling executor to record every Optional[Tensor]
//                    graph input (seen_none / profiled_type on prim::profile)
//   decide.cpp    2. read those records into a SpecializationPlan
//   version.cpp   3. guard the plan: prim::If(check_none_pattern(...)) with the
//                    fast path in block0 and the original in block1 (a
//                    prim::FallbackGraph, or inline under grad mode)
//   refine.cpp    4. in the fast path, replace None inputs by a None constant and
//                    present inputs by a refined Tensor value
//   cleanup.cpp   5. run the JIT's peephole / constant propagation / DCE so the
//                    checks and branches on those inputs disappear, and verify
//   outline.cpp   6. if a top-level-only fuser may run (oneDNN Graph), move the
//                    fast path into a function of its own
//   specialize_optionals.cpp   the driver that runs 2-6 on one graph
//   ../register.cpp 7. the on/off switch, counters, and registration with the JIT
//   postfusion.cpp 8. after fusion: un-fuse NNC groups left without inputs
//
// PYTORCH_JIT_LOG_LEVEL=">>specialize_optionals" shows the graph before and
// after; add ">>decide:>>version:>>refine:>>cleanup:>>outline" for each stage.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <memory>
#include <string>
#include <vector>

namespace torch_optspec {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// ---- 1. profile ---------------------------------------------------------

// True for a graph input whose type is Optional[Tensor].
bool isOptionalTensorInput(const Value* v);

// The predicate given to torch::jit::RegisterProfilingNode: true for nodes
// that read an Optional[Tensor] graph input while the pass is enabled.
bool consumesOptionalTensorInput(const Node* n);

// ---- 2. decide ----------------------------------------------------------

enum class InputKind {
  Skip,   // leave the input alone
  None,   // always None during profiling
  Tensor, // always a (defined) Tensor during profiling
};

enum class SkipReason {
  NotOptional, // not an Optional[Tensor] input (nothing to do)
  Unused,
  NotProfiled,
  Mixed,
  Undefined,
};

struct InputDecision {
  InputKind kind = InputKind::Skip;
  SkipReason reason = SkipReason::NotOptional;
  // For InputKind::Tensor: the merged profiled type (TensorType::get() when
  // only the presence is known).
  c10::TensorTypePtr type;
};

// One decision per graph input, in order.
struct SpecializationPlan {
  std::vector<InputDecision> inputs;

  size_t count(InputKind kind) const;
  bool specializesAnything() const {
    return count(InputKind::None) + count(InputKind::Tensor) > 0;
  }
  // e.g. "(self: -, inputs: -, mask: Tensor)" for logs and explain().
  std::string describe(const Graph& graph) const;
};

SpecializationPlan decideFromProfiles(const Graph& graph);

// Builds a plan from a pattern given per graph input: "none", "tensor" or
// "" (skip). Used by tests and tools; throws on a pattern that does not fit
// the graph.
SpecializationPlan planFromPattern(
    const Graph& graph,
    const std::vector<std::string>& pattern);

// ---- 3. version ---------------------------------------------------------

// The guard operator: torch_optspec::check_none_pattern(...) -> bool with an
// int[] attribute `pattern` (1: must be None, 0: must be a defined Tensor).
c10::Symbol guardKind();
c10::Symbol patternAttr();
void registerGuardOperator();

// Turns the graph into
//   %ok = torch_optspec::check_none_pattern[pattern=...](specialized inputs)
//   %outs = prim::If(%ok)
//     block0: <copy of the graph body>             (returned, to be refined)
//     block1: prim::If(aten::is_grad_enabled())
//               block0: <original body>                         (grad mode)
//               block1: prim::FallbackGraph(<original body>)    (no grad)
Block* versionGraph(Graph& graph, const SpecializationPlan& plan);

// ---- 4. refine ----------------------------------------------------------

// Substitutes the specialized inputs inside `fast` and re-types or removes
// the Optional-typed prim::profile nodes that sit on them.
void refineFastPath(Graph& graph, Block* fast, const SpecializationPlan& plan);

// Re-types Tensor?-typed prim::profile nodes whose input is now a Tensor and
// removes those whose input is None. Returns true if anything changed.
bool refineProfiles(Block* block);

// ---- 5. clean up --------------------------------------------------------

// Peephole (without shape peepholes: nothing but None-ness is guarded),
// constant propagation and dead-code elimination until nothing changes.
void cleanupGraph(std::shared_ptr<Graph>& graph);

// Lints the graph and checks that every node still resolves to an operator.
// Returns an empty string when fine, else what is wrong.
std::string verifyGraph(const std::shared_ptr<Graph>& graph);

// prim::If / prim::unchecked_cast nodes in `block` (recursively) that still
// depend on one of the specialized inputs of `plan`.
size_t countResidualChecks(
    const Graph& graph,
    Block* block,
    const SpecializationPlan& plan);

// ---- 6. outline --------------------------------------------------------

// Turns block0 into a prim::FallbackGraph (compiled by the executor as a
// function of its own) so that top-level-only fusers see the fast path.
void outlineFastPath(Graph& graph, Block* fast);

// Where the fast path goes. Auto: inline, unless a custom pre-pass other than
// ours is registered (oneDNN Graph registers one when enabled; such passes
// may only read the top-level block), then outlined.
enum class FastPathMode { Auto = 0, Inline = 1, Outline = 2 };
FastPathMode fastPathMode();
void setFastPathMode(FastPathMode mode);
bool shouldOutline();

// ---- 8. post-fusion (postfusion.cpp, a custom post-pass) ---------------------

// Inlines back the NNC groups without inputs of graphs we specialized (NNC
// miscomputes such groups in torch 2.13).
void UnfuseInputlessGroups(std::shared_ptr<Graph>& graph);

// ---- driver (specialize_optionals.cpp) ------------------------------------

// The custom pre-pass: decide from profiles, then specialize. Works on a copy
// and swaps it in only when it verifies, so a graph it cannot handle is left
// exactly as it was.
void SpecializeOptionalInputs(std::shared_ptr<Graph>& graph);

// Same, with an explicit plan. Returns true when the graph was specialized.
bool SpecializeOptionalInputs(
    std::shared_ptr<Graph>& graph,
    const SpecializationPlan& plan);

// ---- 7. register (register.cpp) -------------------------------------------

// Internal counters behind torch_optspec::stats().
void recordGraphSeen();
void recordPlan(const SpecializationPlan& plan);
void recordSpecialized(const SpecializationPlan& plan);
void recordRejected();

// Sets this thread's override of the global switch (-1: none, 0: off, 1: on)
// and returns the previous one. EnabledGuard and the Python context manager
// are built on it.
int8_t exchangeThreadOverride(int8_t value);

} // namespace torch_optspec
