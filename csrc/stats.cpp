// The counters behind torch_optspec::stats(), generated from the one list in
// the public header (TORCH_OPTSPEC_FORALL_STATS), and the per-thread log of
// driver results that explain() reads.
#include "runtime.h"

#include <array>
#include <atomic>
#include <deque>

namespace torch_optspec {

namespace {

enum StatIndex : size_t {
#define TORCH_OPTSPEC_STAT_INDEX(name, doc) k_##name,
  TORCH_OPTSPEC_FORALL_STATS(TORCH_OPTSPEC_STAT_INDEX)
#undef TORCH_OPTSPEC_STAT_INDEX
      kNumStats
};

constexpr std::array<const char*, kNumStats> kStatNames = {
#define TORCH_OPTSPEC_STAT_NAME(name, doc) #name,
    TORCH_OPTSPEC_FORALL_STATS(TORCH_OPTSPEC_STAT_NAME)
#undef TORCH_OPTSPEC_STAT_NAME
};

std::array<std::atomic<uint64_t>, kNumStats>& counters() {
  static std::array<std::atomic<uint64_t>, kNumStats> c{};
  return c;
}

void add(StatIndex i, uint64_t n = 1) {
  counters()[i].fetch_add(n, std::memory_order_relaxed);
}

StatIndex skipCounter(SkipReason reason) {
  switch (reason) {
    case SkipReason::Unused:
      return k_skipped_unused;
    case SkipReason::NotProfiled:
      return k_skipped_not_profiled;
    case SkipReason::Mixed:
      return k_skipped_mixed;
    case SkipReason::Undefined:
      return k_skipped_undefined_tensor;
    case SkipReason::Varying:
      return k_skipped_varying;
    case SkipReason::NotOptional:
      break;
  }
  return kNumStats;
}

constexpr size_t kMaxLogged = 1024;
thread_local std::deque<LoggedResult> thread_results;

} // namespace

Stats stats() {
  auto& c = counters();
  Stats s;
#define TORCH_OPTSPEC_STAT_LOAD(name, doc) s.name = c[k_##name].load();
  TORCH_OPTSPEC_FORALL_STATS(TORCH_OPTSPEC_STAT_LOAD)
#undef TORCH_OPTSPEC_STAT_LOAD
  return s;
}

std::vector<std::pair<std::string, uint64_t>> stats_table() {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < kNumStats; ++i) {
    out.emplace_back(kStatNames[i], counters()[i].load());
  }
  return out;
}

void reset_stats() {
  for (auto& a : counters()) {
    a.store(0);
  }
}

void recordVarying(size_t n) {
  add(k_skipped_varying, n);
}

void recordGraphSeen() {
  add(k_graphs_seen);
}

void recordProfiledUse(bool grad_mode) {
  add(k_uses_profiled);
  if (grad_mode) {
    add(k_uses_profiled_with_grad);
  }
}

void recordDecisions(const InputDecisions& plan) {
  for (const auto& d : plan.inputs) {
    if (d.kind != InputKind::Skip) {
      continue;
    }
    StatIndex i = skipCounter(d.reason);
    if (i != kNumStats) {
      add(i);
    }
  }
}

void recordResult(const Graph& graph, const DriverResult& result) {
  using Outcome = DriverResult::Outcome;
  if (result.outcome == Outcome::Specialized || result.outcome == Outcome::Watching) {
    add(k_graphs_specialized, result.outcome == Outcome::Specialized ? 1 : 0);
    add(k_guards_inserted, result.guard_inserted ? 1 : 0);
    add(k_value_sites, result.value_site >= 0 ? 1 : 0);
    add(k_inputs_none, result.decisions.count(InputKind::None));
    add(k_inputs_tensor, result.decisions.count(InputKind::Tensor));
    add(k_inputs_value, result.decisions.count(InputKind::Value) + result.decisions.count(InputKind::Present));
    size_t properties = 0;
    for (const auto& d : result.decisions.inputs) {
      properties += d.kind == InputKind::Tensor && d.guardsProperties() ? 1 : 0;
    }
    add(k_inputs_properties, properties);
  } else if (result.outcome == Outcome::Rejected) {
    add(k_graphs_rejected);
  }
  LoggedResult logged;
  for (const Value* v : graph.inputs()) {
    logged.input_names.push_back(v->debugName());
    logged.input_types.push_back(v->type()->annotation_str());
  }
  logged.result = result;
  thread_results.push_back(std::move(logged));
  if (thread_results.size() > kMaxLogged) {
    thread_results.pop_front();
  }
}

void recordFuserSafety(const FuserSafetyResult& result) {
  if (result.total() > 0) {
    add(k_fuser_safe_graphs);
    add(k_fuser_safe_rewrites, result.total());
  }
}

void recordEmissionBarriers(size_t n) {
  if (n > 0) {
    add(k_emission_barriers, n);
  }
}

std::vector<LoggedResult> takeThreadResults() {
  std::vector<LoggedResult> out(
      std::make_move_iterator(thread_results.begin()),
      std::make_move_iterator(thread_results.end()));
  thread_results.clear();
  return out;
}

} // namespace torch_optspec
