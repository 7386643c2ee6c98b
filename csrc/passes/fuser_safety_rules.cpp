// The fuser-safety rules (fuser_safety_rules.h), each with what the bridge
// does that makes it unsafe; fuser_safety.cpp's header tells the bridge's
// passes in order. torch/csrc/jit/codegen/onednn/, torch 2.13.
#include "fuser_safety_rules.h"

#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>

namespace torch_optspec::bridge {

namespace {

bool isAdd(const Node* n) {
  return n->kind() == c10::aten::add || n->kind() == c10::aten::add_;
}

bool isMul(const Node* n) {
  return n->kind() == c10::aten::mul || n->kind() == c10::aten::mul_;
}

Value* other(const Operands& o) {
  return o.n->input(1);
}

// ---- binary ops, in any block (PrepareBinaryForLLGA, RemoveTensorMutation) ----

// handleBinaryOpInputs calls scalarType().value() on the first operand.
bool noDtype(const Operands& o) {
  return !o.t0->scalarType();
}

// After RemoveTensorMutation the later uses read an output typed without a
// dtype. (From here on the first operand has a dtype.)
bool updatedInPlaceOperand(const Operands& o) {
  return updatedInPlace(o.n->input(0));
}

// DecomposeFusedAdd: add(x, y, alpha) -> add(x, mul(y, alpha)), two roundings.
bool alphaNotOne(const Operands& o) {
  if (!isAdd(o.n) || o.n->inputs().size() < 3) {
    return false;
  }
  Value* alpha = o.n->input(2);
  return torch::jit::toIValue(alpha) && !isConstantNumber(alpha, 1.0);
}

// EliminateIdentityMulAdd: the result aliases x, keeping its dtype and -0.0.
bool identity(const Operands& o) {
  return (isAdd(o.n) && isConstantNumber(other(o), 0.0)) ||
      (isMul(o.n) && isConstantNumber(other(o), 1.0));
}

// A scalar becomes as_tensor(s, dtype=<the tensor's>).unsqueeze(0): a 0-dim
// result turns [1], an integer tensor times a float loses the fraction.
bool scalarOperand(const Operands& o) {
  if (!isNumberScalar(other(o))) {
    return false;
  }
  const auto st = *o.t0->scalarType();
  const auto r = rankOf(o.t0);
  return (st != at::kFloat && st != at::kDouble) || !r || *r == 0;
}

std::string scalarOperandReason(const Operands& o) {
  return "a scalar operand on a tensor (" + describe(o.t0) +
      "): the bridge would make the scalar a [1] tensor of that dtype";
}

// aten::to(promoteTypes(a, b)): not PyTorch's promotion with a 0-dim operand.
bool twoDtypes(const Operands& o) {
  if (isNumberScalar(other(o)) || !o.t1 || !o.t1->scalarType() ||
      *o.t1->scalarType() == *o.t0->scalarType()) {
    return false;
  }
  const auto r0 = rankOf(o.t0), r1 = rankOf(o.t1);
  return !r0 || !r1 || *r0 == 0 || *r1 == 0;
}

std::string twoDtypesReason(const Operands& o) {
  return "operands of two dtypes, one of them 0-dim or of unknown rank (" +
      describe(o.t0) + "; " + describe(o.t1) +
      "): the bridge would promote them with promoteTypes";
}

// ---- binary ops, in the partitioned block (graph_helper.cpp, kernel.cpp) ----

// The first operand (of the two) of unknown rank or 0-dim: "partition compile
// failed" at the first call.
const c10::TensorTypePtr* badRankOperand(const Operands& o) {
  for (const c10::TensorTypePtr* t : {&o.t0, &o.t1}) {
    if (*t && (!rankOf(*t) || *rankOf(*t) == 0)) {
      return t;
    }
  }
  return nullptr;
}

bool operandRank(const Operands& o) {
  return badRankOperand(o) != nullptr;
}

std::string operandRankReason(const Operands& o) {
  return rankOf(*badRankOperand(o))
      ? "a 0-dim operand in the partitioned block: oneDNN fails to compile the partition"
      : "an operand of unknown rank in the partitioned block";
}

// (a + v) * v, linear(a + v, w, v): a partition taking v twice.
bool sharedOperand(const Operands& o) {
  if (!o.t1) {
    return false;
  }
  for (size_t i = 0; i < 2; ++i) {
    Value* v = o.n->input(i);
    if (!isSourceTensor(v) &&
        (sharesPartitionInputWithProducer(o.n, v) || sharesPartitionInputWithConsumer(o.n, v))) {
      return true;
    }
  }
  return false;
}

// The chain's operands, earliest first (chainOperands).
std::string chainEarliestFirst(const Operands& o) {
  std::string chain = chainOperands(o.n, *o.types);
  std::reverse(chain.begin(), chain.end());
  return chain;
}

// Along a chain of fused elementwise ops: a second broadcast operand after a
// same-shape one (x * 0.5 + full + vec + vec).
bool broadcastChain(const Operands& o) {
  const std::string chain = chainEarliestFirst(o);
  const size_t first_full = chain.find('f');
  return !chain.empty() && chain.back() == 'b' && first_full != std::string::npos &&
      std::count(chain.begin() + first_full, chain.end(), 'b') >= 2;
}

std::string broadcastChainReason(const Operands& o) {
  return "a second broadcast operand after a same-shape one in a chain of "
         "elementwise ops (" + chainEarliestFirst(o) + "): oneDNN computes such "
         "partitions wrongly";
}

// layer_norm + add of a tensor of the same rank, fused into one partition
// that returns a wrong result (off by O(1)) when the add ends it; an add fed
// by a matmul/linear is fused with that instead (BERT's residuals).
bool addToLayerNorm(const Operands& o) {
  if (!o.t1 || !isAdd(o.n)) {
    return false;
  }
  for (size_t i = 0; i < 2; ++i) {
    if (throughProfiles(o.n->input(i))->node()->kind() != c10::aten::layer_norm ||
        isMatmulLike(throughProfiles(o.n->input(1 - i))->node()->kind())) {
      continue;
    }
    const auto r_norm = rankOf(i == 0 ? o.t0 : o.t1);
    const auto r_other = rankOf(i == 0 ? o.t1 : o.t0);
    if (!r_norm || !r_other || *r_norm == *r_other) {
      return true;
    }
  }
  return false;
}

// Right after a matmul/linear, an operand made by control flow or a call:
// a vector range error.
bool opaqueOperandAfterMatmul(const Operands& o) {
  if (!o.t1) {
    return false;
  }
  for (size_t c = 0; c < 2; ++c) {
    if (isMatmulLike(throughProfiles(o.n->input(1 - c))->node()->kind()) &&
        isOpaqueProducer(throughProfiles(o.n->input(c))->node())) {
      return true;
    }
  }
  return false;
}

// A constant tensor operand (or a factory's): after a matmul/linear a range
// error, next to a broadcast input a wrong result.
bool constantOperand(const Operands& o) {
  return o.t1 && (isSourceTensor(o.n->input(0)) || isSourceTensor(o.n->input(1)));
}

// ---- silu (DecomposeSiluForLLGA: silu(linear/_convolution) -> x * sigmoid(x)) ----

bool siluOfProduct(const Node* n) {
  const auto producer = throughProfiles(n->input(0))->node()->kind();
  return producer == c10::aten::linear || producer == c10::aten::_convolution;
}

// The mul it decomposes into goes through handleBinaryOpInputs.
bool siluNoDtype(const Operands& o) {
  return siluOfProduct(o.n) &&
      (!o.t0 || !o.t0->scalarType() || updatedInPlace(o.n->input(0)));
}

// Outside the partitioned block, x * sigmoid(x) is never fused and rounds
// differently from silu.
bool siluNested(const Operands& o) {
  return siluOfProduct(o.n);
}

template <const char* Text>
std::string fixed(const Operands&) {
  return Text;
}

constexpr char kNoDtype[] =
    "its first operand has no dtype (never profiled, or profiled with several "
    "dtypes): the bridge would throw";
constexpr char kUpdatedInPlace[] =
    "its first operand is updated in place: after the bridge's mutation removal "
    "it has no dtype, and the bridge would throw";
constexpr char kAlpha[] = "alpha is not 1: the bridge would split it into mul + add";
constexpr char kIdentity[] =
    "an identity (x + 0, x * 1): the bridge would replace it by x itself";
constexpr char kShared[] =
    "an operand that another op of its would-be partition reads too (as in "
    "(a + v) * v, or linear(a + v, w, v)): oneDNN crashes or miscomputes such "
    "partitions";
constexpr char kLayerNormAdd[] =
    "an add of a tensor of the same rank to a layer_norm: oneDNN fuses it into a "
    "partition that computes a wrong result";
constexpr char kOpaqueAfterMatmul[] =
    "an operand made by control flow or a call, right after a matmul/linear: "
    "oneDNN fails on the partition (vector range error)";
constexpr char kConstant[] =
    "a constant tensor operand (or one made by a factory) in the partitioned "
    "block: oneDNN fails on such partitions after a matmul/linear, and computes "
    "wrong results next to a broadcast input";
constexpr char kSiluNoDtype[] =
    "silu of a linear/convolution without a dtype: the bridge would throw on the "
    "mul it decomposes it into";
constexpr char kSiluNested[] =
    "silu of a linear/convolution outside the partitioned block: the bridge's x * "
    "sigmoid(x) rounds differently and is never fused there";

bool inScope(Scope scope, bool top_level) {
  return scope == Scope::AnyBlock || (scope == Scope::TopLevel) == top_level;
}

} // namespace

const std::vector<Rule>& binaryRules() {
  static const std::vector<Rule> rules = {
      {"no_dtype", Scope::AnyBlock, noDtype, fixed<kNoDtype>},
      {"updated_in_place", Scope::AnyBlock, updatedInPlaceOperand, fixed<kUpdatedInPlace>},
      {"alpha_not_one", Scope::AnyBlock, alphaNotOne, fixed<kAlpha>},
      {"identity", Scope::AnyBlock, identity, fixed<kIdentity>},
      {"scalar_operand", Scope::AnyBlock, scalarOperand, scalarOperandReason},
      {"two_dtypes", Scope::AnyBlock, twoDtypes, twoDtypesReason},
      {"operand_rank", Scope::TopLevel, operandRank, operandRankReason},
      {"shared_operand", Scope::TopLevel, sharedOperand, fixed<kShared>},
      {"broadcast_chain", Scope::TopLevel, broadcastChain, broadcastChainReason},
      {"add_to_layer_norm", Scope::TopLevel, addToLayerNorm, fixed<kLayerNormAdd>},
      {"opaque_operand_after_matmul", Scope::TopLevel, opaqueOperandAfterMatmul,
       fixed<kOpaqueAfterMatmul>},
      {"constant_operand", Scope::TopLevel, constantOperand, fixed<kConstant>},
  };
  return rules;
}

const std::vector<Rule>& siluRules() {
  static const std::vector<Rule> rules = {
      {"silu_no_dtype", Scope::AnyBlock, siluNoDtype, fixed<kSiluNoDtype>},
      {"silu_nested", Scope::Nested, siluNested, fixed<kSiluNested>},
  };
  return rules;
}

Verdict firstRuleThatApplies(
    const std::vector<Rule>& rules,
    Node* n,
    const BridgeTypes& types,
    bool top_level) {
  Operands o;
  o.n = n;
  o.types = &types;
  o.t0 = types.tensor(n->input(0));
  o.t1 = n->inputs().size() >= 2 ? types.tensor(n->input(1)) : nullptr;
  for (const Rule& rule : rules) {
    if (inScope(rule.scope, top_level) && rule.applies(o)) {
      return {&rule, rule.reason(o)};
    }
  }
  return {};
}

} // namespace torch_optspec::bridge
