// Stage 2: decide.
//
// For each Optional[Tensor] graph input, combine the prim::profile nodes on
// its uses (a graph input holds one value per call, so every profiled use saw
// the same calls, or a subset of them when the use sits in a branch):
//   only None seen           -> None
//   only defined tensors     -> Tensor, with the merged profiled type
//   both, or neither         -> skip (inconclusive: the guard would fail often,
//                               or we know nothing)
// A wrong decision is never unsafe (the guard sends such calls to the
// fallback), only slower; so we only decide when the profile is conclusive.
#include "decide.h"

#include "profile.h"

#include <torch/csrc/jit/jit_log.h>

#include <sstream>

namespace torch_optspec {

using c10::TensorType;

size_t InputDecisions::count(InputKind kind) const {
  size_t n = 0;
  for (const auto& d : inputs) {
    n += d.kind == kind ? 1 : 0;
  }
  return n;
}

size_t InputDecisions::countSkipped(SkipReason reason) const {
  size_t n = 0;
  for (const auto& d : inputs) {
    n += d.kind == InputKind::Skip && d.reason == reason ? 1 : 0;
  }
  return n;
}

const char* kindName(InputKind kind) {
  switch (kind) {
    case InputKind::Skip:
      return "skip";
    case InputKind::None:
      return "none";
    case InputKind::Tensor:
      return "tensor";
    case InputKind::Value:
      return "value";
    case InputKind::Present:
      return "present";
  }
  return "?";
}

const char* reasonName(SkipReason r) {
  switch (r) {
    case SkipReason::NotOptional:
      return "-";
    case SkipReason::Unused:
      return "unused";
    case SkipReason::NotProfiled:
      return "not_profiled";
    case SkipReason::Mixed:
      return "mixed";
    case SkipReason::Undefined:
      return "undefined_tensor";
    case SkipReason::Varying:
      return "varying";
  }
  return "?";
}

namespace {

const char* reasonText(SkipReason r) {
  switch (r) {
    case SkipReason::NotOptional:
      return "-";
    case SkipReason::Unused:
      return "skipped: unused";
    case SkipReason::NotProfiled:
      return "skipped: not profiled";
    case SkipReason::Mixed:
      return "skipped: saw None and Tensor";
    case SkipReason::Undefined:
      return "skipped: saw an undefined Tensor";
    case SkipReason::Varying:
      return "skipped: varies between calls";
  }
  return "?";
}

} // namespace

std::string InputDecisions::describe(const Graph& graph) const {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& d = inputs[i];
    out << (i ? ", " : "") << graph.inputs()[i]->debugName() << ": ";
    switch (d.kind) {
      case InputKind::None:
        out << "None";
        break;
      case InputKind::Tensor:
        out << "Tensor";
        if (d.dtype) {
          out << " " << c10::toString(*d.dtype);
        }
        if (d.dim) {
          out << " dim=" << *d.dim;
        }
        if (d.device) {
          out << " " << d.device->str();
        }
        break;
      case InputKind::Value:
        out << "= " << d.value;
        break;
      case InputKind::Present:
        out << "present";
        break;
      case InputKind::Skip:
        out << reasonText(d.reason);
        break;
    }
  }
  out << ")";
  return out.str();
}

void collectPropertyReads(const Value* v, PropertyReads& reads) {
  for (const auto& use : v->uses()) {
    const Node* n = use.user;
    switch (n->kind()) {
      case c10::prim::profile:
      case c10::prim::unchecked_cast:
        collectPropertyReads(n->output(), reads);
        break;
      case c10::prim::dtype:
      case c10::aten::is_floating_point:
        reads.dtype = true;
        break;
      case c10::aten::dim:
        reads.dim = true;
        break;
      case c10::prim::device:
        reads.device = true;
        break;
      default:
        break;
    }
  }
}

namespace {

struct ProfileSummary {
  bool profiled = false; // at least one profile node on a use
  bool seen_none = false;
  bool seen_tensor = false;
  bool seen_undefined = false;
  c10::TensorTypePtr type;
};

// Only profile nodes directly on the input count: that is where
// ProfilingRecord puts them (uses in nested blocks included).
ProfileSummary summarizeProfiles(const Value* input) {
  ProfileSummary s;
  for (const auto& use : input->uses()) {
    const Node* p = use.user;
    if (p->kind() != c10::prim::profile) {
      continue;
    }
    s.profiled = true;
    if (p->hasAttribute(c10::attr::seen_none) && p->i(c10::attr::seen_none)) {
      s.seen_none = true;
    }
    auto t = p->ty(c10::attr::profiled_type)->cast<TensorType>();
    if (!t) {
      continue;
    }
    // An undefined tensor went through: undefined() is true (or unknown once
    // merged with a defined one).
    if (t->undefined() != c10::optional<bool>(false)) {
      s.seen_undefined = true;
      continue;
    }
    // ProfileOp::hasSeenTensor() does not survive Graph::copy(), so a tensor
    // is known to have gone through when the profiled type is more than the
    // initial TensorType::get(). (Tensors differing in every property would
    // merge back to it: that input is then merely not specialized.)
    if (*t == *TensorType::get()) {
      continue;
    }
    s.seen_tensor = true;
    s.type = s.type ? s.type->merge(*t) : t;
  }
  return s;
}

// Fixes the properties the graph reads when the profile knows them (every
// tensor profiled agreed on them).
void decideProperties(const Value* input, const c10::TensorTypePtr& type, InputDecision& d) {
  if (!type) {
    return;
  }
  PropertyReads reads;
  collectPropertyReads(input, reads);
  if (reads.dtype && type->scalarType()) {
    d.dtype = type->scalarType();
  }
  if (reads.dim && type->dim()) {
    d.dim = static_cast<int64_t>(*type->dim());
  }
  if (reads.device && type->device()) {
    d.device = type->device();
  }
}

bool isTensorInput(const Value* v) {
  return v->node() == v->owningGraph()->param_node() &&
      v->type()->kind() == c10::TypeKind::TensorType;
}

InputDecision decideInput(const Value* input) {
  InputDecision d;
  if (isTensorInput(input)) {
    // A plain Tensor: only its properties can be specialized, and only when
    // the graph reads them.
    ProfileSummary s = summarizeProfiles(input);
    if (s.seen_tensor && !s.seen_undefined) {
      decideProperties(input, s.type, d);
      if (d.guardsProperties()) {
        d.kind = InputKind::Tensor;
        d.type = s.type;
        GRAPH_UPDATE("%", input->debugName(), ": tensor properties guarded");
      }
    }
    return d;
  }
  if (!isOptionalTensorInput(input)) {
    return d;
  }
  if (!input->hasUses()) {
    d.reason = SkipReason::Unused;
    return d;
  }
  ProfileSummary s = summarizeProfiles(input);
  if (s.seen_undefined) {
    d.reason = SkipReason::Undefined;
  } else if (s.seen_none && s.seen_tensor) {
    d.reason = SkipReason::Mixed;
  } else if (s.seen_none) {
    d.kind = InputKind::None;
  } else if (s.seen_tensor) {
    d.kind = InputKind::Tensor;
    d.type = s.type;
    decideProperties(input, s.type, d);
  } else {
    d.reason = SkipReason::NotProfiled;
  }
  GRAPH_UPDATE(
      "%", input->debugName(), ": ", kindName(d.kind), " (", reasonName(d.reason),
      "): profiled=", s.profiled,
      " seen_none=", s.seen_none, " seen_tensor=", s.seen_tensor,
      " seen_undefined=", s.seen_undefined);
  return d;
}

} // namespace

InputDecisions decideFromProfiles(const Graph& graph) {
  InputDecisions plan;
  for (const Value* input : graph.inputs()) {
    plan.inputs.push_back(decideInput(input));
  }
  GRAPH_DEBUG("Plan from profiles: ", plan.describe(graph));
  return plan;
}

InputDecisions decisionsFromPattern(
    const Graph& graph,
    const std::vector<std::string>& pattern) {
  TORCH_CHECK(
      pattern.size() == graph.inputs().size(),
      "torch_optspec: the pattern has ", pattern.size(),
      " entries but the graph has ", graph.inputs().size(), " inputs");
  InputDecisions plan;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const Value* input = graph.inputs()[i];
    InputDecision d;
    if (pattern[i] == "none" || pattern[i] == "tensor") {
      TORCH_CHECK(
          isOptionalTensorInput(input),
          "torch_optspec: input %", input->debugName(), " has type ",
          input->type()->repr_str(), ", not Optional[Tensor]");
      d.kind = pattern[i] == "none" ? InputKind::None : InputKind::Tensor;
      d.type = TensorType::get();
    } else {
      TORCH_CHECK(
          pattern[i].empty() || pattern[i] == "skip",
          "torch_optspec: pattern entries are 'none', 'tensor' or '' (skip), got '",
          pattern[i], "'");
    }
    plan.inputs.push_back(d);
  }
  return plan;
}

} // namespace torch_optspec
