// Stage 1, profile: which nodes the profiling executor must profile.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// True for a graph input whose type is Optional[Tensor].
TORCH_OPTSPEC_API bool isOptionalTensorInput(const Value* v);

// True for nodes that read an Optional[Tensor] graph input, and for the
// property reads (prim::dtype, aten::dim, aten::is_floating_point,
// prim::device) of a Tensor graph input: the nodes whose inputs the pass needs
// profiled. (the pipeline gives the JIT this predicate, gated on the switch.)
TORCH_OPTSPEC_API bool readsOptionalTensorInput(const Node* n);

// True for the nodes that read a tensor property the guard can check:
// prim::dtype, aten::dim, aten::is_floating_point, prim::device.
TORCH_OPTSPEC_API bool isPropertyRead(const Node* n);

} // namespace torch_optspec
