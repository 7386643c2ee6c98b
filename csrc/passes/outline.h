// Stage 8, outline: the fast path into a function of its own.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// Turns block0 into a prim::FallbackGraph (compiled by the executor as a
// function of its own) so that top-level-only fusers see the fast path.
// Returns false, leaving it inline, when block0 reads no value (the function
// would have no inputs, which oneDNN Graph cannot take) or returns only None
// (canBecomeFallbackGraph).
TORCH_OPTSPEC_API bool outlineFastPath(Graph& graph, Block* fast);

} // namespace torch_optspec
