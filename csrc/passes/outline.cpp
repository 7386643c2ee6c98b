// Stage 8: outline the fast path into a function of its own (when needed).
//
// Some fusers only look at the top-level block of a graph: oneDNN Graph builds
// its partitions from graph->block()->nodes() alone (codegen/onednn/
// graph_helper.cpp), so a fast path nested in the versioning If is invisible
// to it. Outlining turns block0 into a prim::FallbackGraph over the values it
// reads; the executor compiles that subgraph like any other function (its own
// profiling run, the full optimization pipeline, every fuser at top level),
// exactly as it compiles a hand-specialized module:
//
//   %mask.refined : Tensor = prim::unchecked_cast(%mask)     (hoisted: a no-op)
//   %ok : bool = torch_optspec::check_inputs[pattern=[0]](%mask)
//   %out = prim::If(%ok)
//     block0(): %r = prim::FallbackGraph_0(%self, %inputs, %mask.refined)
//     block1(): %r = prim::FallbackGraph_1(%self, %inputs, %mask)
//
// The price is a function call per call and one more profiling run, so the
// driver outlines only when asked (DriverOptions::outline; the pipeline sets
// it when oneDNN Graph's pass is registered, see FastPathMode).
//
// A fast path that reads no value (it returns constants, e.g. a None input
// returned as is) stays inline: the function would have no inputs, and oneDNN
// Graph reads the first input of every graph it fuses (graph_helper.cpp
// inferDevice: a segmentation fault on an empty input list); there is
// nothing in it to fuse either.
#include "outline.h"

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <unordered_set>

namespace torch_optspec {

namespace {

void collectDefined(Block* b, std::unordered_set<const Value*>& defined) {
  for (Value* v : b->inputs()) {
    defined.insert(v);
  }
  for (Node* n : b->nodes()) {
    for (Value* o : n->outputs()) {
      defined.insert(o);
    }
    for (Block* inner : n->blocks()) {
      collectDefined(inner, defined);
    }
  }
}

// Values read inside `b` but defined outside it, in order of first use.
void collectFree(
    Block* b,
    const std::unordered_set<const Value*>& defined,
    std::vector<Value*>& free,
    std::unordered_set<const Value*>& seen) {
  auto visit = [&](Value* v) {
    if (!defined.count(v) && seen.insert(v).second) {
      free.push_back(v);
    }
  };
  for (Node* n : b->nodes()) {
    for (Value* v : n->inputs()) {
      visit(v);
    }
    for (Block* inner : n->blocks()) {
      collectFree(inner, defined, free, seen);
    }
  }
  for (Value* v : b->outputs()) {
    visit(v);
  }
}

} // namespace

bool outlineFastPath(Graph& graph, Block* fast) {
  if (!canBecomeFallbackGraph(fast)) {
    GRAPH_DEBUG("The fast path returns only None: left inline (not outlined)");
    return false;
  }
  {
    std::unordered_set<const Value*> defined;
    collectDefined(fast, defined);
    std::vector<Value*> free;
    std::unordered_set<const Value*> seen;
    collectFree(fast, defined, free, seen);
    if (free.empty()) {
      GRAPH_DEBUG("The fast path reads no value: left inline (not outlined)");
      return false;
    }
  }
  // The refinements read the graph inputs directly (refine.cpp). Moved before
  // the If they still do nothing at run time, and the outlined function
  // receives Tensor-typed values instead of Optional ones.
  Node* versioning_if = fast->owningNode();
  std::vector<Node*> refinements;
  for (Node* n : fast->nodes()) {
    if (n->kind() == c10::prim::unchecked_cast &&
        n->input()->node() == graph.param_node()) {
      refinements.push_back(n);
    }
  }
  for (Node* n : refinements) {
    n->moveBefore(versioning_if);
  }

  std::unordered_set<const Value*> defined;
  collectDefined(fast, defined);
  std::vector<Value*> free;
  std::unordered_set<const Value*> seen;
  collectFree(fast, defined, free, seen);
  torch::jit::replaceBlockWithFallbackGraph(fast, free);
  GRAPH_UPDATE(
      "Outlined the fast path into a prim::FallbackGraph over ", free.size(),
      " values");
  GRAPH_DUMP("After outlining the fast path:", &graph);
  return true;
}

} // namespace torch_optspec
