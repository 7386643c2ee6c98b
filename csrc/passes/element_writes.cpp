// Stage 0 (first in the pre-pass, on every graph it sees while the pass is
// on): keep in-place updates of a list's (or tuple's) elements from being
// dropped by stock dead-code elimination.
//
// Torch's DCE (passes/dead_code_elimination.cpp) keeps a node that writes to
// a value still read later, asking alias analysis whether the written value
// may alias a live one. An element of a list is not an alias of the list
// (alias analysis records it as contained, MemoryDAG's "contained elements"),
// so in
//
//   %e : Tensor = aten::mul(%y, %half)
//   %l : Tensor[] = prim::ListConstruct(%e)
//   %u : Tensor = aten::add_(%e, %quarter, %one)     # `for h in l: h.add_(..)`
//   %s : Tensor = aten::stack(%l, %zero)             # reads the updated %e
//
// the add_ counts as dead and goes: stack reads the value from before the
// update. Stock TorchScript alone does it once loop unrolling has turned the
// loop over a literal list into straight-line code (the executor's
// LowerSimpleTuples ends with a DCE; `tests/ir/element_writes/` and
// tests/test_inplace.py show it without torch_optspec). The pass makes such
// literal lists out of ordinary code: `if states is None: states = [y]`
// with `states` specialized to None (fuzz case 19000433).
//
// The stage puts torch_optspec::keep_write(%u) right after each such write:
// a side-effecting no-op (CONSERVATIVE) that reads the update's result, so
// every DCE keeps the update, and no pass moves things across it. A write
// counts when its target is an element of a prim::ListConstruct or
// prim::TupleConstruct built before it (looked through prim::profile).
//
//   PYTORCH_JIT_LOG_LEVEL=">>element_writes"     each marker and why
#include "element_writes.h"

#include <torch/csrc/jit/jit_log.h>

namespace torch_optspec {

namespace {

const c10::Symbol kKeepWrite = c10::Symbol::fromQualString("torch_optspec::keep_write");

// Whether `n` writes to its first input (the in-place ops' self).
bool writesSelf(const Node* n) {
  if (n->inputs().empty() || n->outputs().size() != 1) {
    return false;
  }
  const c10::FunctionSchema* schema = n->maybeSchema();
  if (!schema || schema->arguments().empty()) {
    return false;
  }
  const auto* alias = schema->arguments()[0].alias_info();
  return alias && alias->isWrite();
}

bool isContainerConstruct(const Node* n) {
  return n->kind() == c10::prim::ListConstruct || n->kind() == c10::prim::TupleConstruct;
}

// Whether `v` (or a prim::profile of it) is an element of a list or tuple
// built before `writer`.
bool elementOfEarlierContainer(Value* v, const Node* writer) {
  return anyUseThroughProfiles(v, writer, [writer](const torch::jit::Use& u) {
    return isContainerConstruct(u.user) && u.user->isBefore(writer);
  });
}

bool alreadyKept(const Node* writer) {
  for (const torch::jit::Use& u : writer->output()->uses()) {
    if (u.user->kind() == kKeepWrite) {
      return true;
    }
  }
  return false;
}

struct ElementWritesKeeper {
  explicit ElementWritesKeeper(Graph& graph) : graph_(graph) {}

  size_t run() {
    keepIn(graph_.block());
    if (inserted_ > 0) {
      GRAPH_DUMP("After keeping writes to list/tuple elements:", &graph_);
    }
    return inserted_;
  }

 private:
  void keepIn(Block* block) {
    for (Node* n : block->nodes()) {
      for (Block* inner : n->blocks()) {
        keepIn(inner);
      }
      if (!writesSelf(n) || alreadyKept(n) ||
          !elementOfEarlierContainer(throughProfiles(n->input(0)), n)) {
        continue;
      }
      Node* keep = graph_.create(kKeepWrite, {n->output()}, 0);
      keep->insertAfter(n);
      GRAPH_UPDATE(
          "Kept the write to a list/tuple element %", n->input(0)->debugName(), " (",
          n->kind().toQualString(), ") with torch_optspec::keep_write");
      ++inserted_;
    }
  }

  Graph& graph_;
  size_t inserted_ = 0;
};

} // namespace

c10::Symbol keepWriteKind() {
  return kKeepWrite;
}

size_t keepElementWrites(Graph& graph) {
  return ElementWritesKeeper(graph).run();
}

} // namespace torch_optspec
