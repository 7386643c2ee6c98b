// The torch_optspec pipeline, one stage per file. Every stage is a plain
// function over a graph: it reads no global state, takes its settings as
// arguments, and is callable alone (tests/ir/<stage>/*.ir run each one through
// runStage(), stages.cpp).
//
//   element_writes.cpp 0. first in the pre-pass, while the pass is on: keep
//                    in-place updates of list/tuple elements from stock DCE
//   profile.cpp   1. which nodes the profiling executor must profile: the
//                    readers of Optional[Tensor] graph inputs
//   decide.cpp    2. read the prim::profile records into a SpecializationPlan
//   version.cpp   3. guard the plan: prim::If(check_none_pattern(...)) with the
//                    fast path in block0 and the original in block1 (a
//                    prim::FallbackGraph, or inline under grad mode)
//   refine.cpp    4. in the fast path, replace None inputs by a None constant and
//                    present inputs by a refined Tensor value
//   cleanup.cpp   5. peephole / constant propagation / DCE to a fixed point, so
//                    the checks and branches on those inputs disappear; verify
//   outline.cpp   6. move the fast path into a function of its own (for fusers
//                    that only partition the top-level block: oneDNN Graph)
//   fuser_safety.cpp 7. before oneDNN Graph's pre-pass, on every graph (the
//                    specialized ones and the ones left alone): rename the
//                    nodes its bridge would throw on or compute differently
//                    into same-kernel ops it does not match
//   postfusion.cpp 8. after fusion: un-fuse NNC CPU groups left without inputs
//   emission_barriers.cpp 8b. after fusion, in every plan made with the pass
//                    on: a no-op after each loop, so that stock
//                    TorchScript's interpreter keeps the values its body uses
//
//   specialize_optionals.cpp   the driver: 3-6 on a copy of one graph, with
//                              the settings it is given; returns a Result
//   ../register.cpp            the JIT hooks: reads the switch and the
//                              settings (../state.cpp), runs 2, the driver
//                              and (oneDNN Graph registered) 7, counts
//                              (../stats.cpp)
//
// Logging: PYTORCH_JIT_LOG_LEVEL=">specialize_optionals" prints each graph
// before and after the pass; GRAPH_UPDATE (">>") each rewrite of every stage,
// e.g. ">>>decide:>>version:>>refine:>>cleanup:>>outline:>>fuser_safety"
// (docs/design.md).
#pragma once

#include <torch/csrc/jit/ir/ir.h>
#include <torch_optspec/torch_optspec.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::jit {
struct Operator; // runtime/operator.h (markerOperator)
} // namespace torch::jit

namespace torch_optspec {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// ---- 1. profile ---------------------------------------------------------

// True for a graph input whose type is Optional[Tensor].
TORCH_OPTSPEC_API bool isOptionalTensorInput(const Value* v);

// True for nodes that read an Optional[Tensor] graph input, and for the
// property reads (prim::dtype, aten::dim, aten::is_floating_point,
// prim::device) of a Tensor graph input: the nodes whose inputs the pass needs
// profiled. (register.cpp gives the JIT this predicate, gated on the switch.)
TORCH_OPTSPEC_API bool readsOptionalTensorInput(const Node* n);

// True for the nodes that read a tensor property the guard can check:
// prim::dtype, aten::dim, aten::is_floating_point, prim::device.
TORCH_OPTSPEC_API bool isPropertyRead(const Node* n);

// ---- 2. decide ----------------------------------------------------------

// The properties the graph reads of `v`, directly or through the profiles
// and casts that stand for it, added to `reads` (decide.cpp; the runtime and
// the ahead-of-time decisions both use it).
struct PropertyReads {
  bool dtype = false;  // prim::dtype, aten::is_floating_point
  bool dim = false;    // aten::dim
  bool device = false; // prim::device
};
TORCH_OPTSPEC_API void collectPropertyReads(const Value* v, PropertyReads& reads);

enum class InputKind {
  Skip,    // leave the input alone
  None,    // always None (profiled, or learned by a value site)
  Tensor,  // always a (defined) Tensor during profiling
  Value,   // a bool/int (or Optional of one) fixed to `value` (learned)
  Present, // an Optional[T] (T not Tensor) never None (learned)
};

enum class SkipReason {
  NotOptional, // not an Optional[Tensor] input (nothing to do)
  Unused,
  NotProfiled,
  Mixed,
  Undefined,
  Varying, // a value site saw it change between calls
};

// "none", "tensor", "skip"; "-", "unused", "not_profiled", "mixed",
// "undefined_tensor" (the keys of stats()["inputs_skipped"]).
TORCH_OPTSPEC_API const char* kindName(InputKind kind);
TORCH_OPTSPEC_API const char* reasonName(SkipReason reason);

struct InputDecision {
  InputKind kind = InputKind::Skip;
  SkipReason reason = SkipReason::NotOptional;
  // For InputKind::Tensor: the merged profiled type (TensorType::get() when
  // only the presence is known).
  c10::TensorTypePtr type;
  // Tensor properties the model reads and the profile fixed: the guard checks
  // them and the fast path folds their reads (refine.cpp). Also set for plain
  // Tensor inputs (kind Tensor, nothing to refine but the properties).
  std::optional<c10::ScalarType> dtype;
  std::optional<int64_t> dim;
  std::optional<c10::Device> device;
  // For InputKind::Value: the value (None, a bool or an int).
  c10::IValue value;

  bool guardsProperties() const {
    return dtype.has_value() || dim.has_value() || device.has_value();
  }
};

// One decision per graph input, in order.
struct TORCH_OPTSPEC_API SpecializationPlan {
  std::vector<InputDecision> inputs;

  size_t count(InputKind kind) const;
  size_t countSkipped(SkipReason reason) const;
  bool specializesAnything() const {
    return count(InputKind::None) + count(InputKind::Tensor) > 0;
  }
  // e.g. "(self: -, inputs: -, mask: Tensor)" for logs.
  std::string describe(const Graph& graph) const;
};

TORCH_OPTSPEC_API SpecializationPlan decideFromProfiles(const Graph& graph);

// Builds a plan from a pattern given per graph input: "none", "tensor" or
// "" (skip). Used by tests and tools; throws on a pattern that does not fit
// the graph.
TORCH_OPTSPEC_API SpecializationPlan planFromPattern(
    const Graph& graph,
    const std::vector<std::string>& pattern);

// ---- 3. version ---------------------------------------------------------

// The guard operator: torch_optspec::check_none_pattern(...) -> bool with an
// int[] attribute `pattern` (1: must be None, 0: must be a defined Tensor),
// one entry per guard input (the specialized graph inputs, in order), and,
// when the plan fixes tensor properties, int[] attributes `dtypes` (a
// c10::ScalarType, -1: any), `dims` (-1: any) and str[] `devices` ("": any).
TORCH_OPTSPEC_API c10::Symbol guardKind();
TORCH_OPTSPEC_API c10::Symbol patternAttr();
// The guard's pattern (an int[] attribute, or the IValue list the IR parser
// makes of `pattern=[...]`).
TORCH_OPTSPEC_API std::vector<int64_t> guardPattern(const Node* guard);
void registerGuardOperator();

// The guard of a versioned graph (the first top-level guard node), or null.
TORCH_OPTSPEC_API Node* findGuard(const Graph& graph);
// block0 of the prim::If the guard feeds, or null.
TORCH_OPTSPEC_API Block* findFastPath(const Graph& graph);
// The plan a guard checks (types: TensorType::get()): what version wrote.
TORCH_OPTSPEC_API SpecializationPlan planFromGuard(const Graph& graph);

// Turns the graph into
//   %ok = torch_optspec::check_none_pattern[pattern=...](specialized inputs)
//   %outs = prim::If(%ok)
//     block0: <copy of the graph body>             (returned, to be refined)
//     block1: prim::If(aten::is_grad_enabled())
//               block0: <original body>                         (grad mode)
//               block1: prim::FallbackGraph(<original body>)    (no grad)
//             or, when !canBecomeFallbackGraph: <original body>
TORCH_OPTSPEC_API Block* versionGraph(
    Graph& graph,
    const SpecializationPlan& plan);

// Clones the body of `source` (same inputs as `graph`) into `block`, an empty
// block of a node of `graph`, reading `graph`'s inputs.
TORCH_OPTSPEC_API void cloneBodyInto(Graph& graph, const Graph& source, Block* block);

// False when `body` must stay inline rather than become a prim::FallbackGraph
// (version's no-grad slow path, outline, value sites): dead-code elimination
// keeps such a node only through its used outputs (its in-place updates,
// raises and prints live in its subgraph, which neither Node::hasSideEffects
// nor AliasDb::getWrites looks into), and an output of type NoneType is
// always replaced by the constant None. A body whose outputs are all None (a
// function that only updates its arguments) would be dropped with its
// effects.
TORCH_OPTSPEC_API bool canBecomeFallbackGraph(const Block* body);
// True for a node whose subgraph the executor compiles into a function of its
// own, profiled and optimized when first called: prim::FallbackGraph (our
// slow paths, outlined fast paths and value sites, NNC's guard fallbacks) and
// prim::fork.
TORCH_OPTSPEC_API bool isCompiledLater(const Node* n);
// Calls `fn` on the subgraph of every such node in `block`, in nested blocks
// and, recursively, in those subgraphs (outer subgraphs first).
TORCH_OPTSPEC_API void forEachSubgraphCompiledLater(
    Block* block,
    const std::function<void(Graph&)>& fn);
// A JIT operator `schema` ("torch_optspec::<name>() -> ()") that does nothing
// and only marks a place in a graph: CONSERVATIVE, so no JIT pass drops or
// moves it (with no inputs or outputs alias analysis records nothing for it).
torch::jit::Operator markerOperator(const char* schema);

// ---- 4. refine ----------------------------------------------------------

// Substitutes the specialized inputs inside `fast` and re-types or removes
// the Optional-typed prim::profile nodes that sit on them.
TORCH_OPTSPEC_API void refineFastPath(
    Graph& graph,
    Block* fast,
    const SpecializationPlan& plan);

// Re-types Tensor?-typed prim::profile nodes whose input is now a Tensor and
// removes those whose input is None. Returns true if anything changed.
TORCH_OPTSPEC_API bool refineProfiles(Block* block);

// ---- 5. clean up --------------------------------------------------------

struct CleanupResult {
  int rounds = 0;             // rounds run (the last one changed nothing)
  bool hit_round_limit = false; // stopped by the safety bound, not a fixed point
};

// Peephole (without shape peepholes: nothing but None-ness is guarded),
// constant propagation and dead-code elimination, repeated until a round
// leaves the graph text unchanged (the passes' own "changed" flags are not
// trusted: PeepholeOptimize keeps reporting a change on torch.nn attention
// graphs). `max_rounds` is only a safety net; hitting it is logged.
TORCH_OPTSPEC_API CleanupResult cleanupGraph(
    std::shared_ptr<Graph>& graph,
    int max_rounds = 32);

// Lints the graph, and the subgraphs of its prim::FallbackGraph nodes, and
// checks that every aten node resolves to an operator. Returns an empty string
// when fine, else what is wrong.
TORCH_OPTSPEC_API std::string verifyGraph(const std::shared_ptr<Graph>& graph);

// prim::If / prim::unchecked_cast nodes in `block` (recursively) that still
// depend on one of the specialized inputs of `plan`.
TORCH_OPTSPEC_API size_t countResidualChecks(
    const Graph& graph,
    Block* block,
    const SpecializationPlan& plan);

// ---- 5b. values (values.cpp) ---------------------------------------------
//
// The profiling executor records tensors only. The values of bool/int inputs
// (and of Optional[bool]/Optional[int]) and the None-ness of other
// Optional[T] inputs are learned by the pass itself: the first optimized plan
// gets a value site at its top,
//
//   %learned : bool = torch_optspec::check_values[site=K](%flag, %n, ...)
//   %r = prim::If(%learned)
//     block0(): prim::FallbackGraph(<original body, marked with site K>)
//     block1(): <the plan as specialized from the profiles>
//
// check_values watches the first calls (no-grad only); then it freezes the
// inputs that did not change (the others are "varying": never specialized)
// and from then on returns whether a call has the frozen values. The
// fallback, compiled by the executor when first taken, reaches the pre-pass
// with the marker: its fixed inputs become constants (learnedValues, then
// the driver substitutes them). One site per graph, learned once: bounded.

// Graph inputs whose value a value site watches: bool, int, Optional[T] for
// T not Tensor. With uses only.
struct ValueCandidate {
  size_t input = 0;        // graph input index
  bool none_only = false;  // Optional[T] with T not bool/int: only None-ness
};
TORCH_OPTSPEC_API std::vector<ValueCandidate> valueCandidates(const Graph& graph);

// What a frozen site fixed, for the graph it marks: per fixed input, a
// decision of kind None / Value / Present. Empty when `graph` has no marker
// (or its site fixed nothing).
struct LearnedValues {
  int64_t site = -1;
  std::vector<std::pair<size_t, InputDecision>> fixed; // (graph input, decision)
};
TORCH_OPTSPEC_API LearnedValues learnedValues(const Graph& graph);

// Stage: replaces the fixed inputs by constants (or a refined T for Present)
// everywhere in `graph` and removes the site marker. Safe only where the
// outer check_values holds, i.e. in the graph the marker marks.
TORCH_OPTSPEC_API void substituteValues(Graph& graph, const LearnedValues& learned);

// Stage: wraps `graph` behind a new value site over `candidates`, with
// `original` (the graph before this optimization) as the marked fallback.
// `learn_calls` calls are watched before freezing. With `outline_current`
// the current body becomes a function too (for top-level-only fusers).
// Returns the site id.
TORCH_OPTSPEC_API int64_t insertValueSite(
    Graph& graph,
    const Graph& original,
    const std::vector<ValueCandidate>& candidates,
    int64_t learn_calls,
    bool outline_current = false);

// What a value site watches and what it saw, for explain() and tests.
struct ValueSiteInfo {
  bool exists = false;
  std::string state; // "learning", "frozen", "disabled"
  int64_t observed = 0;
  std::vector<size_t> inputs;  // graph input per candidate
  std::vector<bool> varying;   // per candidate (after freezing)
};
TORCH_OPTSPEC_API ValueSiteInfo valueSiteInfo(int64_t site);

void registerValueOperators();

// ---- 6. outline --------------------------------------------------------

// Turns block0 into a prim::FallbackGraph (compiled by the executor as a
// function of its own) so that top-level-only fusers see the fast path.
// Returns false, leaving it inline, when block0 reads no value (the function
// would have no inputs, which oneDNN Graph cannot take) or returns only None
// (canBecomeFallbackGraph).
TORCH_OPTSPEC_API bool outlineFastPath(Graph& graph, Block* fast);

// ---- 7. fuser safety (fuser_safety.cpp) -------------------------------------

// What makeSafeForOneDNN rewrote.
struct TORCH_OPTSPEC_API FuserSafetyResult {
  size_t binary_renamed = 0;    // add/mul/div(_) -> same-kernel ops the bridge skips
  size_t silu_renamed = 0;      // silu -> torch_optspec::silu
  size_t linear_renamed = 0;    // linear with an Optional bias -> torch_optspec::linear
  size_t layer_norm_filled = 0; // None weight/bias -> ones/zeros constants
  size_t layer_norm_native = 0; // layer_norm -> aten::native_layer_norm
  size_t nested_reads_exposed = 0; // torch_optspec::block_read inserted
  size_t size_renamed = 0;      // aten::size -> torch_optspec::size
  size_t control_flow_outlined = 0; // If/Loop -> prim::FallbackGraph (bridge's work bound)
  bool exact_types = true;      // false: types unknown, every candidate renamed
  size_t total() const;
  // "binary=2 silu=0 linear=0 layer_norm_filled=1 layer_norm_native=0
  // nested_reads=0 size=0 outlined=0" (the stage's result line in
  // tests/ir/fuser_safety/).
  std::string describe() const;
};

// Rewrites, in every block of `graph`, the nodes oneDNN Graph's bridge would
// throw on or compute differently (fuser_safety.cpp lists them), into nodes
// that run the same ATen kernels and that the bridge does not match; and in
// the top-level block, which oneDNN partitions, the nodes it would fail to
// compile. Results are unchanged (bitwise, fusers off). To be run on a graph
// with its prim::profile nodes, right before oneDNN Graph's pre-pass.
// Above `bridge_work_limit` (blocks x nodes: the bridge's passes do work of
// the whole graph's size per block), the model's own If/Loop nodes are first
// moved into prim::FallbackGraph nodes, largest first, until it is not.
constexpr size_t kBridgeWorkLimit = 100000;
// The limit makeFuserSafe (register.cpp) passes: kBridgeWorkLimit, or
// TORCH_OPTSPEC_BRIDGE_WORK_LIMIT (env.cpp; 0 moves every movable If/Loop,
// which the oneDNN fuzz mode uses to exercise the move).
TORCH_OPTSPEC_API size_t bridgeWorkLimit();
TORCH_OPTSPEC_API void setBridgeWorkLimit(size_t limit);
TORCH_OPTSPEC_API FuserSafetyResult makeSafeForOneDNN(
    std::shared_ptr<Graph>& graph,
    size_t bridge_work_limit = kBridgeWorkLimit);
// torch_optspec::add(_), silu, linear and size, the same-kernel replacements,
// and torch_optspec::block_read.
void registerFuserSafetyOperators();

// ---- 8. post-fusion (postfusion.cpp, a custom post-pass) ---------------------

// Inlines back the NNC CPU groups without inputs (NNC miscomputes such groups
// in torch 2.13). Returns the number un-fused. register.cpp runs it on the
// graphs the pre-pass specialized in the same optimization only.
TORCH_OPTSPEC_API size_t UnfuseInputlessGroups(std::shared_ptr<Graph>& graph);

// ---- 0. element writes (element_writes.cpp, first in the pre-pass) ---------

// torch_optspec::keep_write(Tensor self) -> (), a side-effecting no-op.
TORCH_OPTSPEC_API c10::Symbol keepWriteKind();
void registerKeepWriteOperator();
// Puts keep_write(result) right after every in-place op (its first argument
// written) whose target is an element of a prim::ListConstruct or
// prim::TupleConstruct built before it, in every block of `graph`: stock
// dead-code elimination does not see such a write as live and drops it (the
// file says how). Idempotent. Returns the number inserted.
TORCH_OPTSPEC_API size_t keepElementWrites(Graph& graph);

// ---- 8b. emission barriers (emission_barriers.cpp, in the post-pass) ---------

// torch_optspec::emission_barrier() -> (), a side-effecting no-op.
TORCH_OPTSPEC_API c10::Symbol emissionBarrierKind();
void registerEmissionBarrierOperator();
// Puts a barrier right after every prim::Loop and every prim::If holding a
// prim::Loop, in every block of `graph` (and, with `subgraphs`, of the
// subgraphs of its prim::FallbackGraph and prim::fork nodes, compiled later):
// stock TorchScript's interpreter then never emits such a node inline in its
// user's expression, which can move a value out of its register inside the
// loop body (the file says how). Idempotent. Returns the number inserted.
TORCH_OPTSPEC_API size_t insertEmissionBarriers(Graph& graph, bool subgraphs);
// Removes every barrier in the blocks of `graph` (and, with `subgraphs`, of
// those subgraphs). Returns the number removed.
TORCH_OPTSPEC_API size_t removeEmissionBarriers(Graph& graph, bool subgraphs);

// ---- the driver (specialize_optionals.cpp) ----------------------------------

struct DriverOptions {
  bool outline = false;     // stage 6 on (the caller resolves FastPathMode)
  int cleanup_max_rounds = 32;
  // Values a frozen site fixed for this graph (learnedValues): substituted.
  LearnedValues learned;
  // Put a value site over these inputs (empty: none), watching learn_calls calls.
  std::vector<ValueCandidate> value_site;
  int64_t learn_calls = 3;
};

struct TORCH_OPTSPEC_API DriverResult {
  enum class Outcome {
    Specialized,   // the graph was replaced by its guarded, specialized version
    NothingToDo,   // no input to specialize, or the graph is already versioned
    Rejected,      // the specialized copy failed (reason); graph left as it was
    Watching,      // nothing specialized yet, a value site inserted (learning)
  };
  Outcome outcome = Outcome::NothingToDo;
  std::string reason; // why NothingToDo / Rejected, empty when Specialized
  SpecializationPlan plan; // the plan, with the learned values merged in
  int64_t value_site = -1; // the site inserted, or -1
  bool guard_inserted = false; // a tensor guard (check_none_pattern) was inserted
  CleanupResult cleanup;
  size_t residual_checks = 0; // countResidualChecks on the fast path

  static const char* outcomeName(Outcome o);
};

// Stages 3-6 on one graph with an explicit plan. Works on a copy and swaps it
// in only when it verifies (before and after outlining), so a graph it cannot
// handle is left exactly as it was. Never throws for a graph it does not
// understand; counts nothing and reads no global state.
TORCH_OPTSPEC_API DriverResult specializeGraph(
    std::shared_ptr<Graph>& graph,
    const SpecializationPlan& plan,
    const DriverOptions& options);

// ---- ahead of time (aot.cpp; ../aot.cpp is torch_optspec::specialize) ------
//
// The same refinement, substitution and clean-up on a method's graph (calls
// inlined), decided from example values instead of profiles and guarded with
// stock TorchScript operations only, so the saved module runs without
// torch_optspec:
//   planFromExample      (2) the decision from the values of one call
//   stockChecks          (3) the plan as stock conditions, one per decision:
//                            THE place a decision kind gets its check
//   specializeBody       (4) the decided inputs replaced at the top level:
//                            refineFastPath for Optional[Tensor]/Tensor inputs,
//                            substituteValues for the others
//   cleanupGraph         (5) as at run time
//   versionGraphStock    (3) guarded: prim::If(all checks, short-circuit) ->
//                            the specialized body in block0, the original in block1
//   insertStrictChecks   (3) strict: per check prim::If -> prim::RaiseException;
//                            the specialized body is the graph itself
//   specializeGraphAhead the driver of these, on copies of the graph

// One decision per graph input (self included) from the values of one call,
// `inputs` one per graph input; inputs the graph does not use are skipped:
//   Optional[Tensor]: None -> None; a defined Tensor -> Tensor (an undefined
//                     one: skip), with the dtype/rank/device the graph reads
//   Tensor:           Tensor with the dtype/rank/device the graph reads (skip
//                     when it reads none)
//   bool, int:        Value (the example's value)
//   Optional[bool], Optional[int]: None -> None, else Value
//   Optional[T], other T: None -> None, else Present
//   anything else:    skip (floats, strings, lists: not specialized)
TORCH_OPTSPEC_API SpecializationPlan planFromExample(
    const Graph& graph,
    const std::vector<c10::IValue>& inputs);

// A stock TorchScript condition that (part of) one decision holds.
struct StockCheck {
  size_t input = 0;      // graph input index
  std::string expected;  // what it was specialized for: "None", "a Tensor", "dtype Float", "True"
  std::string otherwise; // what a call failing it passed: "None", "another dtype", ...
  std::string condition; // the check as source, e.g. "mask is not None", "mask.dim() == 4"
  // Inserts the condition at the graph's insertion point and returns it (a
  // bool, true when the call matches). Only valid where the checks before it
  // (same input) hold: a property check casts an Optional[Tensor] to Tensor.
  std::function<Value*(Graph&)> emit;
};

// The checks of `plan`, in input order, per input its presence before its
// value or properties; stock operations only:
//   None                 aten::__is__(x, None)
//   Tensor (Optional)    aten::__isnot__(x, None)
//     dtype / rank / device of the tensor:
//                        aten::eq(prim::dtype(t), <int>), aten::eq(aten::dim(t), <int>),
//                        aten::eq(prim::device(t), <Device>)
//   Value                aten::eq(x, <value>)  (Optional[int/bool]: after x is not None)
//   Present              aten::__isnot__(x, None)
// `names`: the argument name of each graph input, for messages (empty: the
// debug names without their numeric suffix).
TORCH_OPTSPEC_API std::vector<StockCheck> stockChecks(
    const Graph& graph,
    const SpecializationPlan& plan,
    const std::vector<std::string>& names = {});

// Replaces the decided inputs in the whole graph: None -> a None constant,
// Value -> its constant, Present / Optional Tensor -> a refined value, and
// folds the tensor properties the plan fixes. Valid where the checks hold.
TORCH_OPTSPEC_API void specializeBody(Graph& graph, const SpecializationPlan& plan);

// Guarded: turns `graph` into
//   %ok = <the checks, short-circuit prim::If chain (each check computed
//          only when the ones before it hold)>
//   %outs = prim::If(%ok)
//     block0: <the body of `fast`, a specialized copy of `graph` (same inputs)>
//     block1: aten::wait(prim::fork(<the original body>))   (one output;
//             inline with several: oneDNN Graph's bridge fails on a
//             never-run inline body, a fork's subgraph is compiled apart)
TORCH_OPTSPEC_API void versionGraphStock(
    Graph& graph,
    Graph& fast,
    const std::vector<StockCheck>& checks);

// Strict: prepends, per check,
//   prim::If(%ok) block0: () block1: aten::_functional_assert_scalar(0,
//   "<function>(): argument '<name>' was specialized for <expected>, but this
//   call passed <otherwise> ...", <tensor>), then prim::RaiseException
// (the assert raises a RuntimeError in Python, a std::runtime_error in C++;
// the RaiseException marks the block as not returning).
// Call on the specialized body: the checks read the graph inputs themselves.
TORCH_OPTSPEC_API void insertStrictChecks(
    Graph& graph,
    const std::vector<StockCheck>& checks,
    const std::string& function_name,
    const std::vector<std::string>& names = {});

struct AheadOptions {
  bool strict = false;
  std::string function_name = "forward"; // for messages
  std::vector<std::string> input_names;  // per graph input; empty: debug names
  int cleanup_max_rounds = 32;
};

// The specialized body (a copy: specializeBody, cleanupGraph), then guarded
// (versionGraphStock on another, cleaned-up copy) or strict
// (insertStrictChecks on it);
// verified and swapped in only then. Specialized / NothingToDo (nothing
// decided) / Rejected (with the reason; the graph is left as it was). No
// torch_optspec operator in the result. residual_checks counts the checks on
// specialized inputs left in the specialized body (before the checks).
TORCH_OPTSPEC_API DriverResult specializeGraphAhead(
    std::shared_ptr<Graph>& graph,
    const SpecializationPlan& plan,
    const AheadOptions& options);

// ---- plans (../plans.cpp) ---------------------------------------------------

// The optimized plan of the function a prim::CallFunction node calls (or of
// the function constant it is given); null when not optimized yet.
TORCH_OPTSPEC_API std::shared_ptr<Graph> calledPlan(Node* call);

// ---- stages one by one (stages.cpp) ----------------------------------------

// Runs one stage on `graph` in place, for the IR-file tests (tests/ir/) and
// tools. `args` are the words after the stage name on the test's RUN line:
//   decide                        graph unchanged; returns the plan
//   version <pattern>             pattern: comma-separated none/tensor/skip
//   refine                        reads the plan from the guard
//   cleanup [max_rounds=N]
//   outline                       "inline" when the fast path reads no value
//   postfusion
//   emission_barriers [subgraphs] [remove]   returns "inserted=N" / "removed=N"
//   element_writes                returns "kept=N"
//   value_site [learn_calls=N]    over valueCandidates(graph)
//   fuser_safety [work_limit=N]   returns FuserSafetyResult::describe()
//   specialize <pattern> [outline]   the driver
//   verify
// and, for any stage, group=<kind>;<op1>,<op2>,... first moves the first node
// of each op kind into one subgraph node of that kind (a fusion group, a
// prim::FallbackGraph: the IR parser cannot read subgraph attributes).
// Returns a line for the test to check (the plan, the driver's outcome, ...).
TORCH_OPTSPEC_API std::string runStage(
    const std::string& stage,
    std::shared_ptr<Graph>& graph,
    const std::vector<std::string>& args);

// ---- internal: settings (../state.cpp) --------------------------------------

// True when oneDNN Graph's fuser is registered as a custom pre-pass
// (torch.jit.enable_onednn_fusion(True)), recognized by its address.
TORCH_OPTSPEC_API bool onednnPrePassRegistered();

// This thread's override (-1: none, 0: off, 1: on) and the global switch,
// each alone (is_enabled() combines them).
int8_t threadOverride();
bool globalEnabled();
// The TORCH_OPTSPEC_* variables (env.cpp), applied when the library is
// loaded; true when TORCH_OPTSPEC_ENABLE enabled the pass.
bool applyEnvironmentSettings();

// ---- internal: counters and the per-thread result log (stats.cpp) ----------

void recordGraphSeen();
// A read of an Optional[Tensor] input instrumented for profiling while
// enabled, and whether grad mode was on in that call.
void recordProfiledUse(bool grad_mode);
void recordPlan(const SpecializationPlan& plan);
// A value site froze with `n` inputs varying.
void recordVarying(size_t n);
// Counts the driver's result and appends it, with the graph's input names, to
// this thread's log (what explain() reads: the pass runs on the thread whose
// call triggered the optimization, so other threads' compilations never mix
// in).
void recordResult(const Graph& graph, const DriverResult& result);
void recordFuserSafety(const FuserSafetyResult& result);
void recordEmissionBarriers(size_t n);

struct LoggedResult {
  std::vector<std::string> input_names;
  std::vector<std::string> input_types;
  DriverResult result;
};
// Returns and clears this thread's log (at most the last 1024 results).
TORCH_OPTSPEC_API std::vector<LoggedResult> takeThreadResults();

} // namespace torch_optspec
