// Stage 12 (after stages 10 and 11, in the post-pass): keep stock TorchScript's
// interpreter from moving a value out of its register inside a loop body.
//
// The interpreter (runtime/interpreter/can_emit_inline.h, code_impl.h) emits
// a node with one output whose one use is the next non-constant node as part
// of that node's expression tree: where the use is, after the user's earlier
// inputs. CanEmitInline::canInline does not exclude prim::Loop or prim::If.
// Whether an instruction loads an input or moves it out of its register is
// decided by counting uses in emission order (CodeImpl::emitUse: the last one
// moves). insertLastUses (preprocess_graph.cpp) makes sure the last use in
// graph order sits at the value's own depth; the inline emission breaks that
// when the node emitted late holds a loop. In
//
//   %s0 : int = prim::Loop(%b, %true, %z)     # its body: prim::Loop(%a, ...)
//   %s1 : int = prim::Loop(%a, %true, %s0)
//
// %s1's trip count %a is loaded first, then %s0's loop is emitted inline, and
// the use of %a in its body is the last one counted: a MOVE. The second
// iteration reads an empty register: "INTERNAL ASSERT FAILED ... ivalue.h
// ... expected int" (tests/fuzz/upstream/loop_body_value_lost_repro.py shows
// it in stock TorchScript alone). Loop unrolling, which runs before our
// pre-pass, makes such chains out of `for _ in range(n)` loops. Stock's own
// plan often escapes because fusion groups (never emitted inline) sit between
// the loops; a function compiled from a plan of the pass (a guard's or a value
// site's fallback, profiled and run unfused first) may not.
//
// The stage puts a no-op torch_optspec::emission_barrier() right after every
// prim::Loop (nested ones too) and every prim::If that holds one, in every
// block: the node before the user is then the barrier, CanEmitInline's scan
// no longer lines up, and the loop is emitted where it stands. Cost: one
// STORE and one no-op call more each time a loop is entered (a nested loop
// is entered once per iteration of the loops around it), nothing per
// iteration of the loop itself. A barrier after every such node, not only
// after those whose output has a single use now, keeps later passes (DCE
// removing a use, the profiler inserting prim::profile before the user) from
// recreating the pattern.
//
// Who sees them: the barrier is a side-effecting no-op (CONSERVATIVE; with
// no inputs or outputs alias analysis records nothing for it), so no JIT pass
// moves or drops it. The pre-pass removes them from the graph it is given
// (and its subgraphs) before the stages and the fusers run, and the post-pass
// puts them back on the final plan. In a function compiled from a subgraph
// of a plan, the stock passes that run before our pre-pass (the profiling-
// insensitive ones, then up to loop unrolling) do see them: there
// dead-code elimination keeps a dead loop nest that holds one (it is removed
// after the pre-pass), and unrolling counts them in a loop body's size.
#include "emission_barriers.h"

#include <torch/csrc/jit/jit_log.h>

namespace torch_optspec {

namespace {

const c10::Symbol kBarrier = c10::Symbol::fromQualString("torch_optspec::emission_barrier");

// Puts the barriers in `block` (and its nested blocks), counting them in
// `inserted`; returns whether `block` holds a prim::Loop.
bool insertIn(Block* block, size_t& inserted) {
  bool holds_loop = false;
  for (Node* n : block->nodes()) {
    bool inner_loop = false;
    for (Block* b : n->blocks()) {
      inner_loop = insertIn(b, inserted) || inner_loop;
    }
    const bool is_loop = n->kind() == c10::prim::Loop;
    holds_loop = holds_loop || is_loop || inner_loop;
    const bool needs_barrier = is_loop || (n->kind() == c10::prim::If && inner_loop);
    if (!needs_barrier || n->next()->kind() == kBarrier) {
      continue;
    }
    Node* barrier = block->owningGraph()->create(kBarrier, {}, 0);
    barrier->insertAfter(n);
    GRAPH_UPDATE("Emission barrier after ", n->kind().toQualString(), " %",
                 n->outputs().empty() ? std::string("(no output)") : n->output(0)->debugName());
    ++inserted;
  }
  return holds_loop;
}

size_t removeIn(Block* block) {
  size_t removed = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end(); ++it) {
    if (it->kind() == kBarrier) {
      it.destroyCurrent(); // `it` is now on the node before: ++it moves on
      ++removed;
      continue;
    }
    for (Block* b : it->blocks()) {
      removed += removeIn(b);
    }
  }
  return removed;
}

} // namespace

c10::Symbol emissionBarrierKind() {
  return kBarrier;
}

size_t insertEmissionBarriers(Graph& graph, bool subgraphs) {
  size_t inserted = 0;
  insertIn(graph.block(), inserted);
  if (subgraphs) {
    forEachSubgraphCompiledLater(graph.block(), [&](Graph& sub) { insertIn(sub.block(), inserted); });
  }
  GRAPH_DUMP("After inserting emission barriers:", &graph);
  return inserted;
}

size_t removeEmissionBarriers(Graph& graph, bool subgraphs) {
  size_t removed = removeIn(graph.block());
  if (subgraphs) {
    forEachSubgraphCompiledLater(graph.block(), [&](Graph& sub) { removed += removeIn(sub.block()); });
  }
  return removed;
}

} // namespace torch_optspec
