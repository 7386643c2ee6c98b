// Registration with the JIT, once per process, when the library is loaded,
// and nothing else: every torch_optspec:: operator (operators.cpp), then the
// pipeline's hooks (pipeline.cpp): its profiling predicate, its custom
// pre-pass, moved to the front of the pre-pass list so that fusers registered
// as pre-passes (oneDNN Graph registers itself when
// torch.jit.enable_onednn_fusion(True) is called) always receive its graph,
// and its custom post-pass. At load time the TORCH_OPTSPEC_* environment
// variables apply (env.cpp): with TORCH_OPTSPEC_ENABLE=1 a LibTorch host gets
// the specialization with LD_PRELOAD alone, and c10's log says so in one line
// (TORCH_CPP_LOG_LEVEL=ERROR silences it).
#include "runtime.h"

#include <c10/util/Logging.h>
#include <torch/csrc/jit/passes/pass_manager.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <torch/csrc/jit/runtime/profiling_record.h>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace torch_optspec {

namespace {

std::atomic<bool> active_copy{false};

void movePassToFront(torch::jit::GraphPassNameType id) {
  auto& passes = torch::jit::getCustomPrePasses();
  auto it = std::find_if(passes.begin(), passes.end(), [id](const auto& p) {
    return p.second == id;
  });
  if (it != passes.end()) {
    std::rotate(passes.begin(), it, it + 1);
  }
}

} // namespace

bool is_active_copy() {
  ensure_registered();
  return active_copy.load();
}

void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The Python package links this same library, so one process normally
    // has one copy, whatever the load order (the dynamic linker reuses a
    // loaded libtorch_optspec with the same soname). A second copy from
    // another file (dlopen-ed by path) finds the guard operator registered:
    // it stays inert and says so.
    // (The guard was torch_optspec::check_none_pattern up to 0.2.0.)
    static const auto old_guard =
        c10::Symbol::fromQualString("torch_optspec::check_none_pattern");
    if (!torch::jit::getAllOperatorsFor(guardKind()).empty() ||
        !torch::jit::getAllOperatorsFor(old_guard).empty()) {
      TORCH_WARN(
          "torch_optspec: another copy of torch_optspec is already loaded in "
          "this process and registered with the JIT; this copy (",
          version(), ", torch ", built_with_torch(),
          ") stays inactive. Load one libtorch_optspec only.");
      return;
    }
    registerOperators();
    torch::jit::RegisterProfilingNode(profilingPredicate);
    auto id = torch::jit::registerPrePass(pipelinePrePass);
    movePassToFront(id);
    torch::jit::registerPostPass(pipelinePostPass);
    active_copy.store(true);
  });
}

namespace {
// Runs when the shared object is loaded (linked, dlopen-ed, LD_PRELOAD-ed or
// torch.ops.load_library-ed, and when the Python package imports _C).
struct LoadTimeRegistration {
  LoadTimeRegistration() {
    ensure_registered();
    if (!is_active_copy()) {
      return;
    }
    // c10 reads TORCH_CPP_LOG_LEVEL in initLogging(), which torch's Python
    // module calls and a plain LibTorch host may never call: call it so that
    // the variable governs this library's lines there too.
    c10::initLogging();
    if (applyEnvironmentSettings()) {
      LOG(WARNING) << "torch_optspec " << version() << ": enabled by TORCH_OPTSPEC_ENABLE";
    }
  }
} load_time_registration;
} // namespace

} // namespace torch_optspec
