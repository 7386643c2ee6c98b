// IR idioms the stages share (ir_idioms.h says what each does). One
// implementation each, so that every stage copies bodies, wraps them and
// swaps graphs the same way.
#include "ir_idioms.h"

#include "verify.h"

#include <torch/csrc/jit/jit_log.h>

namespace torch_optspec {

void cloneBodyInto(Graph& graph, const Graph& source, Block* block) {
  TORCH_INTERNAL_ASSERT(source.inputs().size() == graph.inputs().size());
  // A whole graph's top block reads no value from outside: the map is unused.
  block->cloneFrom(const_cast<Graph&>(source).block(), [](Value* v) { return v; });
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    block->inputs().at(i)->replaceAllUsesWith(graph.inputs().at(i));
  }
  for (size_t i = graph.inputs().size(); i > 0; --i) {
    block->eraseInput(i - 1);
  }
}

bool canBecomeFallbackGraph(const Block* body) {
  for (const Value* v : body->outputs()) {
    if (v->type()->kind() != c10::TypeKind::NoneType) {
      return true;
    }
  }
  return false;
}

bool isCompiledLater(const Node* n) {
  return (n->kind() == c10::prim::FallbackGraph || n->kind() == c10::prim::fork) &&
      n->hasAttribute(c10::attr::Subgraph);
}

void forEachSubgraphCompiledLater(Block* block, const std::function<void(Graph&)>& fn) {
  for (Node* n : block->nodes()) {
    if (isCompiledLater(n)) {
      Graph& sub = *n->g(c10::attr::Subgraph);
      fn(sub);
      forEachSubgraphCompiledLater(sub.block(), fn);
    }
    for (Block* b : n->blocks()) {
      forEachSubgraphCompiledLater(b, fn);
    }
  }
}

void replaceBodyWith(Graph& graph, Node* wrapper) {
  TORCH_INTERNAL_ASSERT(wrapper->owningBlock() == graph.block());
  TORCH_INTERNAL_ASSERT(wrapper->outputs().size() == graph.outputs().size());
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    wrapper->output(i)->copyMetadata(graph.outputs()[i]);
  }
  // The original body now only feeds the old outputs: point the outputs at
  // the wrapper and destroy the original nodes (in reverse, users first).
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    graph.return_node()->replaceInput(i, wrapper->output(i));
  }
  for (auto it = graph.block()->nodes().reverse().begin(); *it != wrapper;) {
    Node* n = *it;
    ++it;
    n->destroy();
  }
}

std::string transformCopy(
    std::shared_ptr<Graph>& graph,
    const std::function<bool(std::shared_ptr<Graph>& copy)>& transform) {
  std::string problem;
  try {
    auto copy = graph->copy();
    if (!transform(copy)) {
      return "";
    }
    problem = verifyGraph(copy);
    if (problem.empty()) {
      graph = copy;
    }
  } catch (const std::exception& e) {
    problem = e.what();
  }
  return problem;
}

Value* throughProfiles(Value* v) {
  while (v->node()->kind() == c10::prim::profile && v->node()->inputs().size() == 1) {
    v = v->node()->input(0);
  }
  return v;
}

const Value* throughProfiles(const Value* v) {
  return throughProfiles(const_cast<Value*>(v));
}

bool isValuelessConstant(const Value* v) {
  const Node* c = v->node();
  return c->kind() == c10::prim::Constant && !c->hasAttribute(c10::attr::value) &&
      v->type()->kind() != c10::TypeKind::NoneType;
}

bool anyUseThroughProfiles(
    Value* v,
    const Node* except,
    const std::function<bool(const torch::jit::Use&)>& pred) {
  for (const torch::jit::Use& u : v->uses()) {
    if (u.user == except) {
      continue;
    }
    if (u.user->kind() == c10::prim::profile) {
      if (anyUseThroughProfiles(u.user->output(), except, pred)) {
        return true;
      }
    } else if (pred(u)) {
      return true;
    }
  }
  return false;
}

} // namespace torch_optspec
