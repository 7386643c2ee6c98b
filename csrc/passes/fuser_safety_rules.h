// When oneDNN Graph's bridge would throw on a node or change its result: the
// fuser-safety stage's rules, one named rule each, in a table per op. The
// stage (fuser_safety.cpp) renames a node when a rule of its op's table
// applies, and logs that rule's reason. Rules are tried in table order; a
// rule may take the ones before it as not applying (each says so).
#pragma once

#include "bridge_model.h"

#include <string>
#include <vector>

namespace torch_optspec::bridge {

// Where a rule holds: the bridge rewrites every block of the graph, and
// partitions (and compiles) the top-level block only.
enum class Scope { AnyBlock, TopLevel, Nested };

// What a rule sees of a node: the node and its first two operands as the
// bridge will type them (null: not a tensor there). The binary rules are
// asked only about nodes with two operands, the first a tensor (the bridge
// leaves scalar arithmetic alone).
struct Operands {
  Node* n = nullptr;
  const BridgeTypes* types = nullptr;
  c10::TensorTypePtr t0;
  c10::TensorTypePtr t1;
};

struct Rule {
  const char* name;
  Scope scope;
  bool (*applies)(const Operands&);
  std::string (*reason)(const Operands&);
};

// aten::add/add_/mul/mul_/div (isBridgeBinary).
const std::vector<Rule>& binaryRules();
// aten::silu of a linear or convolution (DecomposeSiluForLLGA).
const std::vector<Rule>& siluRules();

// The first rule of `rules` that applies to `n` (in the top-level block or
// not) and its reason; rule null when none applies.
struct Verdict {
  const Rule* rule = nullptr;
  std::string reason;
};
Verdict firstRuleThatApplies(
    const std::vector<Rule>& rules,
    Node* n,
    const BridgeTypes& types,
    bool top_level);

} // namespace torch_optspec::bridge
