// Stage 5: refine the fast path.
//
// Inside block0 of the versioning If the guard has established the None-ness
// of each specialized input, so:
//   None input    -> every use reads a None constant;
//   Tensor input  -> every use reads %x.refined : Tensor = prim::unchecked_cast(%x),
//                    carrying the profiled type (the fusers guard the tensor
//                    properties they rely on; we only guarantee presence).
// The prim::profile nodes on those inputs are typed Tensor? and would hide the
// refinement from peephole and constant propagation: on a None input they are
// removed (there is nothing left to profile), on a Tensor input they are
// re-typed to Tensor and keep their profiled_type for the fusers
// (refineProfiles; the clean-up calls it again as folding exposes more, e.g.
// an Optional reassigned under `if x is not None:`).
#include "refine.h"

#include "profile.h"

#include <torch/csrc/jit/jit_log.h>

#include <optional>

namespace torch_optspec {

bool refineProfiles(Block* block) {
  bool changed = false;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* n = *it;
    ++it;
    for (Block* inner : n->blocks()) {
      changed |= refineProfiles(inner);
    }
    if (n->kind() != c10::prim::profile || n->inputs().size() != 1 ||
        !n->output()->type()->cast<c10::OptionalType>()) {
      continue;
    }
    Value* in = n->input();
    if (in->mustBeNone()) {
      // Nothing left to profile: the value is None.
      GRAPH_UPDATE("Removed the profile of a None value: ", *n);
      n->output()->replaceAllUsesWith(in);
      n->destroy();
      changed = true;
    } else if (in->type()->cast<c10::TensorType>()) {
      // Keeps its profiled_type for the fusers.
      GRAPH_UPDATE("Re-typed as Tensor: ", *n);
      n->output()->setType(c10::TensorType::get());
      changed = true;
    }
  }
  return changed;
}

namespace {

// The graph input `v` stands for, through profiles and casts; null if none.
const Value* sourceInput(const Value* v) {
  while (true) {
    const Node* n = v->node();
    if (n == v->owningGraph()->param_node()) {
      return v;
    }
    if ((n->kind() == c10::prim::profile || n->kind() == c10::prim::unchecked_cast) &&
        n->inputs().size() == 1) {
      v = n->input();
      continue;
    }
    return nullptr;
  }
}

// The constant a property read takes under the guard, or nothing when the
// plan does not fix that property.
std::optional<c10::IValue> guardedProperty(const Node* n, const InputDecision& d) {
  switch (n->kind()) {
    case c10::prim::dtype:
      if (d.dtype) {
        return c10::IValue(static_cast<int64_t>(*d.dtype));
      }
      break;
    case c10::aten::is_floating_point:
      if (d.dtype) {
        return c10::IValue(c10::isFloatingType(*d.dtype));
      }
      break;
    case c10::aten::dim:
      if (d.dim) {
        return c10::IValue(*d.dim);
      }
      break;
    case c10::prim::device:
      if (d.device) {
        return c10::IValue(*d.device);
      }
      break;
    default:
      break;
  }
  return std::nullopt;
}

// Folds, inside `block`, the property reads of guarded inputs. Only here: a
// value the guard does not check keeps its reads (a general shape peephole
// would fold unguarded values from their profiles and be wrong later).
void foldGuardedProperties(Graph& graph, Block* block, const InputDecisions& plan) {
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* n = *it;
    ++it;
    for (Block* inner : n->blocks()) {
      foldGuardedProperties(graph, inner, plan);
    }
    if (!isPropertyRead(n)) {
      continue;
    }
    const Value* input = sourceInput(n->input());
    if (!input) {
      continue;
    }
    const InputDecision& d = plan.inputs.at(input->offset());
    if (d.kind != InputKind::Tensor) {
      continue;
    }
    if (auto value = guardedProperty(n, d)) {
      torch::jit::WithInsertPoint at(n);
      Value* c = graph.insertConstant(*value);
      GRAPH_UPDATE("Folded ", *n, " to the guarded ", value->tagKind(), " ", *value);
      n->output()->replaceAllUsesWith(c);
      n->destroy();
    }
  }
}

} // namespace

void refineFastPath(Graph& graph, Block* fast, const InputDecisions& plan) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());
  torch::jit::WithInsertPoint insert_at_start(
      fast->nodes().begin() == fast->nodes().end() ? fast->return_node()
                                                 : fast->nodes().front());
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const InputDecision& d = plan.inputs[i];
    if (d.kind == InputKind::Skip) {
      continue;
    }
    Value* input = graph.inputs()[i];
    if (input->type()->kind() == c10::TypeKind::TensorType) {
      continue; // a plain Tensor: nothing to refine, only properties to fold
    }
    Value* replacement = nullptr;
    if (d.kind == InputKind::None) {
      replacement = graph.insertConstant(c10::IValue());
    } else {
      Node* cast = graph.insertNode(
          graph.create(c10::prim::unchecked_cast, {input}, 1));
      cast->output()->setType(d.type ? d.type : c10::TensorType::get());
      cast->output()->setDebugName(input->debugName() + ".refined");
      replacement = cast->output();
    }
    input->replaceAllUsesDominatedByNodeWith(replacement->node(), replacement);
    GRAPH_UPDATE(
        "Replaced %", input->debugName(), " by %", replacement->debugName(),
        d.kind == InputKind::None ? " (None)" : " (refined Tensor)",
        " in the fast path");
  }
  refineProfiles(fast);
  foldGuardedProperties(graph, fast, plan);
  GRAPH_DUMP("After refining the fast path:", &graph);
}

} // namespace torch_optspec
