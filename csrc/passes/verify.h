// Stage 7, verify: what every transformed graph must pass before it is
// swapped in.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

// Lints the graph, and the subgraphs of its prim::FallbackGraph nodes, and
// checks that every aten node resolves to an operator. Returns an empty string
// when fine, else what is wrong.
TORCH_OPTSPEC_API std::string verifyGraph(const std::shared_ptr<Graph>& graph);

} // namespace torch_optspec
