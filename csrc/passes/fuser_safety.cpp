// Stage 9: fuser safety. Keeps oneDNN Graph's bridge from failing, or from
// changing results, on the graph it is about to receive. The pipeline (../pipeline.cpp) runs it
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
//
// In three files: bridge_model.h (what the bridge will see: types, the ops
// it fuses, reads, its work), fuser_safety_rules.h (when a node is unsafe:
// named rules, a table per op) and this one (the rewriting walk). The
// operators it renames to are registered in ../operators.cpp.
#include "fuser_safety.h"

#include "bridge_model.h"
#include "fuser_safety_rules.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>

namespace torch_optspec {

using c10::TensorType;
using namespace bridge;

namespace {

namespace sym {
// The same-kernel operators the stage renames to (../operators.cpp).
const c10::Symbol add = c10::Symbol::fromQualString("torch_optspec::add");
const c10::Symbol add_ = c10::Symbol::fromQualString("torch_optspec::add_");
const c10::Symbol silu = c10::Symbol::fromQualString("torch_optspec::silu");
const c10::Symbol linear = c10::Symbol::fromQualString("torch_optspec::linear");
const c10::Symbol size = c10::Symbol::fromQualString("torch_optspec::size");
const c10::Symbol block_read = c10::Symbol::fromQualString("torch_optspec::block_read");
} // namespace sym

// ---- renames ------------------------------------------------------------------

struct Rename {
  c10::Symbol to;
  std::vector<std::string> overloads; // the overloads `to` also has
};

// The nodes the bridge rewrites (add_/mul_ through RemoveTensorMutation) and
// their same-kernel replacements. aten::div_ is not functionalized by the
// bridge, so it is left alone.
const Rename* binaryRename(const Node* n) {
  static const Rename add{sym::add, {"Tensor", "Scalar"}};
  static const Rename add_{sym::add_, {"Tensor", "Scalar"}};
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
        Node* reader = graph.create(sym::block_read, {read});
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

// ---- the bridge's work on nested blocks --------------------------------------

bool isPassOp(const Node* n) {
  static const std::string ours = "torch_optspec::";
  return ours.compare(0, ours.size(), n->kind().toQualString(), ours.size()) == 0;
}

// What the bound needs to know of a node and everything its blocks hold.
struct Subtree {
  // `n` or a node in its blocks is one of the pass's (a marker, a guard or
  // value site: an If on a torch_optspec:: check) or has a subgraph (the
  // pass's slow paths and outlined fast paths): entered, never moved.
  bool pass_structure = false;
  // `n` or a node in its blocks reads a valueless constant
  // (isValuelessConstant, ir_idioms.h): SubgraphUtils throws on one it would
  // copy in, and a function of its own could not take it. Never moved.
  bool reads_valueless_constant = false;
  GraphSize size; // of its blocks (counted as addSize counts a block)
};

// One post-order walk: the Subtree of `n`, and of every node with blocks
// under it into `facts`.
Subtree summarize(Node* n, std::unordered_map<const Node*, Subtree>& facts) {
  Subtree s;
  s.pass_structure = isPassOp(n) || n->hasAttribute(c10::attr::Subgraph) ||
      (n->kind() == c10::prim::If && isPassOp(n->input(0)->node()));
  for (const Value* v : n->inputs()) {
    s.reads_valueless_constant |= isValuelessConstant(v);
  }
  for (Block* b : n->blocks()) {
    ++s.size.blocks;
    for (Node* m : b->nodes()) {
      const Subtree inner = summarize(m, facts);
      s.pass_structure |= inner.pass_structure;
      s.reads_valueless_constant |= inner.reads_valueless_constant;
      ++s.size.nodes;
      if (m->hasAttribute(c10::attr::Subgraph) &&
          m->kindOf(c10::attr::Subgraph) == torch::jit::AttributeKind::g) {
        GraphSize subgraph;
        addSize(m->g(c10::attr::Subgraph)->block(), subgraph);
        s.size.nodes += subgraph.nodes;
      }
      s.size.blocks += inner.size.blocks;
      s.size.nodes += inner.size.nodes;
    }
    for (const Value* v : b->outputs()) {
      s.reads_valueless_constant |= isValuelessConstant(v);
    }
  }
  if (!n->blocks().empty()) {
    facts[n] = s;
  }
  return s;
}

bool anyResultUsed(const Node* n) {
  return std::any_of(n->outputs().begin(), n->outputs().end(),
                     [](const Value* v) { return v->hasUses(); });
}

// The outermost If/Loop nodes of the model's own in `b`, entering the pass's.
void collectOutlinable(
    Block* b,
    const std::unordered_map<const Node*, Subtree>& facts,
    std::vector<std::pair<GraphSize, Node*>>& out) {
  for (Node* n : b->nodes()) {
    if (n->blocks().empty()) {
      continue;
    }
    const Subtree& s = facts.at(n);
    if (s.pass_structure) {
      for (Block* inner : n->blocks()) {
        collectOutlinable(inner, facts, out);
      }
    } else if ((n->kind() == c10::prim::If || n->kind() == c10::prim::Loop) &&
               anyResultUsed(n) && !s.reads_valueless_constant) {
      out.emplace_back(s.size, n);
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
  std::unordered_map<const Node*, Subtree> facts;
  for (Node* n : graph->block()->nodes()) {
    summarize(n, facts);
  }
  std::vector<std::pair<GraphSize, Node*>> candidates;
  collectOutlinable(graph->block(), facts, candidates);
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
        if (n->inputs().size() < 2 || !types_.tensor(n->input(0))) {
          continue; // scalar arithmetic: the bridge leaves it alone
        }
        const Verdict v = firstRuleThatApplies(binaryRules(), n, types_, top_level);
        if (!v.rule) {
          continue;
        }
        std::string before = toLine(n);
        if (renameTo(n, *r, types_)) {
          GRAPH_UPDATE("Renamed to ", r->to.toQualString(), " (", v.rule->name, "), ",
                       v.reason, ": ", before);
          ++result_.binary_renamed;
        } else {
          GRAPH_DEBUG("Left alone (no same-kernel overload), ", v.rule->name, ", ",
                      v.reason, ": ", before);
        }
      } else if (isSizeList(n) &&
                 readByNodeWithoutOperator(throughProfiles(n->input(0)), n)) {
        std::string before = toLine(n);
        renameNode(n, sym::size, types_);
        GRAPH_UPDATE("Renamed to torch_optspec::size, its input has a user without "
                     "an operator (DeferSizeCheck would throw): ", before);
        ++result_.size_renamed;
      } else if (n->kind() == c10::aten::silu && n->inputs().size() == 1) {
        const Verdict v = firstRuleThatApplies(siluRules(), n, types_, top_level);
        if (v.rule) {
          std::string before = toLine(n);
          renameNode(n, sym::silu, types_);
          GRAPH_UPDATE("Renamed to torch_optspec::silu (", v.rule->name, "), ", v.reason,
                       ": ", before);
          ++result_.silu_renamed;
        }
      } else if (top_level && n->kind() == c10::aten::layer_norm &&
                 n->inputs().size() == 6) {
        layerNorm(n);
      } else if (top_level && n->kind() == c10::aten::linear && n->inputs().size() == 3 &&
                 !n->input(2)->mustBeNone() && !types_.tensor(n->input(2))) {
        std::string before = toLine(n);
        renameNode(n, sym::linear, types_);
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

} // namespace torch_optspec
