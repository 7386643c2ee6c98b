// Stage 4, version: guard the decisions, fast path in block0, original in block1.
#pragma once

#include "decide.h"

namespace torch_optspec {

// The guard operator: torch_optspec::check_inputs(...) -> bool with an
// int[] attribute `pattern` (1: must be None, 0: must be a defined Tensor),
// one entry per guard input (the specialized graph inputs, in order), and,
// when the plan fixes tensor properties, int[] attributes `dtypes` (a
// c10::ScalarType, -1: any), `dims` (-1: any) and str[] `devices` ("": any).
TORCH_OPTSPEC_API c10::Symbol guardKind();
TORCH_OPTSPEC_API c10::Symbol patternAttr();
// The guard's pattern (an int[] attribute, or the IValue list the IR parser
// makes of `pattern=[...]`).
TORCH_OPTSPEC_API std::vector<int64_t> guardPattern(const Node* guard);

// The guard of a versioned graph (the first top-level guard node), or null.
TORCH_OPTSPEC_API Node* findGuard(const Graph& graph);
// block0 of the prim::If the guard feeds, or null.
TORCH_OPTSPEC_API Block* findFastPath(const Graph& graph);
// The plan a guard checks (types: TensorType::get()): what version wrote.
TORCH_OPTSPEC_API InputDecisions decisionsFromGuard(const Graph& graph);

// Turns the graph into
//   %ok = torch_optspec::check_inputs[pattern=...](specialized inputs)
//   %outs = prim::If(%ok)
//     block0: <copy of the graph body>             (returned, to be refined)
//     block1: prim::If(aten::is_grad_enabled())
//               block0: <original body>                         (grad mode)
//               block1: prim::FallbackGraph(<original body>)    (no grad)
//             or, when !canBecomeFallbackGraph: <original body>
TORCH_OPTSPEC_API Block* versionGraph(
    Graph& graph,
    const InputDecisions& plan);

// The guard's run-time check, from the node's attributes (operators.cpp
// registers it for torch_optspec::check_inputs).
torch::jit::Operation createGuardOperation(const Node* node);

} // namespace torch_optspec
