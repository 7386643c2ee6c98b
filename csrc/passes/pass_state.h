// Stage 11, mark (in the post-pass): the pass state a plan was made with,
// recorded in the subgraphs the executor compiles later.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

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

// torch_optspec::pass_state
TORCH_OPTSPEC_API c10::Symbol passStateKind();

// The state the marker of `graph` records: -1 (none), 0 (off) or 1 (on).
TORCH_OPTSPEC_API int8_t markedPassState(const Graph& graph);

// Marks every subgraph compiled later (forEachSubgraphCompiledLater) with
// `state` (0 or 1), replacing the state of a marker already there.
TORCH_OPTSPEC_API void markSubgraphsCompiledLater(Graph& graph, int8_t state);

// Removes the marker of `graph` (and any other pass_state node of its top
// block, so that none stays in the plan); returns its state (-1: none).
TORCH_OPTSPEC_API int8_t takeMarkedPassState(Graph& graph);

} // namespace torch_optspec
