// Stage 2, decide: one decision per graph input, from the profiles.
#pragma once

#include "ir_idioms.h"

#include <optional>

namespace torch_optspec {

// The properties the graph reads of `v`, directly or through the profiles
// and casts that stand for it, added to `reads` (decide.cpp; the runtime and
// the ahead-of-time decisions both use it).
struct PropertyReads {
  bool dtype = false;  // prim::dtype, aten::is_floating_point
  bool dim = false;    // aten::dim
  bool device = false; // prim::device
};
TORCH_OPTSPEC_API void collectPropertyReads(const Value* v, PropertyReads& reads);

enum class InputKind {
  Skip,    // leave the input alone
  None,    // always None (profiled, or learned by a value site)
  Tensor,  // always a (defined) Tensor during profiling
  Value,   // a bool/int (or Optional of one) fixed to `value` (learned)
  Present, // an Optional[T] (T not Tensor) never None (learned)
};

enum class SkipReason {
  NotOptional, // not an Optional[Tensor] input (nothing to do)
  Unused,
  NotProfiled,
  Mixed,
  Undefined,
  Varying, // a value site saw it change between calls
};

// kindName: "skip", "none", "tensor", "value", "present".
// reasonName: "-", "unused", "not_profiled", "mixed", "undefined_tensor",
// "varying" (stats() counts the inputs left alone for a reason under
// "skipped_" + that name, e.g. skipped_not_profiled).
TORCH_OPTSPEC_API const char* kindName(InputKind kind);
TORCH_OPTSPEC_API const char* reasonName(SkipReason reason);

struct InputDecision {
  InputKind kind = InputKind::Skip;
  SkipReason reason = SkipReason::NotOptional;
  // For InputKind::Tensor: the merged profiled type (TensorType::get() when
  // only the presence is known).
  c10::TensorTypePtr type;
  // Tensor properties the model reads and the profile fixed: the guard checks
  // them and the fast path folds their reads (refine.cpp). Also set for plain
  // Tensor inputs (kind Tensor, nothing to refine but the properties).
  std::optional<c10::ScalarType> dtype;
  std::optional<int64_t> dim;
  std::optional<c10::Device> device;
  // For InputKind::Value: the value (None, a bool or an int).
  c10::IValue value;

  bool guardsProperties() const {
    return dtype.has_value() || dim.has_value() || device.has_value();
  }
};

// One decision per graph input, in order.
struct TORCH_OPTSPEC_API InputDecisions {
  std::vector<InputDecision> inputs;

  size_t count(InputKind kind) const;
  size_t countSkipped(SkipReason reason) const;
  bool specializesAnything() const {
    return count(InputKind::None) + count(InputKind::Tensor) > 0;
  }
  // e.g. "(self: -, inputs: -, mask: Tensor)" for logs.
  std::string describe(const Graph& graph) const;
};

TORCH_OPTSPEC_API InputDecisions decideFromProfiles(const Graph& graph);

// Builds a plan from a pattern given per graph input: "none", "tensor" or
// "" (skip). Used by tests and tools; throws on a pattern that does not fit
// the graph.
TORCH_OPTSPEC_API InputDecisions decisionsFromPattern(
    const Graph& graph,
    const std::vector<std::string>& pattern);

} // namespace torch_optspec
