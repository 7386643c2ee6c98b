// The ahead-of-time stages (torch_optspec.specialize): the same refinement,
// substitution and clean-up, decided from example values and guarded with
// stock TorchScript operations only.
#pragma once

#include "specialize_inputs.h"

namespace torch_optspec {

// They run on a method's graph (calls inlined), so the saved module runs
// without torch_optspec; run-time stage numbers in brackets:
//   decisionsFromExample  (2) the decisions from the values of one call
//   stockChecks           (4) the decisions as stock conditions, one per
//                             decision: THE place a decision kind gets its check
//   specializeBody        (5) the decided inputs replaced at the top level:
//                             refineFastPath for Optional[Tensor]/Tensor inputs,
//                             substituteValues for the others
//   cleanupGraph          (6) as at run time
//   versionGraphStock     (4) guarded: prim::If(all checks, short-circuit) ->
//                             the specialized body in block0, the original in block1
//   insertStrictChecks    (4) strict: per check prim::If -> prim::RaiseException;
//                             the specialized body is the graph itself
//   specializeGraphAhead  the driver of these, on copies of the graph
// runStage reaches each of them (stages.h: ahead_*), so tests/ir/ahead_of_time/
// tests them one by one.

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
TORCH_OPTSPEC_API InputDecisions decisionsFromExample(
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
    const InputDecisions& plan,
    const std::vector<std::string>& names = {});

// Replaces the decided inputs in the whole graph: None -> a None constant,
// Value -> its constant, Present / Optional Tensor -> a refined value, and
// folds the tensor properties the plan fixes. Valid where the checks hold.
TORCH_OPTSPEC_API void specializeBody(Graph& graph, const InputDecisions& plan);

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
    const InputDecisions& plan,
    const AheadOptions& options);

} // namespace torch_optspec
