// Stage 10 (post-fusion, registered as a custom post-pass): un-fuse NNC groups
// that have no inputs, in graphs torch_optspec specialized.
//
// Specializing an Optional to None can fold a whole computation to constants
// (a loop-carried `acc = None` accumulator, say). NNC then fuses the ops on
// those constants into a prim::TensorExprGroup with no inputs, and in torch
// 2.13 such a group computes a wrong result on CPU
// (tools/nnc_constant_group_repro.py reproduces it without torch_optspec).
// The unspecialized graph keeps those ops behind a runtime branch, so this is
// a wrong result the specialization would expose: the group is inlined back
// into plain ops, which compute the same values as stock TorchScript.
//
// Graphs without our guard are left alone: pass off or on, an untouched graph
// runs exactly as stock TorchScript runs it. An outlined fast path is such a
// graph (its function carries no guard): with NNC fusing on CPU *and* the
// fast path outlined (set_fast_path("outline"), or "auto" with oneDNN
// enabled as well) an input-less group there is left as stock forms it.
#include "postfusion.h"

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

namespace torch_optspec {

namespace {

// The bug is in NNC's CPU code path: a group whose outputs are known to live
// on another device (CUDA) is compiled by NNC's CUDA code generator and left
// alone. Input-less groups have no inputs to look at, so their outputs'
// profiled types decide; a group with no known device is treated as CPU.
bool runsOnCpu(const Node* n) {
  for (const Value* v : n->outputs()) {
    auto t = v->type()->cast<c10::TensorType>();
    if (t && t->device() && !t->device()->is_cpu()) {
      return false;
    }
  }
  return true;
}

bool hasTensorInput(const Node* n) {
  for (const Value* v : n->inputs()) {
    if (v->type()->cast<c10::TensorType>()) {
      return true;
    }
  }
  return false;
}

size_t unfuseInputlessGroups(Block* block) {
  size_t n_unfused = 0;
  std::vector<Node*> groups;
  for (Node* n : block->nodes()) {
    for (Block* b : n->blocks()) {
      n_unfused += unfuseInputlessGroups(b);
    }
    if ((n->kind() == c10::prim::TensorExprGroup ||
         n->kind() == c10::prim::TensorExprDynamicGroup) &&
        !hasTensorInput(n) && runsOnCpu(n)) {
      groups.push_back(n);
    }
  }
  for (Node* group : groups) {
    GRAPH_UPDATE("Un-fusing the input-less NNC CPU group ", *group);
    torch::jit::SubgraphUtils::unmergeSubgraph(group);
    ++n_unfused;
  }
  return n_unfused;
}

} // namespace

size_t UnfuseInputlessGroups(std::shared_ptr<Graph>& graph) {
  try {
    size_t n = unfuseInputlessGroups(graph->block());
    if (n > 0) {
      GRAPH_DUMP("After un-fusing input-less NNC groups:", graph);
    }
    return n;
  } catch (const std::exception& e) {
    GRAPH_DEBUG("Un-fusing failed, graph left as it was: ", e.what());
    return 0;
  }
}

} // namespace torch_optspec
