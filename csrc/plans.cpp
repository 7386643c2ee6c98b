// The executor's compiled plans: resetting them safely, and finding the plans
// of the functions a specialized graph calls (its fallback, an outlined fast
// path) for inspection.
#include "runtime.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>

#include <array>
#include <mutex>
#include <optional>

namespace torch_optspec {

using torch::jit::GraphExecutor;
using torch::jit::GraphFunction;

namespace {

// ---- access to GraphFunction's executors ------------------------------------
//
// GraphFunction keeps one executor per autocast state (executors_[4]) and
// offers only get_executor(), which returns (or creates) the executor of the
// *current* autocast state. GraphExecutor::debugFlushCompilationCache() frees
// the plans in place while calls on other threads may still run them (their
// code points at the fallback functions and the profiling record being
// freed: a crash). To reset every autocast state, and to retire executors
// instead of freeing them, we need the array itself. The member is private;
// an explicit template instantiation may name it (access checking does not
// apply there, [temp.spec]), which is what this does. The types are spelled
// out, so a torch whose GraphFunction differs fails to compile here.
using Executors = std::array<std::optional<GraphExecutor>, 4>;

template <typename Tag, typename Tag::type Member>
struct PrivateMember {
  friend typename Tag::type get(Tag) {
    return Member;
  }
};

struct ExecutorsOf {
  using type = Executors GraphFunction::*;
  friend type get(ExecutorsOf);
};
template struct PrivateMember<ExecutorsOf, &GraphFunction::executors_>;

struct CompileMutexOf {
  using type = std::recursive_mutex GraphFunction::*;
  friend type get(CompileMutexOf);
};
template struct PrivateMember<CompileMutexOf, &GraphFunction::compile_mutex>;

// Retired executors: kept alive for the rest of the process, so that a call
// still running one of their plans (on another thread) never touches freed
// memory. GraphExecutor is a handle (a shared_ptr to its implementation).
std::mutex retired_mutex;
std::vector<GraphExecutor>& retired() {
  static auto* r = new std::vector<GraphExecutor>(); // never destroyed
  return *r;
}

size_t resetFunction(torch::jit::Function& f) {
  auto* gf = dynamic_cast<GraphFunction*>(&f);
  if (!gf) {
    return 0;
  }
  std::lock_guard<std::recursive_mutex> compile_lock(gf->*get(CompileMutexOf{}));
  Executors& executors = gf->*get(ExecutorsOf{});
  for (auto& executor : executors) {
    if (!executor) {
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(retired_mutex);
      retired().push_back(*executor);
    }
    // The next get_executor() builds a fresh executor for this autocast
    // state: a new profiling run, then a plan under the current settings.
    executor.reset();
  }
  return 1;
}

} // namespace

std::shared_ptr<Graph> calledPlan(Node* n) {
  if (n->kind() == c10::prim::CallFunction) {
    n = n->input(0)->node();
  }
  auto fn_type = n->output()->type()->cast<c10::FunctionType>();
  auto* gf = fn_type ? dynamic_cast<GraphFunction*>(fn_type->function()) : nullptr;
  if (!gf || !gf->get_executor().isOptimized()) {
    return nullptr;
  }
  auto state = gf->get_executor().getDebugState();
  if (state.execution_plans.empty()) {
    return nullptr;
  }
  return state.execution_plans.begin()->second.graph;
}

namespace {

void collectFallbackPlans(Block* block, std::vector<std::shared_ptr<Graph>>& out) {
  for (Node* n : block->nodes()) {
    for (Block* b : n->blocks()) {
      collectFallbackPlans(b, out);
    }
    if (n->kind() != c10::prim::Constant || !n->hasAttributeS("fallback")) {
      continue;
    }
    if (auto plan = calledPlan(n)) {
      out.push_back(plan);
      collectFallbackPlans(plan->block(), out);
    }
  }
}

} // namespace

size_t reset_plans(torch::jit::Function& function) {
  return resetFunction(function);
}

size_t reset_plans(const torch::jit::Module& module) {
  size_t n = 0;
  for (const auto& m : module.modules()) {
    for (const auto& method : m.get_methods()) {
      n += resetFunction(method.function());
    }
  }
  return n;
}

std::vector<std::shared_ptr<Graph>> fallback_plans(const std::shared_ptr<Graph>& graph) {
  std::vector<std::shared_ptr<Graph>> out;
  collectFallbackPlans(graph->block(), out);
  return out;
}

} // namespace torch_optspec
