// The library's version, and the pass's settings: the global switch, the
// per-thread override, where the fast path goes, value learning, the
// bridge's work bound. Read by the pipeline's JIT hooks (pipeline.cpp),
// never by the stages themselves (they take their settings as arguments).
#include "runtime.h"

#include <torch/csrc/jit/codegen/onednn/interface.h>
#include <torch/version.h>
#include <torch/csrc/jit/passes/pass_manager.h>

#include <atomic>

#ifndef TORCH_OPTSPEC_VERSION
#error "TORCH_OPTSPEC_VERSION must be defined by the build (from version.txt)"
#endif

namespace torch_optspec {

namespace {

std::atomic<bool> global_enabled{false};
std::atomic<int> fast_path_mode{static_cast<int>(FastPathMode::Auto)};
std::atomic<bool> value_learning{true};
std::atomic<size_t> bridge_work_limit{kBridgeWorkLimit};
// -1: follow the global switch; 0/1: an EnabledGuard on this thread.
thread_local int8_t thread_override = -1;

} // namespace

std::string version() {
  return TORCH_OPTSPEC_VERSION;
}

std::string built_with_torch() {
  return TORCH_VERSION;
}

// torch.jit.enable_onednn_fusion(True) registers oneDNN Graph's fuser as a
// custom pre-pass: the plain function torch::jit::fuser::onednn::fuseGraph
// (codegen/onednn/interface.h), stored in a std::function. Recognized by that
// function's address, not by "some other pre-pass is registered".
bool onednnPrePassRegistered() {
  using Fn = void (*)(std::shared_ptr<Graph>&);
  const Fn onednn = &torch::jit::fuser::onednn::fuseGraph;
  for (const auto& entry : torch::jit::getCustomPrePasses()) {
    const Fn* target = entry.first.target<Fn>();
    if (target && *target == onednn) {
      return true;
    }
  }
  return false;
}

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

size_t bridgeWorkLimit() {
  return bridge_work_limit.load();
}

void setBridgeWorkLimit(size_t limit) {
  bridge_work_limit.store(limit);
}

int8_t threadOverride() {
  return thread_override;
}

bool globalEnabled() {
  return global_enabled.load(std::memory_order_relaxed);
}

int8_t exchange_thread_override(int8_t value) {
  TORCH_CHECK(
      value >= -1 && value <= 1,
      "torch_optspec: a thread override is -1 (none), 0 (off) or 1 (on), got ",
      int(value));
  ensure_registered();
  int8_t previous = thread_override;
  thread_override = value;
  return previous;
}

EnabledGuard::EnabledGuard(bool enabled)
    : previous_(exchange_thread_override(enabled ? 1 : 0)) {}

EnabledGuard::~EnabledGuard() {
  exchange_thread_override(previous_);
}

void set_fast_path(FastPathMode mode) {
  const int m = static_cast<int>(mode);
  TORCH_CHECK(m >= 0 && m <= 2, "torch_optspec: bad fast path mode ", m);
  fast_path_mode.store(m);
}

FastPathMode get_fast_path() {
  return static_cast<FastPathMode>(fast_path_mode.load());
}

void set_value_learning(bool on) {
  value_learning.store(on);
}

bool get_value_learning() {
  return value_learning.load(std::memory_order_relaxed);
}

bool outlines_now() {
  switch (get_fast_path()) {
    case FastPathMode::Inline:
      return false;
    case FastPathMode::Outline:
      return true;
    case FastPathMode::Auto:
      return onednnPrePassRegistered();
  }
  return false;
}

} // namespace torch_optspec
