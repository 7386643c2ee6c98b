// Stage 7: verify. Every graph a stage transforms is verified before it is
// swapped in (transformCopy, ir_idioms.h): Graph::lint, and every aten node
// resolving to an operator, in the graph and in the subgraphs of its
// prim::FallbackGraph nodes (which the executor compiles into functions).
#include "verify.h"

#include <sstream>

namespace torch_optspec {

namespace {

void verifyInto(const std::shared_ptr<Graph>& graph, std::ostringstream& out);

// Unresolved aten nodes, and the subgraphs of prim::FallbackGraph nodes (the
// executor compiles those into functions: Node::lint does not enter them).
void collectUnresolved(Block* block, std::ostringstream& out) {
  for (Node* n : block->nodes()) {
    if (n->maybeSchema() == nullptr && n->kind().is_aten()) {
      out << "no operator matches " << *n;
    }
    if (n->kind() == c10::prim::FallbackGraph &&
        n->hasAttribute(c10::attr::Subgraph)) {
      verifyInto(n->g(c10::attr::Subgraph), out);
    }
    for (Block* b : n->blocks()) {
      collectUnresolved(b, out);
    }
  }
}

void verifyInto(const std::shared_ptr<Graph>& graph, std::ostringstream& out) {
  try {
    graph->lint();
  } catch (const std::exception& e) {
    out << "lint failed: " << e.what();
    return;
  }
  collectUnresolved(graph->block(), out);
}

} // namespace

std::string verifyGraph(const std::shared_ptr<Graph>& graph) {
  std::ostringstream out;
  verifyInto(graph, out);
  return out.str();
}

} // namespace torch_optspec
