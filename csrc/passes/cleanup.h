// Stage 6, clean up: peephole, constant propagation and dead-code
// elimination to a fixed point.
#pragma once

#include "decide.h"

namespace torch_optspec {

struct CleanupResult {
  int rounds = 0;             // rounds run (the last one changed nothing)
  bool hit_round_limit = false; // stopped by the safety bound, not a fixed point
};

// Peephole (without shape peepholes: nothing but None-ness is guarded),
// constant propagation and dead-code elimination, repeated until a round
// leaves the graph text unchanged (the passes' own "changed" flags are not
// trusted: PeepholeOptimize keeps reporting a change on torch.nn attention
// graphs). `max_rounds` is only a safety net; hitting it is logged.
TORCH_OPTSPEC_API CleanupResult cleanupGraph(
    std::shared_ptr<Graph>& graph,
    int max_rounds = 32);

// prim::If / prim::unchecked_cast nodes in `block` (recursively) that still
// depend on one of the specialized inputs of `plan`.
TORCH_OPTSPEC_API size_t countResidualChecks(
    const Graph& graph,
    Block* block,
    const InputDecisions& plan);

} // namespace torch_optspec
