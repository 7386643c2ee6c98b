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
//
// One process has one torch_optspec state, whatever loads the library (the
// Python package links this same library): every function here acts on it.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/version.h>

#if defined(_WIN32)
#define TORCH_OPTSPEC_API __declspec(dllexport)
#else
#define TORCH_OPTSPEC_API __attribute__((visibility("default")))
#endif

namespace c10 {
struct IValue;
class Error;
} // namespace c10

namespace torch {
namespace jit {
struct Graph;
struct Module;
struct Function;
} // namespace jit
} // namespace torch

namespace torch_optspec {

// ---- torch versions ----------------------------------------------------------
//
// The one place where torch minors differ for this library's users (the
// library itself builds unchanged against torch 2.11-2.15).
//
// What Module::forward throws when the TorchScript interpreter fails an
// operation (a strict specialize() artifact called with another pattern, a
// RuntimeError the model raises): std::runtime_error up to torch 2.14,
// c10::Error from 2.15, where the interpreter's error path became a
// TORCH_CHECK. Both derive from std::exception, which catches either; this
// alias is the exact type of the torch the program is compiled against.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 15)
using InterpreterError = c10::Error;
#else
using InterpreterError = std::runtime_error;
#endif

// ---- the switch ---------------------------------------------------------

// The global switch. It is read when a graph is profiled and when it is
// optimized: plans compiled before a change keep what they were compiled with
// (see reset_plans).
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

// This thread's override of the global switch: -1 none, 0 off, 1 on. Sets it
// and returns the previous one (EnabledGuard and the Python context manager
// are built on it).
TORCH_OPTSPEC_API int8_t exchange_thread_override(int8_t value);

// ---- where the fast path goes -----------------------------------------------

// Inline: inside the versioning prim::If (NNC fuses it there at no cost).
// Outline: in a function of its own, which the executor profiles and
// optimizes like any scripted function (needed by fusers that only partition
// the top-level block: oneDNN Graph). Auto (default): outline when oneDNN
// Graph's pre-pass is registered (torch.jit.enable_onednn_fusion(True)).
enum class FastPathMode : int { Auto = 0, Inline = 1, Outline = 2 };
TORCH_OPTSPEC_API void set_fast_path(FastPathMode mode);
TORCH_OPTSPEC_API FastPathMode get_fast_path();
// What a graph optimized now gets: get_fast_path() with Auto resolved.
TORCH_OPTSPEC_API bool outlines_now();

// Value learning: a graph with bool/int/Optional[T] inputs gets a value site
// that learns their values on its first calls and specializes the graph for
// them (on by default). Off: only Optional[Tensor] inputs and tensor
// properties are specialized.
TORCH_OPTSPEC_API void set_value_learning(bool on);
TORCH_OPTSPEC_API bool get_value_learning();

// ---- settings from the environment -------------------------------------------
//
// Read once, when the library is loaded (a zero-code host has no other way):
//   TORCH_OPTSPEC_ENABLE     1/true/on/yes, 0/false/off/no   enable()
//   TORCH_OPTSPEC_FAST_PATH  auto, inline, outline           set_fast_path()
//   TORCH_OPTSPEC_VALUES     1/0 (same words)                set_value_learning()
//   TORCH_OPTSPEC_SUMMARY    1/0 (same words)                set_summary_at_exit()
//                            (default: on when TORCH_OPTSPEC_ENABLE enabled the pass)
// A value outside these warns through c10's log and is ignored.

// ---- what the pass did, and why not ------------------------------------------

// One line: enabled or not, graphs seen and specialized, inputs specialized;
// when the pass is enabled and no graph reached it, the likely reasons this
// library can check: TorchScript's executor or its profiling mode off, graph-
// executor optimization off, calls profiled with grad mode on (the autodiff
// path, where custom passes do not run).
TORCH_OPTSPEC_API std::string report();
// Log report() through c10's log (LOG(WARNING): TORCH_CPP_LOG_LEVEL=ERROR
// silences it) when the process exits normally.
TORCH_OPTSPEC_API void set_summary_at_exit(bool on);
TORCH_OPTSPEC_API bool get_summary_at_exit();

// ---- counters -----------------------------------------------------------

// The counters, one line each: X(name, description). The same names are the
// keys of torch_optspec.stats() in Python (flat, as here).
#define TORCH_OPTSPEC_FORALL_STATS(X)                                          \
  X(graphs_seen, "graphs the pass was asked to optimize while enabled")        \
  X(graphs_specialized, "graphs that got a guarded, specialized fast path")   \
  X(inputs_none, "Optional[Tensor] inputs specialized as None")                \
  X(inputs_tensor, "Optional[Tensor] inputs specialized as a present Tensor")  \
  X(guards_inserted, "guards inserted (one per specialized graph)")            \
  X(skipped_unused, "inputs left alone: the graph never reads them")           \
  X(skipped_not_profiled, "inputs left alone: no profiled use ran")            \
  X(skipped_mixed, "inputs left alone: profiling saw None and a Tensor")       \
  X(skipped_undefined_tensor, "inputs left alone: profiling saw an undefined Tensor") \
  X(graphs_rejected,                                                           \
    "graphs whose specialization did not verify (left as they were)")         \
  X(inputs_properties, "present tensors whose dtype/rank/device is guarded")   \
  X(value_sites, "value sites inserted (they learn bool/int/Optional inputs)") \
  X(inputs_value, "non-tensor inputs fixed by a value site (value/None-ness)") \
  X(skipped_varying, "non-tensor inputs a value site saw change: left alone") \
  X(fuser_safe_graphs,                                                         \
    "graphs the fuser-safety stage rewrote (oneDNN Graph registered)")         \
  X(fuser_safe_rewrites, "nodes the fuser-safety stage rewrote")              \
  X(emission_barriers,                                                         \
    "no-ops put after loops in plans made with the pass on (interpreter)")    \
  X(uses_profiled,                                                             \
    "profiling checks that instrumented a read of an Optional[Tensor] input")   \
  X(uses_profiled_with_grad,                                                   \
    "of those, made during a call with grad mode on (report())")

struct Stats {
#define TORCH_OPTSPEC_STAT_FIELD(name, doc) uint64_t name = 0;
  TORCH_OPTSPEC_FORALL_STATS(TORCH_OPTSPEC_STAT_FIELD)
#undef TORCH_OPTSPEC_STAT_FIELD
};

// Process-wide counters, updated by the registered pass.
TORCH_OPTSPEC_API Stats stats();
TORCH_OPTSPEC_API void reset_stats();

// (name, value) of every counter, in the order above.
TORCH_OPTSPEC_API std::vector<std::pair<std::string, uint64_t>> stats_table();

// ---- compiled plans -------------------------------------------------------

// Drops the compiled plans of every method of `module` and its submodules (or
// of one function), in every autocast state, so that the next calls profile
// and optimize again under the current torch_optspec state. Returns the
// number of functions reset.
//
// Safe while other threads call the module: the old plans are retired, not
// freed (a call in flight keeps running on them), and each retired plan stays
// in memory until the process exits. Meant for occasional use.
TORCH_OPTSPEC_API size_t reset_plans(const torch::jit::Module& module);
TORCH_OPTSPEC_API size_t reset_plans(torch::jit::Function& function);

// The optimized graphs of the functions that `graph` calls through the
// executor's fallback mechanism (the slow path of a guard, an outlined fast
// path, and recursively theirs), for those that have been optimized.
TORCH_OPTSPEC_API std::vector<std::shared_ptr<torch::jit::Graph>>
fallback_plans(const std::shared_ptr<torch::jit::Graph>& graph);

// ---- ahead of time: specialize() ------------------------------------------

struct SpecializeOptions {
  // false (guarded): a call that does not match the example's pattern runs the
  // original code. true (strict): it raises a RuntimeError naming the argument
  // and what it was specialized for; the specialized code is then the
  // top-level graph (what oneDNN Graph needs).
  bool strict = false;
  // The method to specialize (the methods it calls are inlined into it).
  std::string method = "forward";
  // Safety bound of the clean-up (cleanupGraph).
  int cleanup_max_rounds = 32;
};

// What specialize() baked in, one entry per argument of the method (self
// first).
struct SpecializedArgument {
  std::string name;            // the argument's name
  std::string type;            // its declared type, e.g. "Optional[Tensor]"
  std::string decision;        // "none", "tensor", "value", "present", or "skip"
  std::string reason;          // when skipped: "-" (nothing to specialize), "unused", "undefined_tensor"
  std::string specialized_for; // e.g. "None", "a Tensor", "a Tensor (dim 4)", "True", "3"
  std::string check;           // the stock conditions checked, e.g. "mask is not None"
};

struct TORCH_OPTSPEC_API SpecializeReport {
  std::string method;
  bool strict = false;
  bool specialized = false; // false: nothing to specialize, the result is a plain clone
  std::string reason;       // why not, when !specialized
  std::vector<SpecializedArgument> arguments;
  int cleanup_rounds = 0;
  size_t residual_checks = 0; // checks left on specialized arguments (0 expected)
  // A few lines for people: what was baked in and what a mismatching call does.
  std::string describe() const;
};

// A new module (the input is not modified: Module::clone, parameters copied;
// a module that is not frozen keeps them as trainable attributes) whose
// method (`options.method`, with the methods it calls inlined) is specialized
// for the arguments of `example_inputs` -- one value per argument after self,
// trailing arguments with defaults may be left out -- decided from the values
// (an Optional given None -> None, a present Tensor -> Tensor with the
// dtype/rank/device the method reads, a bool/int -> its value, another
// Optional given a value -> not None), cleaned up like the runtime pass does,
// and guarded with stock TorchScript operations only:
// torch::jit::save writes a model that runs specialized in any LibTorch, with
// or without this library. Throws c10::Error for examples that do not fit the
// method's schema, and when the specialized graph does not verify. `report`,
// if given, receives what was baked in.
TORCH_OPTSPEC_API torch::jit::Module specialize(
    const torch::jit::Module& module,
    const std::vector<c10::IValue>& example_inputs,
    const SpecializeOptions& options = SpecializeOptions(),
    SpecializeReport* report = nullptr);

// A scripted function: the result is a module whose forward is the function
// (torch::jit::save needs a module; a loaded file is one anyway).
TORCH_OPTSPEC_API torch::jit::Module specialize(
    const torch::jit::Function& function,
    const std::vector<c10::IValue>& example_inputs,
    const SpecializeOptions& options = SpecializeOptions(),
    SpecializeReport* report = nullptr);

// ---- the library ----------------------------------------------------------

// The torch_optspec version ("0.2.0") and the torch version the library was
// compiled against ("2.13.0").
TORCH_OPTSPEC_API std::string version();
TORCH_OPTSPEC_API std::string built_with_torch();

// The name of the guard operator, "torch_optspec::check_inputs", and of
// the value-site check, "torch_optspec::check_values".
TORCH_OPTSPEC_API const char* guard_op_name();
TORCH_OPTSPEC_API const char* value_site_op_name();

// Registers the profiling hook, the pre-pass, the post-pass and the guard
// operator with the JIT. Called automatically when the library is loaded;
// idempotent.
TORCH_OPTSPEC_API void ensure_registered();

// False when another copy of torch_optspec (another file) had registered with
// the JIT before this one was loaded: this copy's pass then never runs.
TORCH_OPTSPEC_API bool is_active_copy();

} // namespace torch_optspec
