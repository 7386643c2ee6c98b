// Stage 1: profiling.
//
// The profiling executor inserts a prim::profile node on an input of a node
// when the node "needs profiled inputs"; torch::jit::RegisterProfilingNode adds
// a predicate to that decision. For an Optional[Tensor] value the profile node
// records attr::seen_none (1 once a None went through) and attr::profiled_type
// (the merged TensorType of the tensors that went through; it stays the
// unrefined TensorType::get() until a tensor is seen).
//
// We ask for profiles on every node that reads an Optional[Tensor] *graph
// input*. The pipeline (../pipeline.cpp) gives the JIT this predicate gated on the switch, so
// that a disabled plugin does not change the profiled graph at all.
#include "profile.h"

namespace torch_optspec {

bool isOptionalTensorInput(const Value* v) {
  if (v->node()->kind() != c10::prim::Param ||
      v->node() != v->owningGraph()->param_node()) {
    return false; // a block input, not a graph input
  }
  auto opt = v->type()->cast<c10::OptionalType>();
  return opt && opt->getElementType()->kind() == c10::TypeKind::TensorType;
}

bool isPropertyRead(const Node* n) {
  switch (n->kind()) {
    case c10::prim::dtype:
    case c10::aten::dim:
    case c10::aten::is_floating_point:
    case c10::prim::device:
      return n->inputs().size() == 1;
    default:
      return false;
  }
}

bool readsOptionalTensorInput(const Node* n) {
  if (n->kind() == c10::prim::profile) {
    return false;
  }
  for (const Value* v : n->inputs()) {
    if (isOptionalTensorInput(v)) {
      return true;
    }
    // dtype/rank/device reads of a Tensor graph input: the guard can fix them.
    if (isPropertyRead(n) && v->node() == v->owningGraph()->param_node() &&
        v->type()->kind() == c10::TypeKind::TensorType) {
      return true;
    }
  }
  return false;
}

} // namespace torch_optspec
