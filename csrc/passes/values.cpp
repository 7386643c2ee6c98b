// Stage 5b: learn the values of non-tensor inputs, and substitute them.
//
// torch 2.13's ProfilingRecord profiles tensors only (prim::profile with
// seen_none for Optional[Tensor]); the nvfuser-era prim::profile_ivalue hooks
// are only reached with nvfuser enabled, which needs CUDA. So the pass
// observes values itself, at run time, in the first optimized plan:
//
//   %learned : bool = torch_optspec::check_values[site=K, learn_calls=3](%flag, %n)
//   %r = prim::If(%learned)
//     block0(): %v = prim::FallbackGraph_0(<all inputs>)     (marked: site K)
//     block1(): <the plan as specialized from the profiles>
//
// check_values watches `learn_calls` no-grad calls, then freezes: an input
// whose value (for bool/int/Optional[bool]/Optional[int]) or None-ness (other
// Optional[T]) did not change is fixed, one that changed is "varying" and
// never specialized. From then on it returns true exactly when a call has the
// fixed values (never under grad mode: the fallback would be compiled on the
// autodiff path). The executor compiles the FallbackGraph into a function
// when first taken; its optimization reaches our pre-pass with the marker
// torch_optspec::value_site[site=K] at the top, and learnedValues() tells
// what K fixed. Bounded: one site per graph, learned once; a site that fixed
// nothing never calls its fallback.
//
// Floats are not specialized by value: a float input is a scale or a
// probability far more often than a switch, folding it removes no branch in
// the models we target, and each new value would need a new compilation.
#include "passes.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/runtime/custom_operator.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <atomic>
#include <deque>
#include <mutex>

namespace torch_optspec {

using torch::jit::Stack;

namespace {

const c10::Symbol kCheckValues = c10::Symbol::fromQualString(value_site_op_name());
const c10::Symbol kValueSite = c10::Symbol::fromQualString("torch_optspec::value_site");
const c10::Symbol kSite = c10::Symbol::attr("site");
const c10::Symbol kLearnCalls = c10::Symbol::attr("learn_calls");
const c10::Symbol kNoneOnly = c10::Symbol::attr("none_only");
const c10::Symbol kInputs = c10::Symbol::attr("inputs");

bool isValueType(const c10::TypePtr& t) {
  return t->kind() == c10::TypeKind::BoolType || t->kind() == c10::TypeKind::IntType;
}

// What is compared between calls: the value itself, or only its None-ness.
c10::IValue keyOf(const c10::IValue& v, bool none_only) {
  return none_only ? c10::IValue(v.isNone()) : v;
}

bool sameKey(const c10::IValue& a, const c10::IValue& b) {
  if (a.isNone() || b.isNone()) {
    return a.isNone() && b.isNone();
  }
  if (a.isBool() && b.isBool()) {
    return a.toBool() == b.toBool();
  }
  if (a.isInt() && b.isInt()) {
    return a.toInt() == b.toInt();
  }
  return false;
}

// One value site: its candidates, what it saw, what it fixed.
struct ValueSite {
  enum State : int { Learning = 0, Frozen = 1, Disabled = 2 };

  std::vector<size_t> inputs;  // graph input index per candidate
  std::vector<bool> none_only; // per candidate
  int64_t learn_calls = 3;

  std::mutex mutex;            // while learning
  int64_t observed = 0;
  std::vector<c10::IValue> first;
  std::vector<bool> varying;
  std::atomic<int> state{Learning};
  // Frozen: the candidates fixed and their keys (immutable once frozen).
  std::vector<size_t> fixed;
  std::vector<c10::IValue> fixed_keys;

  void observe(at::ArrayRef<c10::IValue> values) {
    std::lock_guard<std::mutex> lock(mutex);
    if (state.load() != Learning) {
      return;
    }
    if (observed == 0) {
      for (size_t i = 0; i < values.size(); ++i) {
        first.push_back(keyOf(values[i], none_only[i]));
      }
      varying.assign(values.size(), false);
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        if (!sameKey(first[i], keyOf(values[i], none_only[i]))) {
          varying[i] = true;
        }
      }
    }
    if (++observed < learn_calls) {
      return;
    }
    size_t n_varying = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      if (!varying[i]) {
        fixed.push_back(i);
        fixed_keys.push_back(first[i]);
      } else {
        ++n_varying;
      }
    }
    recordVarying(n_varying);
    state.store(fixed.empty() ? Disabled : Frozen, std::memory_order_release);
  }

  bool matches(at::ArrayRef<c10::IValue> values) const {
    for (size_t k = 0; k < fixed.size(); ++k) {
      const size_t i = fixed[k];
      if (!sameKey(fixed_keys[k], keyOf(values[i], none_only[i]))) {
        return false;
      }
    }
    return true;
  }
};

// Sites live for the process (a plan may run as long as it does).
std::mutex sites_mutex;
std::deque<ValueSite>& sites() {
  static auto* s = new std::deque<ValueSite>(); // stable addresses, never destroyed
  return *s;
}

ValueSite* siteById(int64_t id) {
  std::lock_guard<std::mutex> lock(sites_mutex);
  if (id < 0 || static_cast<size_t>(id) >= sites().size()) {
    return nullptr;
  }
  return &sites()[id];
}

torch::jit::Operation createCheckValues(const Node* node) {
  const int64_t id = node->i(kSite);
  ValueSite* site = siteById(id);
  TORCH_CHECK(site, "torch_optspec::check_values: unknown site ", id);
  const size_t n = node->inputs().size();
  TORCH_CHECK(
      n == site->inputs.size(),
      "torch_optspec::check_values: site ", id, " watches ", site->inputs.size(),
      " inputs, the node has ", n);
  return [site, n](Stack& stack) {
    auto values = torch::jit::last(stack, n);
    bool ok = false;
    if (!at::GradMode::is_enabled()) {
      switch (site->state.load(std::memory_order_acquire)) {
        case ValueSite::Frozen:
          ok = site->matches(values);
          break;
        case ValueSite::Learning:
          site->observe(values);
          break;
        default:
          break;
      }
    }
    torch::jit::drop(stack, n);
    torch::jit::push(stack, ok);
  };
}

Node* findMarker(const Graph& graph) {
  for (const Node* n : graph.nodes()) {
    if (n->kind() == kValueSite) {
      return const_cast<Node*>(n);
    }
  }
  return nullptr;
}

} // namespace

void registerValueOperators() {
  static torch::jit::RegisterOperators reg({
      torch::jit::Operator(
          "torch_optspec::check_values(...) -> bool",
          createCheckValues,
          c10::AliasAnalysisKind::FROM_SCHEMA),
      // kept by dead-code elimination until the pre-pass reads it
      markerOperator("torch_optspec::value_site() -> ()"),
  });
}

ValueSiteInfo valueSiteInfo(int64_t id) {
  ValueSiteInfo info;
  ValueSite* site = siteById(id);
  if (!site) {
    return info;
  }
  std::lock_guard<std::mutex> lock(site->mutex);
  info.exists = true;
  const int state = site->state.load();
  info.state = state == ValueSite::Learning ? "learning"
      : state == ValueSite::Frozen          ? "frozen"
                                            : "disabled";
  info.observed = site->observed;
  info.inputs = site->inputs;
  info.varying = site->varying;
  return info;
}

std::vector<ValueCandidate> valueCandidates(const Graph& graph) {
  std::vector<ValueCandidate> out;
  if (!canBecomeFallbackGraph(graph.block())) {
    // the learned branch is a FallbackGraph of the original body
    return out;
  }
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const Value* v = graph.inputs()[i];
    if (!v->hasUses()) {
      continue;
    }
    const auto& t = v->type();
    if (isValueType(t)) {
      out.push_back({i, false});
    } else if (auto opt = t->cast<c10::OptionalType>()) {
      const auto& elem = opt->getElementType();
      if (elem->kind() == c10::TypeKind::TensorType) {
        continue; // profiled: decide.cpp
      }
      out.push_back({i, !isValueType(elem)});
    }
  }
  return out;
}

LearnedValues learnedValues(const Graph& graph) {
  LearnedValues learned;
  Node* marker = findMarker(graph);
  if (!marker) {
    return learned;
  }
  learned.site = marker->i(kSite);
  ValueSite* site = siteById(learned.site);
  if (!site || site->state.load() != ValueSite::Frozen) {
    return learned;
  }
  for (size_t k = 0; k < site->fixed.size(); ++k) {
    const size_t c = site->fixed[k];
    const size_t input = site->inputs[c];
    if (input >= graph.inputs().size()) {
      continue;
    }
    const c10::IValue& key = site->fixed_keys[k];
    InputDecision d;
    if (site->none_only[c]) {
      d.kind = key.toBool() ? InputKind::None : InputKind::Present;
    } else if (key.isNone()) {
      d.kind = InputKind::None;
    } else {
      d.kind = InputKind::Value;
      d.value = key;
    }
    learned.fixed.emplace_back(input, d);
  }
  return learned;
}

void substituteValues(Graph& graph, const LearnedValues& learned) {
  if (Node* marker = findMarker(graph)) {
    marker->destroy();
  }
  Node* first = graph.nodes().begin() == graph.nodes().end() ? graph.return_node()
                                                            : graph.nodes().front();
  torch::jit::WithInsertPoint at(first);
  for (const auto& [index, d] : learned.fixed) {
    Value* input = graph.inputs().at(index);
    Value* replacement = nullptr;
    switch (d.kind) {
      case InputKind::None:
        replacement = graph.insertConstant(c10::IValue());
        break;
      case InputKind::Value:
        replacement = graph.insertConstant(d.value);
        break;
      case InputKind::Present: {
        auto opt = input->type()->cast<c10::OptionalType>();
        TORCH_INTERNAL_ASSERT(opt, "Present for a non-Optional input");
        Node* cast = graph.insertNode(graph.create(c10::prim::unchecked_cast, {input}, 1));
        cast->output()->setType(opt->getElementType());
        cast->output()->setDebugName(input->debugName() + ".present");
        replacement = cast->output();
        break;
      }
      default:
        continue;
    }
    input->replaceAllUsesAfterNodeWith(replacement->node(), replacement);
    GRAPH_UPDATE(
        "Replaced %", input->debugName(), " by %", replacement->debugName(), " (",
        kindName(d.kind), d.kind == InputKind::Value ? " " : "",
        d.kind == InputKind::Value ? c10::str(d.value) : std::string(), ") from value site ",
        learned.site);
  }
}

int64_t insertValueSite(
    Graph& graph,
    const Graph& original,
    const std::vector<ValueCandidate>& candidates,
    int64_t learn_calls,
    bool outline_current) {
  TORCH_CHECK(!candidates.empty(), "torch_optspec: a value site needs inputs to watch");
  TORCH_CHECK(
      canBecomeFallbackGraph(original.block()),
      "torch_optspec: a value site needs a graph that returns something other than None");
  TORCH_CHECK(learn_calls >= 1, "torch_optspec: learn_calls must be >= 1");
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(sites_mutex);
    sites().emplace_back();
    id = static_cast<int64_t>(sites().size()) - 1;
    ValueSite& site = sites().back();
    for (const auto& c : candidates) {
      site.inputs.push_back(c.input);
      site.none_only.push_back(c.none_only);
    }
    site.learn_calls = learn_calls;
  }

  std::vector<Value*> watched;
  std::vector<int64_t> inputs, none_only;
  for (const auto& c : candidates) {
    watched.push_back(graph.inputs().at(c.input));
    inputs.push_back(static_cast<int64_t>(c.input));
    none_only.push_back(c.none_only ? 1 : 0);
  }
  Node* check = graph.create(kCheckValues, watched, 1);
  check->i_(kSite, id);
  check->i_(kLearnCalls, learn_calls);
  check->is_(kInputs, inputs);
  check->is_(kNoneOnly, none_only);
  check->output()->setType(c10::BoolType::get());

  // The If over the current body: block1 takes it, block0 the marked original.
  Node* by_values = graph.create(c10::prim::If, {}, graph.outputs().size());
  Block* learned = by_values->addBlock();
  Block* current = by_values->addBlock();
  cloneBodyInto(graph, graph, current);
  // block0: the original graph, marked, then made a FallbackGraph.
  cloneBodyInto(graph, original, learned);
  Node* marker = graph.create(kValueSite, {}, 0);
  marker->i_(kSite, id);
  learned->prependNode(marker);

  graph.block()->prependNode(check);
  by_values->addInput(check->output());
  by_values->insertAfter(check);
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    by_values->output(i)->copyMetadata(graph.outputs()[i]);
  }
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    graph.return_node()->replaceInput(i, by_values->output(i));
  }
  for (auto it = graph.block()->nodes().reverse().begin(); *it != by_values;) {
    Node* n = *it;
    ++it;
    n->destroy();
  }
  torch::jit::replaceBlockWithFallbackGraph(learned, graph.inputs());
  if (outline_current) {
    // A top-level-only fuser (oneDNN Graph) would not see the current plan
    // nested in block1: it gets a function of its own too.
    torch::jit::replaceBlockWithFallbackGraph(current, graph.inputs());
  }
  GRAPH_UPDATE("Inserted value site ", id, " over ", candidates.size(), " inputs: ", *check);
  return id;
}

} // namespace torch_optspec
