// The model of oneDNN Graph's bridge the fuser-safety stage works with
// (bridge_model.h). Each function cites the bridge's code it follows
// (torch/csrc/jit/codegen/onednn/, torch 2.13).
#include "bridge_model.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>

#include <sstream>
#include <unordered_set>

namespace torch_optspec::bridge {

using c10::TensorType;

BridgeTypes::BridgeTypes(Graph& graph) {
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

void BridgeTypes::replaced(Node* from, Node* to) {
  for (size_t i = 0; i < from->outputs().size() && i < to->outputs().size(); ++i) {
    auto it = types_.find(from->output(i));
    if (it != types_.end()) {
      types_[to->output(i)] = it->second;
      types_.erase(from->output(i));
    }
  }
}

c10::TensorTypePtr BridgeTypes::tensor(Value* v) const {
  Value* s = throughProfiles(v);
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

bool BridgeTypes::pair(Block* orig, Block* copy) {
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

// ---- predicates ------------------------------------------------------------

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
  Node* n = throughProfiles(v)->node();
  if (n->kind() == c10::prim::Param ||
      !throughProfiles(v)->type()->isSubtypeOf(TensorType::get())) {
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
  return anyUseThroughProfiles(throughProfiles(v), nullptr, [](const torch::jit::Use& use) {
    return use.offset == 0 && isFunctionalizedInPlace(use.user);
  });
}

std::string describe(const c10::TensorTypePtr& t) {
  std::ostringstream out;
  auto st = t ? t->scalarType() : std::nullopt;
  auto r = rankOf(t);
  out << (st ? c10::toString(*st) : "no dtype") << ", rank "
      << (r ? std::to_string(*r) : std::string("?"));
  return out.str();
}

// add, add_, mul, mul_, div: what PrepareBinaryForLLGA rewrites (add_ and mul_
// through RemoveTensorMutation; aten::div_ is not functionalized by the
// bridge, so it is left alone).
bool isBridgeBinary(const Node* n) {
  switch (n->kind()) {
    case c10::aten::add:
    case c10::aten::add_:
    case c10::aten::mul:
    case c10::aten::mul_:
    case c10::aten::div:
      return true;
    default:
      return false;
  }
}

bool isMatmulLike(c10::Symbol kind) {
  return kind == c10::aten::matmul || kind == c10::aten::linear || kind == c10::aten::mm ||
      kind == c10::aten::bmm || kind == c10::aten::addmm;
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
    if (throughProfiles(m->input(j)) == v) {
      return true;
    }
  }
  return false;
}

// True when a binary op that reads `v` (looked through its profiles) feeds
// `n` through ops oneDNN fuses: the two could share a partition, which then
// takes `v` twice.
bool sharesPartitionInputWithProducer(Node* n, Value* v) {
  v = throughProfiles(v);
  std::vector<Node*> todo;
  std::unordered_set<Node*> seen;
  for (size_t j = 0; j < 2 && j < n->inputs().size(); ++j) {
    todo.push_back(throughProfiles(n->input(j))->node());
  }
  while (!todo.empty() && seen.size() < 64) {
    Node* m = todo.back();
    todo.pop_back();
    if (m == n || !seen.insert(m).second || m->owningBlock() != n->owningBlock() ||
        !isOneDNNOp(m)) {
      continue;
    }
    if (isBridgeBinary(m) && readsValue(m, v)) {
      return true;
    }
    for (Value* in : m->inputs()) {
      todo.push_back(throughProfiles(in)->node());
    }
  }
  return false;
}

// True when an op oneDNN fuses, fed by `n` through ops oneDNN fuses, reads
// `v` too.
bool sharesPartitionInputWithConsumer(Node* n, Value* v) {
  v = throughProfiles(v);
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
        if (throughProfiles(in) == v) {
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
  static const std::unordered_set<c10::Symbol> not_elementwise = {
      c10::aten::layer_norm, c10::aten::softmax, c10::aten::_softmax,
      c10::aten::_log_softmax, c10::aten::cat, c10::aten::permute, c10::aten::contiguous};
  return isOneDNNOp(n) && !isMatmulLike(n->kind()) && not_elementwise.count(n->kind()) == 0;
}

// For a chain of elementwise ops oneDNN fuses into one partition (each fed by
// the previous): 'f' for a binary op whose other operand has the chain's
// shape, 'b' for one that broadcasts, ' ' for a unary op; from `n` back to the
// start of the chain.
std::string chainOperands(Node* n, const BridgeTypes& types) {
  std::string kinds;
  Node* cur = n;
  while (cur && kinds.size() < 64) {
    const bool binary = isBridgeBinary(cur) && cur->inputs().size() >= 2;
    Node* previous = nullptr;
    char kind = ' ';
    if (binary) {
      auto t0 = types.tensor(cur->input(0));
      auto t1 = types.tensor(cur->input(1));
      // the chain goes through the operand an elementwise op made
      Node* p0 = throughProfiles(cur->input(0))->node();
      Node* p1 = throughProfiles(cur->input(1))->node();
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
      Node* p = throughProfiles(cur->input(0))->node();
      previous = isOneDNNElementwise(p) && p->owningBlock() == n->owningBlock() ? p : nullptr;
    }
    kinds.push_back(kind);
    cur = previous;
  }
  return kinds;
}

// ---- what it reads ----------------------------------------------------------

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

// Whether some user of `x` other than `self`, as the bridge will see it
// (prim::profile nodes looked through), has no operator.
bool readByNodeWithoutOperator(Value* x, const Node* self) {
  return anyUseThroughProfiles(
      x, self, [](const torch::jit::Use& u) { return !u.user->maybeOperator(); });
}

bool isSizeList(const Node* n) {
  return n->kind() == c10::aten::size && n->inputs().size() == 1 &&
      n->outputs().size() == 1 &&
      n->output()->type()->isSubtypeOf(*c10::ListType::ofInts());
}

// ---- its work ---------------------------------------------------------------

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

} // namespace torch_optspec::bridge
