// Stage 10, post-fusion (a custom post-pass): un-fuse NNC CPU groups left
// without inputs.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// Inlines back the NNC CPU groups without inputs (NNC miscomputes such groups
// in torch 2.13). Returns the number un-fused. the pipeline runs it on the
// graphs the pre-pass specialized in the same optimization only.
TORCH_OPTSPEC_API size_t UnfuseInputlessGroups(std::shared_ptr<Graph>& graph);

} // namespace torch_optspec
