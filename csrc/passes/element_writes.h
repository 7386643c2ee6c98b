// Stage 0, element writes (first in the pre-pass): keep in-place updates of
// list/tuple elements from stock dead-code elimination.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// torch_optspec::keep_write(Tensor self) -> (), a side-effecting no-op.
TORCH_OPTSPEC_API c10::Symbol keepWriteKind();
// Puts keep_write(result) right after every in-place op (its first argument
// written) whose target is an element of a prim::ListConstruct or
// prim::TupleConstruct built before it, in every block of `graph`: stock
// dead-code elimination does not see such a write as live and drops it (the
// file says how). Idempotent. Returns the number inserted.
TORCH_OPTSPEC_API size_t keepElementWrites(Graph& graph);

} // namespace torch_optspec
