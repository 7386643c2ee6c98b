// Stage 4: version the graph behind a guard on its inputs.
//
//   %ok : bool = torch_optspec::check_inputs[pattern=[1, 0]](%a, %b)
//   %out : ... = prim::If(%ok)
//     block0():   <a copy of the graph body: the fast path, refined next>
//     block1():   <the original body: see buildSlowPath>
//   return (%out)
//
// The guard is a single interpreter instruction whatever the number of inputs.
// The executor turns prim::FallbackGraph into a separately profiled and
// optimized function (ProfilingGraphExecutorImpl::
// replaceFallbackGraphWithFallbackFunction, with one less bailout depth), so a
// call with another None-pattern gets its own specialization there.
#include "version.h"

#include <algorithm>

#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

namespace torch_optspec {

using torch::jit::Stack;

c10::Symbol guardKind() {
  static const auto kind =
      c10::Symbol::fromQualString("torch_optspec::check_inputs");
  return kind;
}

c10::Symbol patternAttr() {
  static const auto attr = c10::Symbol::attr("pattern");
  return attr;
}

namespace {

const c10::Symbol kDtypes = c10::Symbol::attr("dtypes");
const c10::Symbol kDims = c10::Symbol::attr("dims");
const c10::Symbol kDevices = c10::Symbol::attr("devices");

// An int[] attribute (or the IValue list the IR parser makes), or `n` copies
// of -1 when absent.
std::vector<int64_t> intsOr(const Node* node, c10::Symbol attr, size_t n) {
  if (!node->hasAttribute(attr)) {
    return std::vector<int64_t>(n, -1);
  }
  if (node->kindOf(attr) == torch::jit::AttributeKind::ival) {
    return node->ival(attr).toIntVector();
  }
  return node->is(attr);
}

// A str[] attribute (or the IValue list the IR parser makes), or `n` empty
// strings when absent.
std::vector<std::string> stringsOr(const Node* node, c10::Symbol attr, size_t n) {
  if (!node->hasAttribute(attr)) {
    return std::vector<std::string>(n);
  }
  if (node->kindOf(attr) == torch::jit::AttributeKind::ival) {
    std::vector<std::string> out;
    for (const auto& v : node->ival(attr).toListRef()) {
      out.push_back(v.toStringRef());
    }
    return out;
  }
  return node->ss(attr);
}

// What the guard checks of one input.
struct Expectation {
  bool none = false;
  int64_t dtype = -1; // c10::ScalarType, -1: any
  int64_t dim = -1;   // -1: any
  std::optional<c10::Device> device;
};

} // namespace

// pattern[i] == 1: input i must be None; 0: it must be a defined Tensor, with
// the dtype / rank / device given for it. An undefined Tensor (which
// TorchScript's `is None` treats as None) matches neither and goes to the
// fallback, which reproduces the unspecialized result.
torch::jit::Operation createGuardOperation(const Node* node) {
  std::vector<int64_t> pattern = guardPattern(node);
  const size_t n = pattern.size();
  TORCH_CHECK(
      n == node->inputs().size(),
      "torch_optspec::check_inputs: pattern has ", n,
      " entries for ", node->inputs().size(), " inputs");
  std::vector<int64_t> dtypes = intsOr(node, kDtypes, n);
  std::vector<int64_t> dims = intsOr(node, kDims, n);
  std::vector<std::string> devices = stringsOr(node, kDevices, n);
  TORCH_CHECK(
      dtypes.size() == n && dims.size() == n && devices.size() == n,
      "torch_optspec::check_inputs: attributes of different lengths");
  std::vector<Expectation> expect(n);
  for (size_t i = 0; i < n; ++i) {
    expect[i].none = pattern[i] != 0;
    expect[i].dtype = dtypes[i];
    expect[i].dim = dims[i];
    if (!devices[i].empty()) {
      expect[i].device = c10::Device(devices[i]);
    }
  }
  return [expect](Stack& stack) {
    const size_t n = expect.size();
    auto inputs = torch::jit::last(stack, n);
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      const c10::IValue& v = inputs[i];
      const Expectation& e = expect[i];
      if (e.none) {
        ok = v.isNone();
        continue;
      }
      if (!v.isTensor()) {
        ok = false;
        continue;
      }
      const at::Tensor& t = v.toTensor();
      ok = t.defined() &&
          (e.dtype < 0 || static_cast<int64_t>(t.scalar_type()) == e.dtype) &&
          (e.dim < 0 || t.dim() == e.dim) && (!e.device || t.device() == *e.device);
    }
    torch::jit::drop(stack, n);
    torch::jit::push(stack, ok);
  };
}

namespace {

// block1, when the None-pattern does not match:
//
//   %grad : bool = aten::is_grad_enabled()
//   %r = prim::If(%grad)
//     block0(): <the original body, inline>
//     block1(): prim::FallbackGraph(<the original body>)
//
// Without grad mode, a fallback function that the executor profiles and
// specializes for the pattern it sees. Under grad mode the original body runs
// inline, exactly as the unspecialized plan (compiled on the no-grad path)
// would run it: a fallback function first compiled under grad mode would go
// down the executor's autodiff path, which this plan never takes, and which in
// torch 2.13 returns wrong gradients for some graphs (tools/
// autodiff_optional_bias_repro.py). aten::is_grad_enabled is never folded
// (conservative alias analysis).
void buildSlowPath(Graph& graph, Block* original, Block* slow) {
  auto identity = [](Value* v) { return v; };
  if (!canBecomeFallbackGraph(original)) {
    // Returns only None: a FallbackGraph would be dropped with its effects.
    // The original body runs inline on both paths (no re-specialization for
    // the other patterns).
    slow->cloneFrom(original, identity);
    GRAPH_UPDATE("Slow path inline: the body returns only None");
    return;
  }
  torch::jit::WithInsertPoint at_slow(slow);
  static const auto is_grad_enabled =
      c10::Symbol::fromQualString("aten::is_grad_enabled");
  Value* grad_enabled = graph.insert(is_grad_enabled, {});
  Node* by_grad = graph.insertNode(
      graph.create(c10::prim::If, {grad_enabled}, original->outputs().size()));
  Block* inline_body = by_grad->addBlock();
  Block* fallback = by_grad->addBlock();
  inline_body->cloneFrom(original, identity);
  fallback->cloneFrom(original, identity);
  torch::jit::replaceBlockWithFallbackGraph(fallback, graph.inputs());
  for (size_t i = 0; i < original->outputs().size(); ++i) {
    by_grad->output(i)->copyMetadata(original->outputs()[i]);
    slow->registerOutput(by_grad->output(i));
  }
}

} // namespace

std::vector<int64_t> guardPattern(const Node* guard) {
  TORCH_CHECK(
      guard->hasAttribute(patternAttr()),
      "torch_optspec: the guard has no pattern attribute");
  if (guard->kindOf(patternAttr()) == torch::jit::AttributeKind::ival) {
    return guard->ival(patternAttr()).toIntVector();
  }
  return guard->is(patternAttr());
}

Node* findGuard(const Graph& graph) {
  for (const Node* n : graph.nodes()) {
    if (n->kind() == guardKind()) {
      return const_cast<Node*>(n); // the graph owns its nodes; callers may edit
    }
  }
  return nullptr;
}

Block* findFastPath(const Graph& graph) {
  Node* guard = findGuard(graph);
  if (!guard) {
    return nullptr;
  }
  for (const auto& use : guard->output()->uses()) {
    if (use.user->kind() == c10::prim::If && use.offset == 0) {
      return use.user->blocks()[0];
    }
  }
  return nullptr;
}

InputDecisions decisionsFromGuard(const Graph& graph) {
  Node* guard = findGuard(graph);
  TORCH_CHECK(guard, "torch_optspec: the graph has no ", guardKind().toQualString());
  std::vector<int64_t> pattern = guardPattern(guard);
  TORCH_CHECK(
      pattern.size() == guard->inputs().size(),
      "torch_optspec: guard pattern and inputs differ in length");
  const std::vector<int64_t> dtypes = intsOr(guard, kDtypes, pattern.size());
  const std::vector<int64_t> dims = intsOr(guard, kDims, pattern.size());
  const std::vector<std::string> devices = stringsOr(guard, kDevices, pattern.size());
  InputDecisions plan;
  plan.inputs.resize(graph.inputs().size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    const Value* v = guard->input(i);
    auto it = std::find(graph.inputs().begin(), graph.inputs().end(), v);
    TORCH_CHECK(
        it != graph.inputs().end(),
        "torch_optspec: guard input %", v->debugName(), " is not a graph input");
    InputDecision& d = plan.inputs[it - graph.inputs().begin()];
    d.kind = pattern[i] ? InputKind::None : InputKind::Tensor;
    d.type = c10::TensorType::get();
    if (dtypes[i] >= 0) {
      d.dtype = static_cast<c10::ScalarType>(dtypes[i]);
    }
    if (dims[i] >= 0) {
      d.dim = dims[i];
    }
    if (!devices[i].empty()) {
      d.device = c10::Device(devices[i]);
    }
  }
  return plan;
}

Block* versionGraph(Graph& graph, const InputDecisions& plan) {
  TORCH_INTERNAL_ASSERT(plan.inputs.size() == graph.inputs().size());

  // The versioning If; block0 is a copy of the body reading the graph inputs.
  Node* versioning_if =
      graph.create(c10::prim::If, {}, graph.outputs().size());
  Block* fast = versioning_if->addBlock();
  Block* slow = versioning_if->addBlock();
  cloneBodyInto(graph, graph, fast);

  // The guard, before everything else.
  std::vector<Value*> checked;
  std::vector<int64_t> pattern, dtypes, dims;
  std::vector<std::string> devices;
  bool properties = false;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const InputDecision& d = plan.inputs[i];
    if (d.kind == InputKind::Skip) {
      continue;
    }
    checked.push_back(graph.inputs()[i]);
    pattern.push_back(d.kind == InputKind::None ? 1 : 0);
    dtypes.push_back(d.dtype ? static_cast<int64_t>(*d.dtype) : -1);
    dims.push_back(d.dim ? *d.dim : -1);
    devices.push_back(d.device ? d.device->str() : "");
    properties |= d.guardsProperties();
  }
  Node* guard = graph.create(guardKind(), checked, 1);
  guard->is_(patternAttr(), pattern);
  if (properties) {
    guard->is_(kDtypes, dtypes);
    guard->is_(kDims, dims);
    guard->ss_(kDevices, devices);
  }
  guard->output()->setType(c10::BoolType::get());
  graph.block()->prependNode(guard);
  GRAPH_UPDATE("Inserted the guard ", *guard);

  versioning_if->addInput(guard->output());
  versioning_if->insertAfter(guard);
  replaceBodyWith(graph, versioning_if);

  buildSlowPath(graph, fast, slow);
  GRAPH_UPDATE(
      "Versioned the body: fast path in block0, original in block1 of ",
      versioning_if->output(0)->debugName());

  GRAPH_DUMP("After versioning (guard + fast path + fallback):", &graph);
  return fast;
}

} // namespace torch_optspec
