// Queries on JIT graphs shared by the C++ tests.
#pragma once

#include <torch_optspec/torch_optspec.h>

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <string>
#include <vector>

namespace graph_queries {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// Nodes of `kind` in `block` and, recursively, in the blocks of its nodes.
inline void collect(Block* block, c10::Symbol kind, std::vector<Node*>& out) {
  for (Node* n : block->nodes()) {
    if (n->kind() == kind) {
      out.push_back(n);
    }
    for (Block* b : n->blocks()) {
      collect(b, kind, out);
    }
  }
}

inline std::vector<Node*> find(Block* block, c10::Symbol kind) {
  std::vector<Node*> out;
  collect(block, kind, out);
  return out;
}

inline c10::Symbol guardKind() {
  return c10::Symbol::fromQualString(torch_optspec::guard_op_name());
}

// The single top-level torch_optspec guard of `graph`, or nullptr.
inline Node* topLevelGuard(const std::shared_ptr<Graph>& graph) {
  Node* found = nullptr;
  for (Node* n : graph->nodes()) {
    if (n->kind() == guardKind()) {
      if (found) {
        return nullptr;
      }
      found = n;
    }
  }
  return found;
}

// The prim::If that branches on `guard`'s result, or nullptr.
inline Node* versioningIf(Node* guard) {
  for (const auto& use : guard->output()->uses()) {
    if (use.user->kind() == c10::prim::If) {
      return use.user;
    }
  }
  return nullptr;
}

// Nodes in `block` (recursively) that test whether `optional` is None:
// aten::__is__ / aten::__isnot__ on it, or on a value forwarded from it by
// prim::profile. These are what `if mask is not None` compiles to.
inline std::vector<Node*> noneTestsOn(Block* block, Value* optional) {
  std::vector<Value*> aliases{optional};
  for (size_t i = 0; i < aliases.size(); ++i) {
    for (const auto& use : aliases[i]->uses()) {
      if (use.user->kind() == c10::prim::profile) {
        aliases.push_back(use.user->output());
      }
    }
  }
  std::vector<Node*> out;
  for (auto kind : {c10::aten::__is__, c10::aten::__isnot__}) {
    for (Node* n : find(block, kind)) {
      for (Value* in : n->inputs()) {
        if (std::find(aliases.begin(), aliases.end(), in) != aliases.end()) {
          out.push_back(n);
          break;
        }
      }
    }
  }
  return out;
}

inline std::string str(const std::shared_ptr<Graph>& graph) {
  return graph ? graph->toString() : std::string("<no graph>");
}

} // namespace graph_queries
