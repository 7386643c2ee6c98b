// Each stage callable alone, by name: what the IR-file tests (tests/ir/
// <stage>/*.ir, driven by tests/test_ir_files.py and tests/cpp/
// test_ir_files.cpp) and tools use. See runStage in stages.h for the words
// each stage takes.
#include "passes.h"

#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <functional>
#include <sstream>

namespace torch_optspec {

namespace {

std::vector<std::string> splitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    out.push_back(item == "skip" ? "" : item);
  }
  return out;
}

// "name=value" among args, or `fallback`.
std::string option(
    const std::vector<std::string>& args,
    const std::string& name,
    const std::string& fallback) {
  for (const auto& a : args) {
    if (a.rfind(name + "=", 0) == 0) {
      return a.substr(name.size() + 1);
    }
  }
  return fallback;
}

bool flag(const std::vector<std::string>& args, const std::string& name) {
  return std::find(args.begin(), args.end(), name) != args.end();
}

const std::string& patternArg(
    const std::string& stage,
    const std::vector<std::string>& args) {
  TORCH_CHECK(
      !args.empty(),
      "torch_optspec: stage '", stage,
      "' takes a pattern (comma-separated none/tensor/skip, one per graph input)");
  return args[0];
}

Block* fastPathOf(const Graph& graph, const std::string& stage) {
  Block* fast = findFastPath(graph);
  TORCH_CHECK(
      fast,
      "torch_optspec: stage '", stage,
      "' needs a versioned graph (a guard feeding a prim::If)");
  return fast;
}

// The first node of `kind` in the graph (top-level block and nested ones).
Node* firstNodeOf(Graph& graph, const std::string& kind) {
  const auto symbol = c10::Symbol::fromQualString(kind);
  std::function<Node*(Block*)> find = [&](Block* b) -> Node* {
    for (Node* n : b->nodes()) {
      if (n->kind() == symbol) {
        return n;
      }
      for (Block* inner : n->blocks()) {
        if (Node* found = find(inner)) {
          return found;
        }
      }
    }
    return nullptr;
  };
  Node* n = find(graph.block());
  TORCH_CHECK(n, "torch_optspec: no ", kind, " node in the graph");
  return n;
}

// group=<kind>;<op1>,<op2>,...: before the stage, moves the first node of
// each op kind into one subgraph node of that kind (the IR parser cannot read
// subgraph attributes; fusion groups and FallbackGraphs are made this way).
void makeGroups(Graph& graph, const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a.rfind("group=", 0) != 0) {
      continue;
    }
    const std::string spec = a.substr(6);
    const size_t semi = spec.find(';');
    TORCH_CHECK(semi != std::string::npos, "torch_optspec: group=<kind>;<ops>, got ", a);
    const auto kind = c10::Symbol::fromQualString(spec.substr(0, semi));
    std::vector<std::string> ops = splitCommas(spec.substr(semi + 1));
    TORCH_CHECK(!ops.empty(), "torch_optspec: group= names no op");
    Node* group = torch::jit::SubgraphUtils::createSingletonSubgraph(
        firstNodeOf(graph, ops[0]), kind);
    for (size_t i = 1; i < ops.size(); ++i) {
      torch::jit::SubgraphUtils::mergeNodeIntoSubgraph(firstNodeOf(graph, ops[i]), group);
    }
  }
}

// The decisions of an ahead-of-time stage: per graph input none, tensor,
// skip, present (an Optional[T], T not Tensor, never None) or
// value=<True|False|int> (a bool or int input, or an Optional of one). A word
// that does not fit its input's type is a clear error.
InputDecisions aheadDecisions(const Graph& graph, const std::string& stage,
                              const std::vector<std::string>& args) {
  std::vector<std::string> words = splitCommas(patternArg(stage, args));
  std::vector<std::string> base = words;
  for (auto& w : base) {
    if (w == "present" || w.rfind("value=", 0) == 0) {
      w = "";
    }
  }
  InputDecisions decisions = decisionsFromPattern(graph, base);
  for (size_t i = 0; i < words.size() && i < decisions.inputs.size(); ++i) {
    const Value* input = graph.inputs()[i];
    const c10::TypePtr& type = input->type();
    const auto optional = type->cast<c10::OptionalType>();
    const c10::TypePtr value_type = optional ? optional->getElementType() : type;
    InputDecision& d = decisions.inputs[i];
    if (words[i] == "present") {
      TORCH_CHECK(
          optional && value_type->kind() != c10::TypeKind::TensorType,
          "torch_optspec: stage '", stage, "': 'present' needs an Optional[T] input with T not "
          "Tensor; input %", input->debugName(), " has type ", type->repr_str());
      d.kind = InputKind::Present;
    } else if (words[i].rfind("value=", 0) == 0) {
      const std::string v = words[i].substr(6);
      const bool is_bool = value_type->kind() == c10::TypeKind::BoolType;
      const bool is_int = value_type->kind() == c10::TypeKind::IntType;
      const bool bool_word = v == "True" || v == "False";
      const bool int_word = !v.empty() &&
          v.find_first_not_of("0123456789", v[0] == '-' ? 1 : 0) == std::string::npos &&
          v != "-";
      TORCH_CHECK(
          (is_bool && bool_word) || (is_int && int_word),
          "torch_optspec: stage '", stage, "': '", words[i], "' does not fit input %",
          input->debugName(), " of type ", type->repr_str(),
          " (value=True/False for a bool, value=<int> for an int, or an Optional of one)");
      d.kind = InputKind::Value;
      d.value = is_bool ? c10::IValue(v == "True") : c10::IValue(static_cast<int64_t>(std::stoll(v)));
    }
  }
  return decisions;
}

} // namespace

std::string runStage(
    const std::string& stage,
    std::shared_ptr<Graph>& graph,
    const std::vector<std::string>& args) {
  makeGroups(*graph, args);
  if (stage == "decide") {
    return decideFromProfiles(*graph).describe(*graph);
  }
  if (stage == "version") {
    auto plan = decisionsFromPattern(*graph, splitCommas(patternArg(stage, args)));
    versionGraph(*graph, plan);
    return "";
  }
  if (stage == "refine") {
    auto plan = decisionsFromGuard(*graph);
    refineFastPath(*graph, fastPathOf(*graph, stage), plan);
    return "";
  }
  if (stage == "cleanup") {
    int max_rounds = std::stoi(option(args, "max_rounds", "32"));
    CleanupResult r = cleanupGraph(graph, max_rounds);
    std::ostringstream out;
    out << "rounds=" << r.rounds
        << (r.hit_round_limit ? " hit_round_limit" : " fixed_point");
    return out.str();
  }
  if (stage == "outline") {
    return outlineFastPath(*graph, fastPathOf(*graph, stage)) ? "" : "inline";
  }
  if (stage == "postfusion") {
    return "unfused=" + std::to_string(UnfuseInputlessGroups(graph));
  }
  if (stage == "emission_barriers") {
    if (flag(args, "remove")) {
      return "removed=" + std::to_string(removeEmissionBarriers(*graph, flag(args, "subgraphs")));
    }
    return "inserted=" + std::to_string(insertEmissionBarriers(*graph, flag(args, "subgraphs")));
  }
  if (stage == "value_site") {
    auto original = graph->copy();
    auto candidates = valueCandidates(*graph);
    if (candidates.empty()) {
      return "watching=0 no site";
    }
    const int64_t id = insertValueSite(
        *graph, *original, candidates, std::stoi(option(args, "learn_calls", "3")));
    return "watching=" + std::to_string(candidates.size()) + (id >= 0 ? "" : " no site");
  }
  if (stage == "element_writes") {
    return "kept=" + std::to_string(keepElementWrites(*graph));
  }
  if (stage == "fuser_safety") {
    return makeSafeForOneDNN(
               graph,
               std::stoull(option(args, "work_limit", std::to_string(kBridgeWorkLimit))))
        .describe();
  }
  if (stage == "verify") {
    std::string problem = verifyGraph(graph);
    return problem.empty() ? "ok" : problem;
  }
  if (stage == "ahead_checks") {
    std::string line;
    for (const StockCheck& c : stockChecks(*graph, aheadDecisions(*graph, stage, args))) {
      line += (line.empty() ? "" : "; ") + c.condition;
    }
    return line;
  }
  if (stage == "ahead_body") {
    specializeBody(*graph, aheadDecisions(*graph, stage, args));
    return "";
  }
  if (stage == "ahead_version" || stage == "ahead_strict") {
    InputDecisions decisions = aheadDecisions(*graph, stage, args);
    auto checks = stockChecks(*graph, decisions);
    auto fast = graph->copy();
    specializeBody(*fast, decisions);
    cleanupGraph(fast);
    if (stage == "ahead_strict") {
      insertStrictChecks(*fast, checks, "forward");
      graph = fast;
    } else {
      versionGraphStock(*graph, *fast, checks);
    }
    return "checks=" + std::to_string(checks.size());
  }
  if (stage == "ahead_of_time") {
    AheadOptions options;
    options.strict = flag(args, "strict");
    DriverResult r = specializeGraphAhead(graph, aheadDecisions(*graph, stage, args), options);
    std::string line = DriverResult::outcomeName(r.outcome);
    return r.reason.empty() ? line : line + ": " + r.reason;
  }
  if (stage == "specialize_inputs") {
    auto plan = decisionsFromPattern(*graph, splitCommas(patternArg(stage, args)));
    DriverOptions options;
    options.outline = flag(args, "outline");
    DriverResult r = specializeGraph(graph, plan, options);
    std::string line = DriverResult::outcomeName(r.outcome);
    return r.reason.empty() ? line : line + ": " + r.reason;
  }
  TORCH_CHECK(
      false,
      "torch_optspec: unknown stage '", stage,
      "' (element_writes, decide, value_site, version, refine, cleanup, verify, outline, fuser_safety, postfusion, emission_barriers, specialize_inputs, ahead_checks, ahead_body, ahead_version, ahead_strict, ahead_of_time)");
}

} // namespace torch_optspec
