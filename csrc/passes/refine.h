// Stage 5, refine: the decided inputs replaced inside the fast path.
#pragma once

#include "decide.h"

namespace torch_optspec {

// Substitutes the specialized inputs inside `fast` and re-types or removes
// the Optional-typed prim::profile nodes that sit on them.
TORCH_OPTSPEC_API void refineFastPath(
    Graph& graph,
    Block* fast,
    const InputDecisions& plan);

// Re-types Tensor?-typed prim::profile nodes whose input is now a Tensor and
// removes those whose input is None. Returns true if anything changed.
TORCH_OPTSPEC_API bool refineProfiles(Block* block);

} // namespace torch_optspec
