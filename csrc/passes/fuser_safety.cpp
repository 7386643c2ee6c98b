// Stage 7: fuser safety. Keeps oneDNN Graph's bridge from failing, or from
// changing results, on the graph it is about to receive. register.cpp runs it
// right before oneDNN Graph's pre-pass (ours is first in the pre-pass list),
// on every graph the pass is asked to optimize while oneDNN Graph is
// registered: the ones it specialized and the ones it left alone.
//
// What the bridge does (torch/csrc/jit/codegen/onednn/, torch 2.13) before it
// partitions the top-level block, to every block of the graph:
//  - RemoveTensorMutation turns add_/mul_/relu_/... into add/mul/relu/...:
//    the later uses of the updated value read the new op's output, typed like
//    the in-place op's output (no dtype in a profiled graph);
//  - DecomposeSiluForLLGA: silu(linear(..)) and silu(_convolution(..)) become
//    x * sigmoid(x), the mul typed like x;
//  - PrepareBinaryForLLGA (prepare_binary.cpp), on every aten::add/mul/div:
//      DecomposeFusedAdd: add(x, y, alpha != 1) -> add(x, mul(y, alpha)), two
//        roundings instead of one;
//      EliminateIdentityMulAdd: x + 0 and x * 1 are replaced by x itself (the
//        result then aliases x and keeps its dtype and its -0.0);
//      handleBinaryOpInputs, when the first input is a Tensor, calls
//        scalarType().value() on it. A value made in a block the profiling
//        run never executed (or profiled with two dtypes) has no dtype: "bad
//        optional access" at optimization, so every call after the first
//        fails. A Float/Int scalar operand becomes
//        as_tensor(s, dtype=<the tensor's dtype>).unsqueeze(0): a 0-dim result
//        turns into shape [1], an integer or bool tensor times a float scalar
//        loses the fraction, a reduced float rounds the scalar first. Tensor
//        operands of two dtypes get aten::to(promoteTypes(a, b)), which is
//        not PyTorch's promotion when one of them is 0-dim.
// and, in the top-level block it partitions (graph_helper.cpp, kernel.cpp):
//  - linear with a bias that may be None at run time (an unspecialized
//    Optional): the partition receives None and fails;
//  - layer_norm with a None weight or bias: the None inputs are dropped ("could
//    not add op to the graph", or a range error at compile); a normalized_shape
//    that is not a constant is read as one anyway;
//  - add/mul/div with a 0-dim tensor operand ("partition compile failed" at the
//    first call), or with a constant tensor operand (or one made by a factory
//    such as aten::full): right after a matmul/linear a vector range error,
//    in a partition with a broadcast input a wrong result; right after a
//    matmul/linear, an operand made by a prim::If (an assert, a ternary), a
//    loop or a call fails the same way;
//  - an operand v that another op of the would-be partition reads too (an
//    add/mul/div feeding this one, or any op oneDNN fuses that this one
//    feeds), as in (a + v) * v or linear(a + v, w, v): a partition taking v
//    twice (a segmentation fault in the kernel, or a wrong result);
//  - in a chain of elementwise ops fused into one partition, a second
//    operand that broadcasts after one of the chain's shape, as in
//    x * 0.5 + full + vec + vec (a wrong result);
//  - an add of a tensor of the same rank to a layer_norm's result (constant
//    or not, unless made by a matmul/linear, which oneDNN fuses the add with
//    instead): fused into one partition that returns a wrong result when the
//    add ends the partition (off by O(1));
//  - reads inside a nested block are invisible to it: the graph it partitions
//    holds the top-level nodes with their own inputs only (graph_helper.cpp),
//    so a value that an op of a partition reads and that an If/Loop body
//    also reads looks internal to the partition. oneDNN may then pick a
//    pattern that cannot return it (matmul-softmax-matmul whose softmax an
//    `if output_attentions:` returns); the fusion group returns it anyway,
//    and the kernel, partitioning its own subgraph again, finds two
//    partitions: "LLGA subgraph should contain only one partition" when the
//    plan is compiled, so every call fails from then on.
// and its cost: DeferSizeCheck builds an AliasDb of the whole graph for each
// block of the graph, and CreateLlgaSubgraphs, for each block, twice, a
// LlgaGraphHelper (an AliasDb of the whole graph and oneDNN's partitioning of
// the top-level block): blocks x nodes, quadratic in the model. A graph whose
// straight-line code the pass has lengthened, and which still holds the
// model's own control flow (nn.MultiheadAttention's checks), took minutes
// (open_clip ViT-B-32, image and text: 2 layers 12 s in that one pass).
// And, in every block, DeferSizeCheck (defer_size_check.cpp): for each
// aten::size(x) -> int[] whose x has other uses, it asks every other user of
// x for its operator; a user that has none (a block's prim::Return, a
// prim::Loop) throws "Schema not found for node. File a bug report.".
//
// The stage rewrites those nodes into nodes that compute the same values with
// the same ATen kernels and that the bridge does not match:
//   aten::mul(_) -> aten::multiply(_), aten::div -> aten::divide (ATen's
//     aliases: they call at::mul / at::div);
//   aten::add(_) -> torch_optspec::add(_), aten::silu -> torch_optspec::silu,
//     aten::linear -> torch_optspec::linear (registered below: they call
//     at::add / at::silu / at::linear);
//   layer_norm(x, s, w, None) / (x, s, None, None) -> the same with zeros /
//     ones converted to x's dtype and device (ATen computes the same bits,
//     and oneDNN Graph fuses it);
//   any other unsafe layer_norm -> aten::native_layer_norm, output 0 (what
//     layer_norm calls);
//   a top-level tensor read inside a nested block, and read by a top-level
//     node too: the nested reads read torch_optspec::block_read(v) instead,
//     a top-level node returning v itself that the bridge sees (as an op it
//     does not fuse), so v leaves any partition as an output;
//   aten::size(x) -> int[] where a user of x has no operator ->
//     torch_optspec::size (x.sizes()), which DeferSizeCheck does not match;
//   when blocks x nodes exceeds kBridgeWorkLimit (about a second of the
//     bridge's time), first: the model's own If/Loop nodes, largest first,
//     each into a prim::FallbackGraph, until it does not. The bridge does not
//     enter subgraphs; the executor compiles each into a function of its own
//     when first called (as it does the pass's slow paths), where the same
//     bound holds. Only nodes whose results are used are moved (after
//     dead-code elimination): a FallbackGraph has no side effects for DCE,
//     so one whose results are unused would be dropped with, say, a raise in
//     it. Nodes holding the pass's own guards, markers or subgraphs are
//     entered instead.
// A renamed node is only left out of oneDNN's partitions. Types are read as
// the bridge will see them: after torch's RemoveProfileNodesAndSpecializeTypes
// (the bridge's first step), run here on a copy of the graph.
//
//   PYTORCH_JIT_LOG_LEVEL=">>fuser_safety"    each rewrite and why
#include "passes.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>
#include <torch/csrc/jit/runtime/custom_operator.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <algorithm>
#include <atomic>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace torch_optspec {

using c10::TensorType;
using torch::jit::Stack;

namespace {

namespace sym {
const c10::Symbol& add() {
  static const auto s = c10::Symbol::fromQualString("torch_optspec::add");
  return s;
}
const c10::Symbol& add_() {
  static const auto s = c10::Symbol::fromQualString("torch_optspec::add_");
  return s;
}
const c10::Symbol& silu() {
  static const auto s = c10::Symbol::fromQualString("torch_optspec::silu");
  return s;
}
const c10::Symbol& linear() {
  static const auto s = c10::Symbol::fromQualString("torch_optspec::linear");
  return s;
}
const c10::Symbol& size() {
  static const auto s = c10::Symbol::fromQualString("torch_optspec::size");
  return s;
}
const c10::Symbol& block_read() {
  static const auto s = c10::Symbol::fromQualString("torch_optspec::block_read");
  return s;
}
} // namespace sym

// ---- the types the bridge will see ---------------------------------------

// The type of every value once RemoveProfileNodesAndSpecializeTypes has run:
// that pass is run on a copy, whose nodes (the original's, in the same order,
// minus prim::profile nodes) are walked alongside the original's. If the two
// do not line up, every Tensor is taken to have no dtype and no rank (the
// stage then renames every node it looks at: safe, unfused).
class BridgeTypes {
 public:
  explicit BridgeTypes(Graph& graph) {
    auto copy = graph.copy();
    try {
      torch::jit::RemoveProfileNodesAndSpecializeTypes(copy);
      exact_ = pair(graph.block(), copy->block());
    } catch (const std::exception& e) {
      // e.g. the profiling run's counter node (no outputs), which the
      // executor removes before optimizing
      GRAPH_DEBUG("fuser safety: no profile-free copy: ", e.what());
      exact_ = false;
    }
    if (!exact_) {
      types_.clear();
      GRAPH_DEBUG("fuser safety: the profile-free copy does not line up; "
                  "every tensor is taken as dtype-less. The copy:\n", *copy);
    }
  }

  bool exact() const {
    return exact_;
  }

  // `v` with the prim::profile nodes on it looked through.
  static Value* source(Value* v) {
    while (v->node()->kind() == c10::prim::profile && v->node()->inputs().size() == 1) {
      v = v->node()->input(0);
    }
    return v;
  }

  // `to` replaces `from` (about to be destroyed): its outputs take the types
  // of `from`'s (the entries of destroyed values must go: their addresses
  // are reused by new values).
  void replaced(Node* from, Node* to) {
    for (size_t i = 0; i < from->outputs().size() && i < to->outputs().size(); ++i) {
      auto it = types_.find(from->output(i));
      if (it != types_.end()) {
        types_[to->output(i)] = it->second;
        types_.erase(from->output(i));
      }
    }
  }

  // The TensorType of `v` as the bridge sees it, or null when `v` is not a
  // Tensor there.
  c10::TensorTypePtr tensor(Value* v) const {
    Value* s = source(v);
    c10::TypePtr t = s->type();
    auto it = types_.find(s);
    if (it != types_.end()) {
      t = it->second;
    } else if (!exact_ && t->isSubtypeOf(TensorType::get())) {
      return TensorType::get();
    }
    if (!t->isSubtypeOf(TensorType::get())) {
      return nullptr;
    }
    return t->expect<TensorType>();
  }

 private:
  bool pair(Block* orig, Block* copy) {
    if (orig->inputs().size() != copy->inputs().size()) {
      return false;
    }
    for (size_t i = 0; i < orig->inputs().size(); ++i) {
      types_[orig->inputs()[i]] = copy->inputs()[i]->type();
    }
    // The pass keeps (unused) the profile nodes that never recorded a type:
    // skipped on both sides.
    auto c = copy->nodes().begin();
    auto skipProfiles = [&] {
      while (c != copy->nodes().end() && c->kind() == c10::prim::profile) {
        ++c;
      }
    };
    for (Node* n : orig->nodes()) {
      if (n->kind() == c10::prim::profile) {
        continue;
      }
      skipProfiles();
      if (c == copy->nodes().end()) {
        return false;
      }
      Node* m = *c;
      ++c;
      if (m->kind() != n->kind() || m->outputs().size() != n->outputs().size() ||
          m->blocks().size() != n->blocks().size()) {
        return false;
      }
      for (size_t i = 0; i < n->outputs().size(); ++i) {
        types_[n->output(i)] = m->output(i)->type();
      }
      for (size_t b = 0; b < n->blocks().size(); ++b) {
        if (!pair(n->blocks()[b], m->blocks()[b])) {
          return false;
        }
      }
    }
    skipProfiles();
    return c == copy->nodes().end();
  }

  std::unordered_map<const Value*, c10::TypePtr> types_;
  bool exact_ = false;
};

// ---- small predicates --------------------------------------------------------

std::optional<size_t> rankOf(const c10::TensorTypePtr& t) {
  return t ? t->dim() : std::nullopt;
}

// As the bridge's compareConstValue: an int or float constant equal to d.
bool isConstantNumber(Value* v, double d) {
  auto iv = torch::jit::toIValue(v);
  return iv &&
      ((iv->isInt() && static_cast<int>(iv->toInt()) == d) ||
       (iv->isDouble() && iv->toDouble() == d));
}

bool isNumberScalar(Value* v) {
  return v->type()->isSubtypeOf(c10::FloatType::get()) ||
      v->type()->isSubtypeOf(c10::IntType::get());
}

// A tensor made by a node without tensor inputs: a constant, or a factory such
// as aten::full (oneDNN treats both as constants).
bool isSourceTensor(Value* v) {
  Node* n = BridgeTypes::source(v)->node();
  if (n->kind() == c10::prim::Param ||
      !BridgeTypes::source(v)->type()->isSubtypeOf(TensorType::get())) {
    return false;
  }
  for (const Value* in : n->inputs()) {
    if (in->type()->isSubtypeOf(TensorType::get()) ||
        in->type()->cast<c10::OptionalType>()) {
      return false;
    }
  }
  return n->blocks().empty();
}

// Nodes whose outputs oneDNN's partitioner sees without a producing op:
// control flow, calls, unpacking, futures.
bool isOpaqueProducer(const Node* n) {
  if (!n->blocks().empty()) {
    return true;
  }
  switch (n->kind()) {
    case c10::prim::CallFunction:
    case c10::prim::CallMethod:
    case c10::prim::FallbackGraph:
    case c10::prim::TupleUnpack:
    case c10::prim::ListUnpack:
    case c10::prim::TupleIndex:
    case c10::prim::Uninitialized:
    case c10::aten::wait:
      return true;
    default:
      return false;
  }
}

// The in-place ops the bridge's RemoveTensorMutation turns into functional
// ones (interface.cpp). The uses of the updated value after such an op then
// read the functional op's output, typed like the in-place op's output: in a
// profiled graph, without a dtype.
bool isFunctionalizedInPlace(const Node* n) {
  static const std::unordered_set<c10::Symbol> ops = {
      c10::aten::add_,     c10::aten::mul_,      c10::aten::tanh_,  c10::aten::elu_,
      c10::aten::relu_,    c10::aten::relu6_,    c10::aten::gelu_,  c10::aten::sqrt_,
      c10::aten::sigmoid_, c10::aten::hardtanh_, c10::aten::abs_,   c10::aten::square_,
      c10::aten::pow_,     c10::aten::leaky_relu_, c10::aten::round_, c10::aten::exp_,
      c10::aten::hardswish_, c10::aten::silu_};
  return ops.count(n->kind()) > 0;
}

// True when `v` (looked through its profiles) is updated by one of those ops.
bool updatedInPlace(Value* v) {
  std::vector<Value*> todo{BridgeTypes::source(v)};
  while (!todo.empty()) {
    Value* w = todo.back();
    todo.pop_back();
    for (const auto& use : w->uses()) {
      if (use.user->kind() == c10::prim::profile) {
        todo.push_back(use.user->output());
      } else if (use.offset == 0 && isFunctionalizedInPlace(use.user)) {
        return true;
      }
    }
  }
  return false;
}

std::string describe(const c10::TensorTypePtr& t) {
  std::ostringstream out;
  auto st = t ? t->scalarType() : std::nullopt;
  auto r = rankOf(t);
  out << (st ? c10::toString(*st) : "no dtype") << ", rank "
      << (r ? std::to_string(*r) : std::string("?"));
  return out.str();
}

// ---- binary ops -------------------------------------------------------------

struct Rename {
  c10::Symbol to;
  std::vector<std::string> overloads; // the overloads `to` also has
};

// The nodes the bridge rewrites (add_/mul_ through RemoveTensorMutation) and
// their same-kernel replacements. aten::div_ is not functionalized by the
// bridge, so it is left alone.
const Rename* binaryRename(const Node* n) {
  static const Rename add{sym::add(), {"Tensor", "Scalar"}};
  static const Rename add_{sym::add_(), {"Tensor", "Scalar"}};
  static const Rename mul{
      c10::Symbol::fromQualString("aten::multiply"), {"Tensor", "Scalar", "out"}};
  static const Rename mul_{
      c10::Symbol::fromQualString("aten::multiply_"), {"Tensor", "Scalar"}};
  static const Rename div{
      c10::Symbol::fromQualString("aten::divide"),
      {"Tensor", "Scalar", "Tensor_mode", "Scalar_mode", "out", "out_mode"}};
  switch (n->kind()) {
    case c10::aten::add:
      return &add;
    case c10::aten::add_:
      return &add_;
    case c10::aten::mul:
      return &mul;
    case c10::aten::mul_:
      return &mul_;
    case c10::aten::div:
      return &div;
    default:
      return nullptr;
  }
}

bool isFusableBinary(const Node* n) {
  return binaryRename(n) != nullptr;
}

// Ops oneDNN Graph maps to its own (graph_helper.cpp createOperator): the
// ones a partition can hold.
bool isOneDNNOp(const Node* n) {
  static const std::unordered_set<c10::Symbol> ops = {
      c10::aten::add,     c10::aten::mul,        c10::aten::div,     c10::aten::relu,
      c10::aten::gelu,    c10::aten::tanh,       c10::aten::sigmoid, c10::aten::elu,
      c10::aten::sqrt,    c10::aten::abs,        c10::aten::square,  c10::aten::exp,
      c10::aten::log,     c10::aten::round,      c10::aten::clamp,   c10::aten::hardtanh,
      c10::aten::hardswish, c10::aten::leaky_relu, c10::aten::relu6, c10::aten::softmax,
      c10::aten::_softmax, c10::aten::_log_softmax, c10::aten::layer_norm,
      c10::aten::matmul,  c10::aten::linear,     c10::aten::mm,      c10::aten::bmm,
      c10::aten::addmm,   c10::aten::permute,    c10::aten::contiguous, c10::aten::cat,
      c10::aten::conv2d,  c10::aten::_convolution, c10::aten::batch_norm,
      c10::aten::max_pool2d, c10::aten::avg_pool2d};
  return ops.count(n->kind()) > 0;
}

bool readsValue(const Node* m, const Value* v) {
  for (size_t j = 0; j < 2 && j < m->inputs().size(); ++j) {
    if (BridgeTypes::source(m->input(j)) == v) {
      return true;
    }
  }
  return false;
}

// True when a binary op that reads `v` (looked through its profiles) feeds
// `n` through ops oneDNN fuses: the two could share a partition, which then
// takes `v` twice.
bool sharesPartitionInputWithProducer(Node* n, Value* v) {
  v = BridgeTypes::source(v);
  std::vector<Node*> todo;
  std::unordered_set<Node*> seen;
  for (size_t j = 0; j < 2 && j < n->inputs().size(); ++j) {
    todo.push_back(BridgeTypes::source(n->input(j))->node());
  }
  while (!todo.empty() && seen.size() < 64) {
    Node* m = todo.back();
    todo.pop_back();
    if (m == n || !seen.insert(m).second || m->owningBlock() != n->owningBlock() ||
        !isOneDNNOp(m)) {
      continue;
    }
    if (isFusableBinary(m) && readsValue(m, v)) {
      return true;
    }
    for (Value* in : m->inputs()) {
      todo.push_back(BridgeTypes::source(in)->node());
    }
  }
  return false;
}

// True when an op oneDNN fuses, fed by `n` through ops oneDNN fuses, reads
// `v` too.
bool sharesPartitionInputWithConsumer(Node* n, Value* v) {
  v = BridgeTypes::source(v);
  std::vector<Value*> todo(n->outputs().begin(), n->outputs().end());
  std::unordered_set<Node*> seen;
  while (!todo.empty() && seen.size() < 64) {
    Value* w = todo.back();
    todo.pop_back();
    for (const auto& use : w->uses()) {
      Node* k = use.user;
      if (k->kind() == c10::prim::profile) {
        todo.push_back(k->output());
        continue;
      }
      if (k == n || k->owningBlock() != n->owningBlock() || !isOneDNNOp(k) ||
          !seen.insert(k).second) {
        continue;
      }
      for (Value* in : k->inputs()) {
        if (BridgeTypes::source(in) == v) {
          return true;
        }
      }
      for (Value* out : k->outputs()) {
        todo.push_back(out);
      }
    }
  }
  return false;
}

// oneDNN's elementwise ops: the links of a chain of post-ops.
bool isOneDNNElementwise(const Node* n) {
  return isOneDNNOp(n) && n->kind() != c10::aten::matmul && n->kind() != c10::aten::linear &&
      n->kind() != c10::aten::mm && n->kind() != c10::aten::bmm &&
      n->kind() != c10::aten::addmm && n->kind() != c10::aten::layer_norm &&
      n->kind() != c10::aten::softmax && n->kind() != c10::aten::_softmax &&
      n->kind() != c10::aten::_log_softmax && n->kind() != c10::aten::cat &&
      n->kind() != c10::aten::permute && n->kind() != c10::aten::contiguous;
}

// For a chain of elementwise ops oneDNN fuses into one partition (each fed by
// the previous): 'f' for a binary op whose other operand has the chain's
// shape, 'b' for one that broadcasts, ' ' for a unary op; from `n` back to the
// start of the chain.
std::string chainOperands(Node* n, const BridgeTypes& types) {
  std::string kinds;
  Node* cur = n;
  while (cur && kinds.size() < 64) {
    const bool binary = isFusableBinary(cur) && cur->inputs().size() >= 2;
    Node* previous = nullptr;
    char kind = ' ';
    if (binary) {
      auto t0 = types.tensor(cur->input(0));
      auto t1 = types.tensor(cur->input(1));
      // the chain goes through the operand an elementwise op made
      Node* p0 = BridgeTypes::source(cur->input(0))->node();
      Node* p1 = BridgeTypes::source(cur->input(1))->node();
      const bool in0 = isOneDNNElementwise(p0) && p0->owningBlock() == n->owningBlock();
      const bool in1 = isOneDNNElementwise(p1) && p1->owningBlock() == n->owningBlock();
      const size_t side = (!in0 && in1) ? 0 : 1;
      previous = side == 1 ? (in0 ? p0 : nullptr) : p1;
      auto ts = side == 0 ? t0 : t1;
      auto tm = side == 0 ? t1 : t0;
      auto ss = ts ? ts->sizes().concrete_sizes() : std::nullopt;
      auto sm = tm ? tm->sizes().concrete_sizes() : std::nullopt;
      kind = (ts && ss && sm && *ss == *sm) ? 'f' : 'b';
    } else if (cur->inputs().size() >= 1) {
      Node* p = BridgeTypes::source(cur->input(0))->node();
      previous = isOneDNNElementwise(p) && p->owningBlock() == n->owningBlock() ? p : nullptr;
    }
    kinds.push_back(kind);
    cur = previous;
  }
  return kinds;
}

bool isAdd(const Node* n) {
  return n->kind() == c10::aten::add || n->kind() == c10::aten::add_;
}
bool isMul(const Node* n) {
  return n->kind() == c10::aten::mul || n->kind() == c10::aten::mul_;
}

// Why the bridge would throw on `n` or change its result; empty when it would
// not.
std::string unsafeBinary(Node* n, const BridgeTypes& types, bool top_level) {
  if (n->inputs().size() < 2) {
    return "";
  }
  auto t0 = types.tensor(n->input(0));
  if (!t0) {
    return ""; // scalar arithmetic: the bridge leaves it alone
  }
  if (!t0->scalarType()) {
    return "its first operand has no dtype (never profiled, or profiled with "
           "several dtypes): the bridge would throw";
  }
  if (updatedInPlace(n->input(0))) {
    return "its first operand is updated in place: after the bridge's mutation "
           "removal it has no dtype, and the bridge would throw";
  }
  if (isAdd(n) && n->inputs().size() >= 3) {
    Value* alpha = n->input(2);
    if (torch::jit::toIValue(alpha) && !isConstantNumber(alpha, 1.0)) {
      return "alpha is not 1: the bridge would split it into mul + add";
    }
  }
  Value* other = n->input(1);
  auto t1 = types.tensor(other);
  if ((isAdd(n) && isConstantNumber(other, 0.0)) ||
      (isMul(n) && isConstantNumber(other, 1.0))) {
    return "an identity (x + 0, x * 1): the bridge would replace it by x itself";
  }
  if (isNumberScalar(other)) {
    const auto st = *t0->scalarType();
    const auto r = rankOf(t0);
    if ((st != at::kFloat && st != at::kDouble) || !r || *r == 0) {
      return "a scalar operand on a tensor (" + describe(t0) +
          "): the bridge would make the scalar a [1] tensor of that dtype";
    }
  } else if (t1 && t1->scalarType() && *t1->scalarType() != *t0->scalarType()) {
    const auto r0 = rankOf(t0), r1 = rankOf(t1);
    if (!r0 || !r1 || *r0 == 0 || *r1 == 0) {
      return "operands of two dtypes, one of them 0-dim or of unknown rank (" +
          describe(t0) + "; " + describe(t1) +
          "): the bridge would promote them with promoteTypes";
    }
  }
  if (!top_level) {
    return "";
  }
  // The partitioned block.
  for (size_t i = 0; i < 2; ++i) {
    auto t = i == 0 ? t0 : t1;
    if (!t) {
      continue;
    }
    const auto r = rankOf(t);
    if (!r) {
      return "an operand of unknown rank in the partitioned block";
    }
    if (*r == 0) {
      return "a 0-dim operand in the partitioned block: oneDNN fails to compile "
             "the partition";
    }
  }
  if (t1) {
    // (a + v) * v, linear(a + v, w, v): v read twice in one partition.
    for (size_t i = 0; i < 2; ++i) {
      if (isSourceTensor(n->input(i))) {
        continue;
      }
      if (sharesPartitionInputWithProducer(n, n->input(i)) ||
          sharesPartitionInputWithConsumer(n, n->input(i))) {
        return "an operand that another op of its would-be partition reads too "
               "(as in (a + v) * v, or linear(a + v, w, v)): oneDNN crashes or "
               "miscomputes such partitions";
      }
    }
  }
  {
    // Along the chain (earliest first): a second broadcast operand after a
    // same-shape one.
    std::string chain = chainOperands(n, types);
    std::reverse(chain.begin(), chain.end());
    const size_t first_full = chain.find('f');
    if (!chain.empty() && chain.back() == 'b' && first_full != std::string::npos &&
        std::count(chain.begin() + first_full, chain.end(), 'b') >= 2) {
      return "a second broadcast operand after a same-shape one in a chain of "
             "elementwise ops (" + chain + "): oneDNN computes such partitions "
             "wrongly";
    }
  }
  if (t1 && isAdd(n)) {
    for (size_t i = 0; i < 2; ++i) {
      if (BridgeTypes::source(n->input(i))->node()->kind() != c10::aten::layer_norm) {
        continue;
      }
      const auto other = BridgeTypes::source(n->input(1 - i))->node()->kind();
      if (other == c10::aten::linear || other == c10::aten::matmul ||
          other == c10::aten::mm || other == c10::aten::bmm || other == c10::aten::addmm) {
        continue; // oneDNN fuses the add with the matmul (BERT's residuals)
      }
      const auto r_norm = rankOf(i == 0 ? t0 : t1);
      const auto r_other = rankOf(i == 0 ? t1 : t0);
      if (!r_norm || !r_other || *r_norm == *r_other) {
        return "an add of a tensor of the same rank to a layer_norm: oneDNN "
               "fuses it into a partition that computes a wrong result";
      }
    }
  }
  if (t1) {
    // right after a matmul/linear: an operand made by control flow or a call
    for (size_t c = 0; c < 2; ++c) {
      const Node* product = BridgeTypes::source(n->input(1 - c))->node();
      const Node* made = BridgeTypes::source(n->input(c))->node();
      const bool after_matmul = product->kind() == c10::aten::matmul ||
          product->kind() == c10::aten::linear || product->kind() == c10::aten::mm ||
          product->kind() == c10::aten::bmm || product->kind() == c10::aten::addmm;
      if (after_matmul && isOpaqueProducer(made)) {
        return "an operand made by control flow or a call, right after a "
               "matmul/linear: oneDNN fails on the partition (vector range error)";
      }
    }
    for (size_t c = 0; c < 2; ++c) {
      if (isSourceTensor(n->input(c))) {
        return "a constant tensor operand (or one made by a factory) in the "
               "partitioned block: oneDNN fails on such partitions after a "
               "matmul/linear, and computes wrong results next to a broadcast "
               "input";
      }
    }
  }
  return "";
}

// `n` under another symbol with the same inputs; `n` is destroyed.
void renameNode(Node* n, c10::Symbol to, BridgeTypes& types) {
  Node* renamed = n->replaceWithNewSymbol(to);
  types.replaced(n, renamed);
  n->destroy();
}

bool renameTo(Node* n, const Rename& r, BridgeTypes& types) {
  const c10::FunctionSchema* schema = n->maybeSchema();
  if (!schema) {
    return false;
  }
  const std::string& overload = schema->overload_name();
  if (std::find(r.overloads.begin(), r.overloads.end(), overload) ==
      r.overloads.end()) {
    return false;
  }
  renameNode(n, r.to, types);
  return true;
}

// ---- silu --------------------------------------------------------------------

std::string unsafeSilu(Node* n, const BridgeTypes& types, bool top_level) {
  const auto producer = BridgeTypes::source(n->input(0))->node()->kind();
  if (producer != c10::aten::linear && producer != c10::aten::_convolution) {
    return "";
  }
  auto t = types.tensor(n->input(0));
  if (!t || !t->scalarType() || updatedInPlace(n->input(0))) {
    return "silu of a linear/convolution without a dtype: the bridge would "
           "throw on the mul it decomposes it into";
  }
  if (!top_level) {
    return "silu of a linear/convolution outside the partitioned block: the "
           "bridge's x * sigmoid(x) rounds differently and is never fused there";
  }
  return "";
}

// ---- layer_norm ----------------------------------------------------------------

bool mayBeNone(Value* v, const BridgeTypes& types) {
  return v->mustBeNone() || !types.tensor(v);
}

// layer_norm(input, normalized_shape, weight, bias, eps, cudnn_enable) ->
// native_layer_norm(input, normalized_shape, weight, bias, eps)[0].
void toNativeLayerNorm(Graph& graph, Node* n, BridgeTypes& types) {
  static const auto native = c10::Symbol::fromQualString("aten::native_layer_norm");
  torch::jit::WithInsertPoint at(n);
  Node* m = graph.insertNode(graph.create(
      native, {n->input(0), n->input(1), n->input(2), n->input(3), n->input(4)}, 3));
  m->copyMetadata(n);
  m->output(0)->copyMetadata(n->output());
  m->output(1)->setType(TensorType::get());
  m->output(2)->setType(TensorType::get());
  TORCH_CHECK(m->maybeOperator(), "torch_optspec: no aten::native_layer_norm for ", *n);
  n->output()->replaceAllUsesWith(m->output(0));
  types.replaced(n, m);
  n->destroy();
}


// ---- reads the bridge cannot see ---------------------------------------------

// The reads of `v` as the bridge will see them once prim::profile nodes are
// gone: `nested` gets the uses of `v` (or of a top-level profile of it) by a
// node inside a nested block; `visible` counts the reads by other top-level
// nodes (the graph's return excluded: oneDNN takes an unread value as an
// output anyway).
void bridgeReads(Value* v, Block* top, std::vector<torch::jit::Use>& nested,
                 size_t& visible) {
  for (const torch::jit::Use& u : v->uses()) {
    Node* user = u.user;
    if (user->owningBlock() != top) {
      nested.push_back(u);
    } else if (user->kind() == c10::prim::profile) {
      bridgeReads(user->output(), top, nested, visible);
    } else if (user != top->return_node()) {
      ++visible;
    }
  }
}

// The top-level node that holds `n` (n itself when it is one).
Node* topLevelAncestor(Node* n, Block* top) {
  while (n->owningBlock() != top) {
    n = n->owningBlock()->owningNode();
  }
  return n;
}

// Each top-level tensor that a top-level node and a nested block both read:
// the nested reads go through torch_optspec::block_read, inserted before the
// first top-level node holding one of them. Returns how many were inserted.
size_t exposeNestedReads(Graph& graph, const BridgeTypes& types) {
  Block* top = graph.block();
  size_t inserted = 0;
  std::vector<Node*> nodes(top->nodes().begin(), top->nodes().end());
  for (Node* n : nodes) {
    if (n->kind() == c10::prim::profile || n->kind() == c10::prim::Constant) {
      continue;
    }
    for (Value* v : n->outputs()) {
      if (!v->type()->isSubtypeOf(TensorType::get())) {
        continue;
      }
      std::vector<torch::jit::Use> nested;
      size_t visible = 0;
      bridgeReads(v, top, nested, visible);
      if (nested.empty() || visible == 0) {
        continue;
      }
      // One reader per value read (v, or a top-level profile of it).
      std::unordered_map<Value*, std::vector<torch::jit::Use>> byValue;
      for (const auto& u : nested) {
        byValue[u.user->input(u.offset)].push_back(u);
      }
      for (auto& [read, uses] : byValue) {
        Node* first = nullptr;
        for (const auto& u : uses) {
          Node* a = topLevelAncestor(u.user, top);
          if (!first || a->isBefore(first)) {
            first = a;
          }
        }
        Node* reader = graph.create(sym::block_read(), {read});
        reader->insertBefore(first);
        // Typed as the bridge sees `read`, so that nested ops keep their dtype.
        c10::TensorTypePtr t = types.tensor(read);
        reader->output()->setType(t ? c10::TypePtr(t) : read->type());
        for (const auto& u : uses) {
          u.user->replaceInput(u.offset, reader->output());
        }
        GRAPH_UPDATE("Nested reads of %", read->debugName(), " (", uses.size(),
                     ", first in ", first->kind().toQualString(),
                     ") now read torch_optspec::block_read: the partitioner "
                     "sees that value leave its partition");
        ++inserted;
      }
    }
  }
  return inserted;
}

// ---- aten::size and DeferSizeCheck -------------------------------------------

// Whether some user of `x` other than `self`, as the bridge will see it
// (prim::profile nodes looked through), has no operator.
bool readByNodeWithoutOperator(Value* x, const Node* self) {
  for (const torch::jit::Use& u : x->uses()) {
    if (u.user == self) {
      continue;
    }
    if (u.user->kind() == c10::prim::profile) {
      if (readByNodeWithoutOperator(u.user->output(), self)) {
        return true;
      }
    } else if (!u.user->maybeOperator()) {
      return true;
    }
  }
  return false;
}

bool isSizeList(const Node* n) {
  return n->kind() == c10::aten::size && n->inputs().size() == 1 &&
      n->outputs().size() == 1 &&
      n->output()->type()->isSubtypeOf(*c10::ListType::ofInts());
}

// ---- the bridge's work on nested blocks --------------------------------------

struct GraphSize {
  size_t blocks = 0; // blocks the bridge's passes visit (subgraphs not entered)
  size_t nodes = 0;  // nodes an AliasDb analyzes (subgraphs included)
};

void addSize(Block* b, GraphSize& size) {
  for (Node* n : b->nodes()) {
    ++size.nodes;
    if (n->hasAttribute(c10::attr::Subgraph) &&
        n->kindOf(c10::attr::Subgraph) == torch::jit::AttributeKind::g) {
      GraphSize inner;
      addSize(n->g(c10::attr::Subgraph)->block(), inner);
      size.nodes += inner.nodes;
    }
    for (Block* inner : n->blocks()) {
      ++size.blocks;
      addSize(inner, size);
    }
  }
}

GraphSize sizeOf(Node* n) {
  GraphSize size;
  for (Block* b : n->blocks()) {
    ++size.blocks;
    addSize(b, size);
  }
  return size;
}

bool isPassOp(const Node* n) {
  static const std::string ours = "torch_optspec::";
  return ours.compare(0, ours.size(), n->kind().toQualString(), ours.size()) == 0;
}

// Whether `n` or a node in its blocks is one of the pass's (a marker, a guard
// or value site: an If on a torch_optspec:: check) or has a subgraph (the
// pass's slow paths and outlined fast paths).
bool holdsPassStructure(const Node* n) {
  if (isPassOp(n) || n->hasAttribute(c10::attr::Subgraph) ||
      (n->kind() == c10::prim::If && isPassOp(n->input(0)->node()))) {
    return true;
  }
  for (const Block* b : n->blocks()) {
    for (const Node* m : b->nodes()) {
      if (holdsPassStructure(m)) {
        return true;
      }
    }
  }
  return false;
}

// A prim::Constant without a value typed other than None: stock constant
// propagation makes one from an unchecked_cast of None in a branch that
// never runs (`%t : Tensor = prim::Constant()`). Harmless where it is, but
// in a function of its own the executor's CanonicalizeOps reads it
// (toIValue: "required keyword attribute 'value' is undefined"), and
// SubgraphUtils throws on one it would copy in.
bool isValuelessConstant(const Value* v) {
  const Node* c = v->node();
  return c->kind() == c10::prim::Constant && !c->hasAttribute(c10::attr::value) &&
      v->type()->kind() != c10::TypeKind::NoneType;
}

// Whether `n` or a node in its blocks reads such a constant.
bool readsValuelessConstant(const Node* n) {
  for (const Value* v : n->inputs()) {
    if (isValuelessConstant(v)) {
      return true;
    }
  }
  for (const Block* b : n->blocks()) {
    for (const Node* m : b->nodes()) {
      if (readsValuelessConstant(m)) {
        return true;
      }
    }
    for (const Value* v : b->outputs()) {
      if (isValuelessConstant(v)) {
        return true;
      }
    }
  }
  return false;
}

bool anyResultUsed(const Node* n) {
  return std::any_of(n->outputs().begin(), n->outputs().end(),
                     [](const Value* v) { return v->hasUses(); });
}

// The outermost If/Loop nodes of the model's own in `b`, entering the pass's.
void collectOutlinable(Block* b, std::vector<std::pair<GraphSize, Node*>>& out) {
  for (Node* n : b->nodes()) {
    if (n->blocks().empty()) {
      continue;
    }
    if (holdsPassStructure(n)) {
      for (Block* inner : n->blocks()) {
        collectOutlinable(inner, out);
      }
    } else if ((n->kind() == c10::prim::If || n->kind() == c10::prim::Loop) &&
               anyResultUsed(n) && !readsValuelessConstant(n)) {
      out.emplace_back(sizeOf(n), n);
    }
  }
}

// Moves control flow into prim::FallbackGraph nodes while the bridge's work
// on `graph` exceeds the limit. Returns how many nodes were moved.
size_t outlineForBridge(std::shared_ptr<Graph>& graph, size_t limit) {
  GraphSize total;
  addSize(graph->block(), total);
  if (total.blocks * total.nodes <= limit) {
    return 0;
  }
  torch::jit::EliminateDeadCode(graph);
  std::vector<std::pair<GraphSize, Node*>> candidates;
  collectOutlinable(graph->block(), candidates);
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.first.blocks > b.first.blocks;
  });
  const size_t before = total.blocks;
  size_t moved = 0;
  for (const auto& [size, n] : candidates) {
    if (total.blocks * total.nodes <= limit) {
      break;
    }
    Node* fallback =
        torch::jit::SubgraphUtils::createSingletonSubgraph(n, c10::prim::FallbackGraph);
    if (fallback->inputs().empty()) {
      // It reads nothing but constants: a function without inputs, and
      // oneDNN Graph reads the first input of every graph it fuses
      // (graph_helper.cpp inferDevice: a segmentation fault). Left in place.
      torch::jit::SubgraphUtils::unmergeSubgraph(fallback);
      continue;
    }
    total.blocks -= size.blocks;
    ++moved;
  }
  GRAPH_UPDATE("Moved ", moved, " If/Loop nodes into prim::FallbackGraph: the graph's ",
               before, " blocks (x ", total.nodes, " nodes) are now ", total.blocks);
  return moved;
}

} // namespace

// ---- the stage ------------------------------------------------------------------

size_t FuserSafetyResult::total() const {
  return binary_renamed + silu_renamed + linear_renamed + layer_norm_filled +
      layer_norm_native + nested_reads_exposed + size_renamed + control_flow_outlined;
}

std::string FuserSafetyResult::describe() const {
  std::ostringstream out;
  out << "binary=" << binary_renamed << " silu=" << silu_renamed
      << " linear=" << linear_renamed << " layer_norm_filled=" << layer_norm_filled
      << " layer_norm_native=" << layer_norm_native
      << " nested_reads=" << nested_reads_exposed << " size=" << size_renamed
      << " outlined=" << control_flow_outlined;
  if (!exact_types) {
    out << " inexact_types";
  }
  return out.str();
}

namespace {

struct SafetyPass {
  SafetyPass(Graph& graph) : graph_(graph), types_(graph) {
    result_.exact_types = types_.exact();
  }

  // Before run(): the partitioned block's values read in nested blocks.
  void exposeReads() {
    result_.nested_reads_exposed = exposeNestedReads(graph_, types_);
  }

  void run(Block* block) {
    const bool top_level = block == graph_.block();
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* n = *it;
      ++it; // n may be replaced below
      for (Block* inner : n->blocks()) {
        run(inner);
      }
      if (const Rename* r = binaryRename(n)) {
        std::string why = unsafeBinary(n, types_, top_level);
        if (why.empty()) {
          continue;
        }
        std::string before = toLine(n);
        if (renameTo(n, *r, types_)) {
          GRAPH_UPDATE("Renamed to ", r->to.toQualString(), ", ", why, ": ", before);
          ++result_.binary_renamed;
        } else {
          GRAPH_DEBUG("Left alone (no same-kernel overload), ", why, ": ", before);
        }
      } else if (isSizeList(n) &&
                 readByNodeWithoutOperator(BridgeTypes::source(n->input(0)), n)) {
        std::string before = toLine(n);
        renameNode(n, sym::size(), types_);
        GRAPH_UPDATE("Renamed to torch_optspec::size, its input has a user without "
                     "an operator (DeferSizeCheck would throw): ", before);
        ++result_.size_renamed;
      } else if (n->kind() == c10::aten::silu && n->inputs().size() == 1) {
        std::string why = unsafeSilu(n, types_, top_level);
        if (!why.empty()) {
          std::string before = toLine(n);
          renameNode(n, sym::silu(), types_);
          GRAPH_UPDATE("Renamed to torch_optspec::silu, ", why, ": ", before);
          ++result_.silu_renamed;
        }
      } else if (top_level && n->kind() == c10::aten::layer_norm &&
                 n->inputs().size() == 6) {
        layerNorm(n);
      } else if (top_level && n->kind() == c10::aten::linear && n->inputs().size() == 3 &&
                 !n->input(2)->mustBeNone() && !types_.tensor(n->input(2))) {
        std::string before = toLine(n);
        renameNode(n, sym::linear(), types_);
        GRAPH_UPDATE("Renamed to torch_optspec::linear, a bias that may be None at "
                     "run time (oneDNN's partition would receive None): ", before);
        ++result_.linear_renamed;
      }
    }
  }

  FuserSafetyResult result() const {
    return result_;
  }

 private:
  static std::string toLine(const Node* n) {
    std::ostringstream out;
    out << *n;
    std::string s = out.str();
    while (!s.empty() && s.back() == '\n') {
      s.pop_back();
    }
    return s;
  }

  void layerNorm(Node* n) {
    Value* input = n->input(0);
    Value* weight = n->input(2);
    Value* bias = n->input(3);
    const std::string before = toLine(n);
    auto shape = torch::jit::toIValue(n->input(1));
    std::string why;
    if (!shape || !shape->isIntList()) {
      why = "normalized_shape is not a constant (the bridge reads it as one)";
    } else if (!mayBeNone(weight, types_) && !mayBeNone(bias, types_)) {
      return; // nothing the bridge trips on
    } else if ((!weight->mustBeNone() && mayBeNone(weight, types_)) ||
               (!bias->mustBeNone() && mayBeNone(bias, types_))) {
      why = "weight or bias may be None at run time";
    } else if (weight->mustBeNone() && !bias->mustBeNone()) {
      // ATen rounds layer_norm(x, s, ones, bias) differently from
      // layer_norm(x, s, None, bias): no fill.
      why = "a None weight with a bias";
    } else {
      auto t = types_.tensor(input);
      if (!t || !t->scalarType() || !t->device()) {
        why = "a None weight or bias, and the input's dtype or device is unknown";
      } else {
        // ones/zeros converted to the input's dtype and device at run time
        // (exact in every dtype; a later call with another dtype or device
        // gets matching ones), typed as profiled for the bridge.
        torch::jit::WithInsertPoint at(n);
        std::vector<int64_t> dims = shape->toIntVector();
        Value* dtype = graph_.insert(c10::prim::dtype, {input});
        Value* device = graph_.insert(c10::prim::device, {input});
        auto filled = [&](const at::Tensor& value) {
          Value* c = graph_.insertConstant(value);
          Value* converted = graph_.insert(c10::aten::to, {c, device, dtype});
          converted->setType(
              TensorType::createContiguous(*t->scalarType(), *t->device(), dims)
                  ->withRequiresGrad(false));
          return converted;
        };
        if (weight->mustBeNone()) {
          n->replaceInput(2, filled(at::ones(dims)));
        }
        if (bias->mustBeNone()) {
          n->replaceInput(3, filled(at::zeros(dims)));
        }
        GRAPH_UPDATE(
            "Filled the None weight/bias of layer_norm with ones/zeros (",
            describe(t), "): ", before);
        ++result_.layer_norm_filled;
        return;
      }
    }
    toNativeLayerNorm(graph_, n, types_);
    GRAPH_UPDATE("Renamed to aten::native_layer_norm, ", why, ": ", before);
    ++result_.layer_norm_native;
  }

  Graph& graph_;
  BridgeTypes types_;
  FuserSafetyResult result_;
};

} // namespace

namespace {
std::atomic<size_t> bridge_work_limit{kBridgeWorkLimit};
} // namespace

size_t bridgeWorkLimit() {
  return bridge_work_limit.load();
}

void setBridgeWorkLimit(size_t limit) {
  bridge_work_limit.store(limit);
}

FuserSafetyResult makeSafeForOneDNN(std::shared_ptr<Graph>& graph, size_t bridge_work_limit) {
  const size_t outlined = outlineForBridge(graph, bridge_work_limit);
  SafetyPass pass(*graph);
  pass.exposeReads();
  pass.run(graph->block());
  FuserSafetyResult r = pass.result();
  r.control_flow_outlined = outlined;
  if (r.total() > 0) {
    GRAPH_DUMP("After the fuser-safety rewrites (" + r.describe() + "):", graph);
  }
  return r;
}

void registerFuserSafetyOperators() {
  using torch::jit::Operator;
  using torch::jit::pop;
  using torch::jit::push;
  const auto from_schema = c10::AliasAnalysisKind::FROM_SCHEMA;
  static torch::jit::RegisterOperators reg({
      Operator(
          "torch_optspec::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
          [](Stack& stack) {
            auto alpha = pop(stack).toScalar();
            auto other = pop(stack).toTensor();
            auto self = pop(stack).toTensor();
            push(stack, at::add(self, other, alpha));
          },
          from_schema),
      Operator(
          "torch_optspec::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
          [](Stack& stack) {
            auto alpha = pop(stack).toScalar();
            auto other = pop(stack).toScalar();
            auto self = pop(stack).toTensor();
            push(stack, at::add(self, other, alpha));
          },
          from_schema),
      Operator(
          "torch_optspec::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
          [](Stack& stack) {
            auto alpha = pop(stack).toScalar();
            auto other = pop(stack).toTensor();
            auto self = pop(stack).toTensor();
            push(stack, self.add_(other, alpha));
          },
          from_schema),
      Operator(
          "torch_optspec::add_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)",
          [](Stack& stack) {
            auto alpha = pop(stack).toScalar();
            auto other = pop(stack).toScalar();
            auto self = pop(stack).toTensor();
            push(stack, self.add_(other, alpha));
          },
          from_schema),
      Operator(
          "torch_optspec::linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor",
          [](Stack& stack) {
            auto bias = pop(stack).toOptional<at::Tensor>();
            auto weight = pop(stack).toTensor();
            auto input = pop(stack).toTensor();
            push(stack, at::linear(input, weight, bias));
          },
          from_schema),
      Operator(
          "torch_optspec::size(Tensor self) -> int[]",
          [](Stack& stack) {
            auto self = pop(stack).toTensor();
            push(stack, self.sizes().vec());
          },
          from_schema),
      // v itself: a read the partitioner sees (exposeNestedReads).
      Operator(
          "torch_optspec::block_read(Tensor(a) self) -> Tensor(a)",
          [](Stack& /*stack*/) {},
          from_schema),
      Operator(
          "torch_optspec::silu(Tensor self) -> Tensor",
          [](Stack& stack) {
            auto self = pop(stack).toTensor();
            push(stack, at::silu(self));
          },
          from_schema),
  });
}

} // namespace torch_optspec
