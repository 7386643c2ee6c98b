// Stage 9, fuser safety (before oneDNN Graph's pre-pass): the nodes its
// bridge would throw on or compute differently, renamed into same-kernel ops.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// What makeSafeForOneDNN rewrote.
struct TORCH_OPTSPEC_API FuserSafetyResult {
  size_t binary_renamed = 0;    // add/mul/div(_) -> same-kernel ops the bridge skips
  size_t silu_renamed = 0;      // silu -> torch_optspec::silu
  size_t linear_renamed = 0;    // linear with an Optional bias -> torch_optspec::linear
  size_t layer_norm_filled = 0; // None weight/bias -> ones/zeros constants
  size_t layer_norm_native = 0; // layer_norm -> aten::native_layer_norm
  size_t nested_reads_exposed = 0; // torch_optspec::block_read inserted
  size_t size_renamed = 0;      // aten::size -> torch_optspec::size
  size_t control_flow_outlined = 0; // If/Loop -> prim::FallbackGraph (bridge's work bound)
  bool exact_types = true;      // false: types unknown, every candidate renamed
  size_t total() const;
  // "binary=2 silu=0 linear=0 layer_norm_filled=1 layer_norm_native=0
  // nested_reads=0 size=0 outlined=0" (the stage's result line in
  // tests/ir/fuser_safety/).
  std::string describe() const;
};

// Rewrites, in every block of `graph`, the nodes oneDNN Graph's bridge would
// throw on or compute differently (fuser_safety.cpp lists them), into nodes
// that run the same ATen kernels and that the bridge does not match; and in
// the top-level block, which oneDNN partitions, the nodes it would fail to
// compile. Results are unchanged (bitwise, fusers off). To be run on a graph
// with its prim::profile nodes, right before oneDNN Graph's pre-pass.
// Above `bridge_work_limit` (blocks x nodes: the bridge's passes do work of
// the whole graph's size per block), the model's own If/Loop nodes are first
// moved into prim::FallbackGraph nodes, largest first, until it is not.
constexpr size_t kBridgeWorkLimit = 100000;
// (The pipeline passes bridgeWorkLimit(), ../runtime.h.)
TORCH_OPTSPEC_API FuserSafetyResult makeSafeForOneDNN(
    std::shared_ptr<Graph>& graph,
    size_t bridge_work_limit = kBridgeWorkLimit);

} // namespace torch_optspec
