// Stage 12, emission barriers (in the post-pass): a no-op after each loop.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// torch_optspec::emission_barrier() -> (), a side-effecting no-op.
TORCH_OPTSPEC_API c10::Symbol emissionBarrierKind();
// Puts a barrier right after every prim::Loop and every prim::If holding a
// prim::Loop, in every block of `graph` (and, with `subgraphs`, of the
// subgraphs of its prim::FallbackGraph and prim::fork nodes, compiled later):
// stock TorchScript's interpreter then never emits such a node inline in its
// user's expression, which can move a value out of its register inside the
// loop body (the file says how). Idempotent. Returns the number inserted.
TORCH_OPTSPEC_API size_t insertEmissionBarriers(Graph& graph, bool subgraphs);
// Removes every barrier in the blocks of `graph` (and, with `subgraphs`, of
// those subgraphs). Returns the number removed.
TORCH_OPTSPEC_API size_t removeEmissionBarriers(Graph& graph, bool subgraphs);

} // namespace torch_optspec
