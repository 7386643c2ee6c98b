// Stage 6: clean up.
//
// After refinement the checks on the specialized inputs are foldable:
//   aten::__isnot__(%x.refined, None)  -> True   (peephole: a Tensor is never None)
//   aten::__isnot__(None, None)        -> False  (constant propagation)
//   prim::If(<constant>)               -> the taken block, inlined
//   prim::unchecked_cast(%x.refined)   -> %x.refined (peephole)
// The profiling executor ran its own peephole/constant propagation *before*
// the custom pre-passes, so we run them here. Constant propagation folds
//   prim::unchecked_cast(None) -> %t : Tensor = prim::Constant()
// in a branch that never runs (its condition computed elsewhere): a constant
// without a value that a function compiled from this graph (an outlined fast
// path) cannot take (its CanonicalizeOps reads it: "required keyword
// attribute 'value' is undefined"; fuzz case 8000441). Such a constant
// becomes prim::Uninitialized of the same type, what the JIT itself puts in
// code that never runs. Shape peepholes stay off: they
// would fold x.dim()/x.size()/dtype from the profiled type, which our guard
// does not check.
#include "cleanup.h"

#include "refine.h"

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/peephole.h>

#include <functional>
#include <sstream>
#include <unordered_set>

namespace torch_optspec {

namespace {

void replaceValuelessConstants(Block* block) {
  for (Node* n : block->nodes()) {
    for (Block* b : n->blocks()) {
      replaceValuelessConstants(b);
    }
    if (n->outputs().size() == 1 && isValuelessConstant(n->output()) &&
        !n->output()->type()->cast<c10::OptionalType>()) {
      Node* u = block->owningGraph()->create(c10::prim::Uninitialized, 1);
      u->insertBefore(n);
      u->output()->setType(n->output()->type());
      n->output()->replaceAllUsesWith(u->output());
      GRAPH_UPDATE("A constant without a value typed ", *u->output()->type(),
                   " became prim::Uninitialized");
    }
  }
}

} // namespace

CleanupResult cleanupGraph(std::shared_ptr<Graph>& graph, int max_rounds) {
  // Each round can expose more work for the other passes (a folded If
  // inlines nodes that peephole has not seen). The passes' own "changed"
  // results are not a stop condition: PeepholeOptimize keeps returning true
  // on torch.nn attention graphs whose text no longer changes, and a round
  // that folds nothing new can still be the one before a round that does.
  // So a round is repeated until it leaves the printed graph as it was.
  CleanupResult result;
  std::string before = graph->toString(/*print_source_locations=*/false);
  while (true) {
    if (result.rounds >= max_rounds) {
      result.hit_round_limit = true;
      GRAPH_DEBUG(
          "Cleanup stopped by its bound of ", max_rounds,
          " rounds before a fixed point");
      break;
    }
    ++result.rounds;
    refineProfiles(graph->block());
    torch::jit::PeepholeOptimize(graph, /*disable_shape_peepholes=*/true);
    torch::jit::ConstantPropagation(graph);
    replaceValuelessConstants(graph->block());
    torch::jit::EliminateDeadCode(graph);
    std::string after = graph->toString(/*print_source_locations=*/false);
    const bool changed = after != before;
    GRAPH_DEBUG(
        "Cleanup round ", result.rounds, changed ? ": changed" : ": fixed point");
    if (!changed) {
      break;
    }
    before = std::move(after);
  }
  GRAPH_DUMP("After cleanup:", graph);
  return result;
}

size_t countResidualChecks(
    const Graph& graph,
    Block* block,
    const InputDecisions& plan) {
  // Values derived from a specialized input through the nodes that carry
  // Optional-ness: profiles, casts and None checks.
  std::unordered_set<const Value*> tainted;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    if (plan.inputs[i].kind != InputKind::Skip) {
      tainted.insert(graph.inputs()[i]);
    }
  }
  size_t residual = 0;
  std::function<void(Block*)> walk = [&](Block* b) {
    for (Node* n : b->nodes()) {
      bool reads_tainted = false;
      for (const Value* v : n->inputs()) {
        reads_tainted |= tainted.count(v) > 0;
      }
      switch (n->kind()) {
        case c10::prim::profile:
        case c10::prim::unchecked_cast:
        case c10::aten::__is__:
        case c10::aten::__isnot__:
        case c10::aten::__not__:
          if (reads_tainted) {
            tainted.insert(n->output());
            // The refinement itself reads the graph input directly; any other
            // cast of a specialized input should have been folded away.
            residual += n->kind() == c10::prim::unchecked_cast &&
                    n->input()->node() != graph.param_node()
                ? 1
                : 0;
          }
          break;
        case c10::prim::If:
          residual += reads_tainted ? 1 : 0;
          break;
        default:
          break;
      }
      for (Block* inner : n->blocks()) {
        walk(inner);
      }
    }
  };
  walk(block);
  return residual;
}

} // namespace torch_optspec
