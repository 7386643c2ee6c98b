// Stage 8b (with stage 8, in the post-pass): keep stock TorchScript's
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
// prim::Loop and every prim::If that holds one, in every block: the node
// before the user is then the barrier, CanEmitInline's scan no longer lines
// up, and the loop is emitted where it stands (one STORE and one no-op call
// more per execution of the loop nest). It is a side-effecting no-op
// (CONSERVATIVE), so dead-code elimination, CSE and constant propagation keep
// it where it is; a barrier after every such node, not only after those
// whose output has a single use now, keeps later passes (DCE removing a use,
// the profiler inserting prim::profile before the user) from recreating the
// pattern. The pre-pass removes all barriers before it works and the
// post-pass puts them back on the final plan, so fusers never see them.
#include "passes.h"

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/runtime/custom_operator.h>

#include <functional>

namespace torch_optspec {

namespace {

const c10::Symbol kBarrier = c10::Symbol::fromQualString("torch_optspec::emission_barrier");

bool holdsLoop(const Node* n) {
  if (n->kind() == c10::prim::Loop) {
    return true;
  }
  for (const Block* b : n->blocks()) {
    for (const Node* inner : b->nodes()) {
      if (holdsLoop(inner)) {
        return true;
      }
    }
  }
  return false;
}

size_t insertIn(Block* block) {
  size_t inserted = 0;
  for (Node* n : block->nodes()) {
    for (Block* b : n->blocks()) {
      inserted += insertIn(b);
    }
    const bool control = n->kind() == c10::prim::Loop || n->kind() == c10::prim::If;
    if (!control || !holdsLoop(n) || n->next()->kind() == kBarrier) {
      continue;
    }
    Node* barrier = block->owningGraph()->create(kBarrier, {}, 0);
    barrier->insertAfter(n);
    GRAPH_UPDATE("Emission barrier after ", n->kind().toQualString(), " %",
                 n->outputs().empty() ? std::string("(no output)") : n->output(0)->debugName());
    ++inserted;
  }
  return inserted;
}

size_t removeIn(Block* block) {
  size_t removed = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    if (it->kind() == kBarrier) {
      it.destroyCurrent();
      ++removed;
      continue;
    }
    for (Block* b : it->blocks()) {
      removed += removeIn(b);
    }
    ++it;
  }
  return removed;
}

} // namespace

c10::Symbol emissionBarrierKind() {
  return kBarrier;
}

void registerEmissionBarrierOperator() {
  static torch::jit::RegisterOperators reg({torch::jit::Operator(
      "torch_optspec::emission_barrier() -> ()",
      [](const Node*) -> torch::jit::Operation { return [](torch::jit::Stack&) {}; },
      // a side effect for the JIT's passes: kept, and kept in place
      c10::AliasAnalysisKind::CONSERVATIVE)});
}

size_t insertEmissionBarriers(Graph& graph, bool subgraphs) {
  size_t inserted = insertIn(graph.block());
  if (subgraphs) {
    std::function<void(Block*)> visit = [&](Block* b) {
      for (Node* n : b->nodes()) {
        const bool compiled_later =
            n->kind() == c10::prim::fork || n->kind() == c10::prim::FallbackGraph;
        if (compiled_later && n->hasAttribute(c10::attr::Subgraph)) {
          inserted += insertEmissionBarriers(*n->g(c10::attr::Subgraph), true);
        }
        for (Block* inner : n->blocks()) {
          visit(inner);
        }
      }
    };
    visit(graph.block());
  }
  GRAPH_DUMP("After inserting emission barriers:", &graph);
  return inserted;
}

size_t removeEmissionBarriers(Graph& graph) {
  return removeIn(graph.block());
}

} // namespace torch_optspec
