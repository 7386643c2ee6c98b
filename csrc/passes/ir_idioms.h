// IR idioms the stages share: copying a body into a block, replacing a
// graph's body by a node that wraps it, transforming a copy and swapping it in
// only when it verifies, looking through prim::profile nodes, and the
// subgraphs the executor compiles later.
#pragma once

#include <ATen/core/stack.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch_optspec/torch_optspec.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch_optspec {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// Clones the body of `source` (same inputs as `graph`) into `block`, an empty
// block of a node of `graph`, reading `graph`'s inputs.
TORCH_OPTSPEC_API void cloneBodyInto(Graph& graph, const Graph& source, Block* block);

// False when `body` must stay inline rather than become a prim::FallbackGraph
// (version's no-grad slow path, outline, value sites): dead-code elimination
// keeps such a node only through its used outputs (its in-place updates,
// raises and prints live in its subgraph, which neither Node::hasSideEffects
// nor AliasDb::getWrites looks into), and an output of type NoneType is
// always replaced by the constant None. A body whose outputs are all None (a
// function that only updates its arguments) would be dropped with its
// effects.
TORCH_OPTSPEC_API bool canBecomeFallbackGraph(const Block* body);
// True for a node whose subgraph the executor compiles into a function of its
// own, profiled and optimized when first called: prim::FallbackGraph (our
// slow paths, outlined fast paths and value sites, NNC's guard fallbacks) and
// prim::fork.
TORCH_OPTSPEC_API bool isCompiledLater(const Node* n);
// Calls `fn` on the subgraph of every such node in `block`, in nested blocks
// and, recursively, in those subgraphs (outer subgraphs first).
TORCH_OPTSPEC_API void forEachSubgraphCompiledLater(
    Block* block,
    const std::function<void(Graph&)>& fn);

// Makes `wrapper` the body of `graph`. `wrapper` is a node of the top block
// with one output per graph output, inserted before every node of the
// original body (after its own inputs' producers): the graph's outputs now
// read its outputs (which take their types and names), and the original
// nodes, which feed nothing any more, are destroyed (users first).
// version.cpp, value_site.cpp and ahead_of_time.cpp wrap bodies this way.
TORCH_OPTSPEC_API void replaceBodyWith(Graph& graph, Node* wrapper);

// The stages' way of changing a graph: `transform` works on a copy of `graph`
// (it may replace the copy by another graph) and returns whether there is
// anything to swap in; the copy is then verified (verifyGraph) and swapped in.
// `graph` is left exactly as it was when `transform` throws, returns false,
// or the copy fails verification. Returns the problem ("" when swapped in or
// when there was nothing to swap in).
TORCH_OPTSPEC_API std::string transformCopy(
    std::shared_ptr<Graph>& graph,
    const std::function<bool(std::shared_ptr<Graph>& copy)>& transform);

// `v` with the prim::profile nodes on it looked through (each takes one
// input and returns it).
TORCH_OPTSPEC_API Value* throughProfiles(Value* v);
TORCH_OPTSPEC_API const Value* throughProfiles(const Value* v);

// A prim::Constant without a value, typed other than None: stock constant
// propagation makes one from an unchecked_cast of None in a branch that
// never runs (`%t : Tensor = prim::Constant()`). Harmless where it is, but in
// a function of its own the executor's CanonicalizeOps reads it (toIValue:
// "required keyword attribute 'value' is undefined"), and SubgraphUtils
// throws on one it would copy in. The clean-up (cleanup.cpp) turns the
// non-Optional ones into prim::Uninitialized; fuser safety (fuser_safety.cpp)
// never moves control flow that reads one into a subgraph.
TORCH_OPTSPEC_API bool isValuelessConstant(const Value* v);

// Whether a use of `v` by a node other than `except` satisfies `pred`, the
// prim::profile nodes on `v` looked through (the uses of their outputs are
// uses of `v`; a profile node itself is never given to `pred`).
TORCH_OPTSPEC_API bool anyUseThroughProfiles(
    Value* v,
    const Node* except,
    const std::function<bool(const torch::jit::Use&)>& pred);

} // namespace torch_optspec
