// Stage 11, mark: the pass state of an optimization, carried into the
// functions the executor compiles later from its plan (pass_state.h says
// why). The pipeline (../pipeline.cpp) reads and removes the marker in the
// pre-pass and marks in the post-pass.
//
//   PYTORCH_JIT_LOG_LEVEL=">>pass_state"    each subgraph marked
#include "pass_state.h"

#include <torch/csrc/jit/jit_log.h>

namespace torch_optspec {

namespace {

const c10::Symbol kEnabledAttr = c10::Symbol::attr("enabled");

// The marker at the top of `block`: the first node after the constants
// (constant pooling hoists them above it), or nullptr.
Node* findPassStateMarker(Block* block) {
  for (Node* n : block->nodes()) {
    if (n->kind() == passStateKind()) {
      return n;
    }
    if (n->kind() != c10::prim::Constant) {
      return nullptr;
    }
  }
  return nullptr;
}

} // namespace

c10::Symbol passStateKind() {
  static const auto kind = c10::Symbol::fromQualString("torch_optspec::pass_state");
  return kind;
}

int8_t markedPassState(const Graph& graph) {
  const Node* marker = findPassStateMarker(const_cast<Graph&>(graph).block());
  return marker ? static_cast<int8_t>(marker->i(kEnabledAttr)) : -1;
}

void markSubgraphsCompiledLater(Graph& graph, int8_t state) {
  forEachSubgraphCompiledLater(graph.block(), [state](Graph& sub) {
    if (Node* marker = findPassStateMarker(sub.block())) {
      marker->i_(kEnabledAttr, state);
    } else {
      Node* added = sub.create(passStateKind(), {}, 0);
      added->i_(kEnabledAttr, state);
      sub.block()->prependNode(added);
    }
    GRAPH_UPDATE("Marked a subgraph compiled later with the pass state ", int(state));
  });
}

int8_t takeMarkedPassState(Graph& graph) {
  const int8_t state = markedPassState(graph);
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    if (it->kind() == passStateKind()) {
      it.destroyCurrent();
    } else {
      ++it;
    }
  }
  return state;
}

} // namespace torch_optspec
