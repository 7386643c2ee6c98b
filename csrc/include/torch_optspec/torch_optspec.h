// torch_optspec public C++ API.
//
// torch_optspec specializes the Optional[Tensor] inputs of TorchScript graphs
// from what the profiling executor observed (None -> constant, present ->
// refined Tensor), guards the specialization and keeps the original graph as a
// lazily compiled fallback, so that the JIT fusers see straight-line code.
//
// Linking (or dlopen-ing) the library registers the pass with the JIT; it does
// nothing until it is enabled, either here or by setting TORCH_OPTSPEC_ENABLE=1
// in the environment before the library is loaded.
#pragma once

#include <cstdint>
#include <string>

#if defined(_WIN32)
#define TORCH_OPTSPEC_API __declspec(dllexport)
#else
#define TORCH_OPTSPEC_API __attribute__((visibility("default")))
#endif

namespace torch_optspec {

// The global switch. It is read when a graph is profiled and when it is
// optimized: plans compiled before a change keep what they were compiled with
// (see reset_plans in the Python API, or GraphExecutor::debugFlushCompilationCache).
TORCH_OPTSPEC_API void enable();
TORCH_OPTSPEC_API void disable();

// The state the pass sees on this thread: the innermost EnabledGuard of this
// thread if there is one, else the global switch.
TORCH_OPTSPEC_API bool is_enabled();

// Enables (or disables) the pass for the current thread for the lifetime of the
// guard and restores the previous per-thread state on destruction. Guards nest.
// Compilation triggered from this thread sees the guard's state; other threads
// are not affected.
class TORCH_OPTSPEC_API EnabledGuard {
 public:
  explicit EnabledGuard(bool enabled = true);
  ~EnabledGuard();
  EnabledGuard(const EnabledGuard&) = delete;
  EnabledGuard& operator=(const EnabledGuard&) = delete;

 private:
  int8_t previous_;
};

// Process-wide counters, updated by the pass.
struct Stats {
  // Graphs the pass was asked to optimize while enabled.
  uint64_t graphs_seen = 0;
  // Graphs that got a guarded, specialized fast path.
  uint64_t graphs_specialized = 0;
  // Optional[Tensor] graph inputs specialized as None / as a present Tensor.
  uint64_t inputs_none = 0;
  uint64_t inputs_tensor = 0;
  // None-pattern guards inserted (one per specialized graph).
  uint64_t guards_inserted = 0;
  // Optional[Tensor] graph inputs left alone, by reason.
  uint64_t skipped_unused = 0;        // the graph never reads the input
  uint64_t skipped_not_profiled = 0;  // no profiled use ran (or was profiled)
  uint64_t skipped_mixed = 0;         // profiling saw both None and a Tensor
  uint64_t skipped_undefined = 0;     // profiling saw an undefined Tensor
  // Graphs whose specialization was abandoned because the result did not
  // verify; the graph is left exactly as it was.
  uint64_t graphs_rejected = 0;
};

TORCH_OPTSPEC_API Stats stats();
TORCH_OPTSPEC_API void reset_stats();

// The torch version the library was compiled against ("2.13.0").
TORCH_OPTSPEC_API std::string built_with_torch();

// Registers the profiling hook, the pre-pass and the guard operator with the
// JIT. Called automatically when the library is loaded; idempotent.
TORCH_OPTSPEC_API void ensure_registered();

} // namespace torch_optspec
