// Stage 3, value site: learn the values of bool/int/Optional[T] inputs at
// run time, and substitute them.
#pragma once

#include "decide.h"

namespace torch_optspec {

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

// ---- the sites at run time (../value_sites.cpp) ------------------------------
//
// Process-wide and never freed (a plan may run as long as the process): the
// only state a stage touches, through these calls.

// A new site watching `candidates` for `learn_calls` no-grad calls; its id.
TORCH_OPTSPEC_API int64_t newValueSite(
    const std::vector<ValueCandidate>& candidates,
    int64_t learn_calls);

// One input a frozen site fixed: its graph input, whether only its
// None-ness was watched, and what it was (the value, None, or for none_only
// whether it was None).
struct FrozenInput {
  size_t input = 0;
  bool none_only = false;
  c10::IValue key;
};
// What site `site` fixed; empty while it learns, when it fixed nothing, or
// when there is no such site.
TORCH_OPTSPEC_API std::vector<FrozenInput> frozenInputs(int64_t site);

// torch_optspec::check_values[site=K]: watches, then checks (operators.cpp
// registers it).
torch::jit::Operation createCheckValuesOperation(const Node* node);

} // namespace torch_optspec
