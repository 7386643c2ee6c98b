// A model of what oneDNN Graph's bridge (torch/csrc/jit/codegen/onednn/,
// torch 2.13) does with a graph, for the fuser-safety stage: the types it
// will see (after its RemoveProfileNodesAndSpecializeTypes), the ops it maps
// to its own and fuses into partitions, what it reads and how much work its
// passes do. fuser_safety.cpp says what the bridge does and how the stage
// answers; fuser_safety_rules.cpp says when a node is unsafe, in these terms.
#pragma once

#include "ir_idioms.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace torch_optspec::bridge {

// The type of every value once RemoveProfileNodesAndSpecializeTypes has run:
// that pass is run on a copy, whose nodes (the original's, in the same order,
// minus prim::profile nodes) are walked alongside the original's. If the two
// do not line up, every Tensor is taken to have no dtype and no rank (the
// stage then renames every node it looks at: safe, unfused).
class BridgeTypes {
 public:
  explicit BridgeTypes(Graph& graph);

  // false: the copy did not line up, every Tensor is taken as dtype-less
  bool exact() const {
    return exact_;
  }

  // `to` replaces `from` (about to be destroyed): its outputs take the types
  // of `from`'s (the entries of destroyed values must go: their addresses
  // are reused by new values).
  void replaced(Node* from, Node* to);

  // The TensorType of `v` as the bridge sees it, or null when `v` is not a
  // Tensor there.
  c10::TensorTypePtr tensor(Value* v) const;

 private:
  bool pair(Block* orig, Block* copy);

  std::unordered_map<const Value*, c10::TypePtr> types_;
  bool exact_ = false;
};

// ---- types and values ----

// The rank of `t` (nullopt: unknown, or `t` null).
std::optional<size_t> rankOf(const c10::TensorTypePtr& t);

// As the bridge's compareConstValue: an int or float constant equal to d.
bool isConstantNumber(Value* v, double d);

// An int or float (not a tensor).
bool isNumberScalar(Value* v);

// A tensor made by a node without tensor inputs: a constant, or a factory such
// as aten::full (oneDNN treats both as constants).
bool isSourceTensor(Value* v);

// Nodes whose outputs oneDNN's partitioner sees without a producing op:
// control flow, calls, unpacking, futures.
bool isOpaqueProducer(const Node* n);

// The in-place ops the bridge's RemoveTensorMutation turns into functional
// ones (interface.cpp). The uses of the updated value after such an op then
// read the functional op's output, typed like the in-place op's output: in a
// profiled graph, without a dtype.
bool isFunctionalizedInPlace(const Node* n);

// True when `v` (looked through its profiles) is updated by one of those ops.
bool updatedInPlace(Value* v);

// "Float, rank 2", "no dtype, rank ?": for the stage's log.
std::string describe(const c10::TensorTypePtr& t);

// ---- the ops it maps and fuses ----

// add, add_, mul, mul_, div: what PrepareBinaryForLLGA rewrites (add_ and mul_
// through RemoveTensorMutation; aten::div_ is not functionalized by the
// bridge, so it is left alone).
bool isBridgeBinary(const Node* n);

// matmul, linear, mm, bmm, addmm: oneDNN fuses an add after them (and fails
// on some operands there).
bool isMatmulLike(c10::Symbol kind);

// Ops oneDNN Graph maps to its own (graph_helper.cpp createOperator): the
// ones a partition can hold.
bool isOneDNNOp(const Node* n);

// Whether one of the first two inputs of `m` is `v` (profiles looked through).
bool readsValue(const Node* m, const Value* v);

// True when a binary op that reads `v` (looked through its profiles) feeds
// `n` through ops oneDNN fuses: the two could share a partition, which then
// takes `v` twice.
bool sharesPartitionInputWithProducer(Node* n, Value* v);

// True when an op oneDNN fuses, fed by `n` through ops oneDNN fuses, reads
// `v` too.
bool sharesPartitionInputWithConsumer(Node* n, Value* v);

// oneDNN's elementwise ops: the links of a chain of post-ops.
bool isOneDNNElementwise(const Node* n);

// For a chain of elementwise ops oneDNN fuses into one partition (each fed by
// the previous): 'f' for a binary op whose other operand has the chain's
// shape, 'b' for one that broadcasts, ' ' for a unary op; from `n` back to the
// start of the chain.
std::string chainOperands(Node* n, const BridgeTypes& types);

// ---- what it reads ----

// The reads of `v` as the bridge will see them once prim::profile nodes are
// gone: `nested` gets the uses of `v` (or of a top-level profile of it) by a
// node inside a nested block; `visible` counts the reads by other top-level
// nodes (the graph's return excluded: oneDNN takes an unread value as an
// output anyway).
void bridgeReads(Value* v, Block* top, std::vector<torch::jit::Use>& nested, size_t& visible);

// Whether some user of `x` other than `self`, as the bridge will see it
// (prim::profile nodes looked through), has no operator.
bool readByNodeWithoutOperator(Value* x, const Node* self);

// aten::size(x) -> int[] (the form DeferSizeCheck handles).
bool isSizeList(const Node* n);

// ---- its work ----

struct GraphSize {
  size_t blocks = 0; // blocks the bridge's passes visit (subgraphs not entered)
  size_t nodes = 0;  // nodes an AliasDb analyzes (subgraphs included)
};
// Adds the blocks and nodes of `b` (and of what it holds) to `size`.
void addSize(Block* b, GraphSize& size);

} // namespace torch_optspec::bridge
