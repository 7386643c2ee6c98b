// Stage 7: the switch, the counters, and registration with the JIT.
//
// Registration (once per process, when the library is loaded):
//   - the profiling predicate (profile.cpp), which is false while disabled;
//   - the custom pre-pass, moved to the front of the pre-pass list so that it
//     runs before fusers registered as pre-passes (oneDNN Graph registers
//     itself lazily, when torch.jit.enable_onednn_fusion(True) is called);
//   - the guard operator (version.cpp);
//   - the post-fusion clean-up (postfusion.cpp), as a custom post-pass.
// If TORCH_OPTSPEC_ENABLE=1 is set when the library is loaded, the pass is
// also enabled: a LibTorch host gets the specialization with LD_PRELOAD alone.
#include "passes/passes.h"

#include <torch/csrc/jit/passes/pass_manager.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <torch/csrc/jit/runtime/profiling_record.h>
#include <torch/version.h>
#include <torch_optspec/torch_optspec.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace torch_optspec {

namespace {

std::atomic<bool> global_enabled{false};
std::atomic<int> fast_path_mode{static_cast<int>(FastPathMode::Auto)};
// -1: follow the global switch; 0/1: an EnabledGuard on this thread.
thread_local int8_t thread_override = -1;

struct Counters {
  std::atomic<uint64_t> graphs_seen{0};
  std::atomic<uint64_t> graphs_specialized{0};
  std::atomic<uint64_t> inputs_none{0};
  std::atomic<uint64_t> inputs_tensor{0};
  std::atomic<uint64_t> guards_inserted{0};
  std::atomic<uint64_t> skipped_unused{0};
  std::atomic<uint64_t> skipped_not_profiled{0};
  std::atomic<uint64_t> skipped_mixed{0};
  std::atomic<uint64_t> skipped_undefined{0};
  std::atomic<uint64_t> graphs_rejected{0};
};

Counters& counters() {
  static Counters c;
  return c;
}

void movePassToFront(torch::jit::GraphPassNameType id) {
  auto& passes = torch::jit::getCustomPrePasses();
  auto it = std::find_if(passes.begin(), passes.end(), [id](const auto& p) {
    return p.second == id;
  });
  if (it != passes.end()) {
    std::rotate(passes.begin(), it, it + 1);
  }
}

bool envEnabled() {
  const char* v = std::getenv("TORCH_OPTSPEC_ENABLE");
  return v && (!std::strcmp(v, "1") || !std::strcmp(v, "true") ||
               !std::strcmp(v, "TRUE") || !std::strcmp(v, "on"));
}

} // namespace

void enable() {
  ensure_registered();
  global_enabled.store(true);
}

void disable() {
  global_enabled.store(false);
}

bool is_enabled() {
  int8_t o = thread_override;
  return o < 0 ? global_enabled.load(std::memory_order_relaxed) : o != 0;
}

int8_t exchangeThreadOverride(int8_t value) {
  TORCH_CHECK(value >= -1 && value <= 1, "torch_optspec: bad override ", int(value));
  ensure_registered();
  int8_t previous = thread_override;
  thread_override = value;
  return previous;
}

EnabledGuard::EnabledGuard(bool enabled)
    : previous_(exchangeThreadOverride(enabled ? 1 : 0)) {}

EnabledGuard::~EnabledGuard() {
  exchangeThreadOverride(previous_);
}

Stats stats() {
  auto& c = counters();
  Stats s;
  s.graphs_seen = c.graphs_seen.load();
  s.graphs_specialized = c.graphs_specialized.load();
  s.inputs_none = c.inputs_none.load();
  s.inputs_tensor = c.inputs_tensor.load();
  s.guards_inserted = c.guards_inserted.load();
  s.skipped_unused = c.skipped_unused.load();
  s.skipped_not_profiled = c.skipped_not_profiled.load();
  s.skipped_mixed = c.skipped_mixed.load();
  s.skipped_undefined = c.skipped_undefined.load();
  s.graphs_rejected = c.graphs_rejected.load();
  return s;
}

void reset_stats() {
  auto& c = counters();
  for (auto* a :
       {&c.graphs_seen, &c.graphs_specialized, &c.inputs_none,
        &c.inputs_tensor, &c.guards_inserted, &c.skipped_unused,
        &c.skipped_not_profiled, &c.skipped_mixed, &c.skipped_undefined,
        &c.graphs_rejected}) {
    a->store(0);
  }
}

std::string built_with_torch() {
  return TORCH_VERSION;
}

FastPathMode fastPathMode() {
  return static_cast<FastPathMode>(fast_path_mode.load());
}

void setFastPathMode(FastPathMode mode) {
  fast_path_mode.store(static_cast<int>(mode));
}

bool shouldOutline() {
  switch (fastPathMode()) {
    case FastPathMode::Inline:
      return false;
    case FastPathMode::Outline:
      return true;
    case FastPathMode::Auto:
      // Ours is always registered; anything else may be a fuser that only
      // reads the top-level block (oneDNN Graph is one).
      return torch::jit::getCustomPrePasses().size() > 1;
  }
  return false;
}

void recordGraphSeen() {
  counters().graphs_seen++;
}

void recordPlan(const SpecializationPlan& plan) {
  auto& c = counters();
  for (const auto& d : plan.inputs) {
    if (d.kind != InputKind::Skip) {
      continue;
    }
    switch (d.reason) {
      case SkipReason::Unused:
        c.skipped_unused++;
        break;
      case SkipReason::NotProfiled:
        c.skipped_not_profiled++;
        break;
      case SkipReason::Mixed:
        c.skipped_mixed++;
        break;
      case SkipReason::Undefined:
        c.skipped_undefined++;
        break;
      case SkipReason::NotOptional:
        break;
    }
  }
}

void recordSpecialized(const SpecializationPlan& plan) {
  auto& c = counters();
  c.graphs_specialized++;
  c.guards_inserted++;
  c.inputs_none += plan.count(InputKind::None);
  c.inputs_tensor += plan.count(InputKind::Tensor);
}

void recordRejected() {
  counters().graphs_rejected++;
}

void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Two copies of torch_optspec in one process (say the Python extension
    // and libtorch_optspec.so loaded with torch.ops.load_library) would
    // register two passes reading two different switches. The first copy
    // loaded owns the JIT hooks; this one stays inert and says so.
    if (!torch::jit::getAllOperatorsFor(guardKind()).empty()) {
      TORCH_WARN(
          "torch_optspec: another copy of torch_optspec is already loaded in "
          "this process and registered with the JIT; this copy (",
          built_with_torch(),
          ") stays inactive. Load only one of the Python extension and "
          "libtorch_optspec.so.");
      return;
    }
    registerGuardOperator();
    torch::jit::RegisterProfilingNode(consumesOptionalTensorInput);
    auto id = torch::jit::registerPrePass(
        [](std::shared_ptr<Graph>& g) { SpecializeOptionalInputs(g); });
    movePassToFront(id);
    torch::jit::registerPostPass(
        [](std::shared_ptr<Graph>& g) { UnfuseInputlessGroups(g); });
  });
}

namespace {
// Runs when the shared object is loaded (linked, dlopen-ed, LD_PRELOAD-ed or
// torch.ops.load_library-ed, and when the Python extension is imported).
struct LoadTimeRegistration {
  LoadTimeRegistration() {
    ensure_registered();
    if (envEnabled()) {
      enable();
    }
  }
} load_time_registration;
} // namespace

} // namespace torch_optspec
