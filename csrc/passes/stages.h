// Every stage alone, by name: what the IR-file tests (tests/ir/) run.
#pragma once

#include "ir_idioms.h"

namespace torch_optspec {

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
//   specialize_inputs <pattern> [outline]   the driver
//   ahead_checks <ahead pattern>  graph unchanged; the stock checks' conditions
//   ahead_body <ahead pattern>    specializeBody
//   ahead_version <ahead pattern> versionGraphStock over a specialized,
//                                 cleaned-up copy; returns "checks=N"
//   ahead_strict <ahead pattern>  the specialized, cleaned-up copy with
//                                 insertStrictChecks; returns "checks=N"
//   ahead_of_time <ahead pattern> [strict]   specializeGraphAhead
//     (ahead pattern: per graph input none/tensor/skip/present/value=<v>,
//     v True, False or an int)
//   verify
// and, for any stage, group=<kind>;<op1>,<op2>,... first moves the first node
// of each op kind into one subgraph node of that kind (a fusion group, a
// prim::FallbackGraph: the IR parser cannot read subgraph attributes).
// Returns a line for the test to check (the plan, the driver's outcome, ...).
TORCH_OPTSPEC_API std::string runStage(
    const std::string& stage,
    std::shared_ptr<Graph>& graph,
    const std::vector<std::string>& args);

} // namespace torch_optspec
