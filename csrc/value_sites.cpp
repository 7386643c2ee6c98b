// The value sites at run time: what each site watches, what it saw, what it
// froze. Process-wide and never freed (a plan may run as long as the
// process); the stage (passes/value_site.cpp) creates sites and reads what
// they fixed through value_site.h, the operator check_values (registered in
// operators.cpp) watches and checks calls, and a site that freezes counts
// its varying inputs (stats.cpp).
#include "runtime.h"

#include <ATen/core/grad_mode.h>

#include <atomic>
#include <deque>
#include <mutex>

namespace torch_optspec {

using torch::jit::Stack;

namespace {

const c10::Symbol kSite = c10::Symbol::attr("site");

// What is compared between calls: the value itself, or only its None-ness.
c10::IValue keyOf(const c10::IValue& v, bool none_only) {
  return none_only ? c10::IValue(v.isNone()) : v;
}

bool sameKey(const c10::IValue& a, const c10::IValue& b) {
  if (a.isNone() || b.isNone()) {
    return a.isNone() && b.isNone();
  }
  if (a.isBool() && b.isBool()) {
    return a.toBool() == b.toBool();
  }
  if (a.isInt() && b.isInt()) {
    return a.toInt() == b.toInt();
  }
  return false;
}

// One value site: its candidates, what it saw, what it fixed.
struct ValueSite {
  enum State : int { Learning = 0, Frozen = 1, Disabled = 2 };

  std::vector<size_t> inputs;  // graph input index per candidate
  std::vector<bool> none_only; // per candidate
  int64_t learn_calls = 3;

  std::mutex mutex;            // while learning
  int64_t observed = 0;
  std::vector<c10::IValue> first;
  std::vector<bool> varying;
  std::atomic<int> state{Learning};
  // Frozen: the candidates fixed and their keys (immutable once frozen).
  std::vector<size_t> fixed;
  std::vector<c10::IValue> fixed_keys;

  void observe(at::ArrayRef<c10::IValue> values) {
    std::lock_guard<std::mutex> lock(mutex);
    if (state.load() != Learning) {
      return;
    }
    if (observed == 0) {
      for (size_t i = 0; i < values.size(); ++i) {
        first.push_back(keyOf(values[i], none_only[i]));
      }
      varying.assign(values.size(), false);
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        if (!sameKey(first[i], keyOf(values[i], none_only[i]))) {
          varying[i] = true;
        }
      }
    }
    if (++observed < learn_calls) {
      return;
    }
    size_t n_varying = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      if (!varying[i]) {
        fixed.push_back(i);
        fixed_keys.push_back(first[i]);
      } else {
        ++n_varying;
      }
    }
    recordVarying(n_varying);
    state.store(fixed.empty() ? Disabled : Frozen, std::memory_order_release);
  }

  bool matches(at::ArrayRef<c10::IValue> values) const {
    for (size_t k = 0; k < fixed.size(); ++k) {
      const size_t i = fixed[k];
      if (!sameKey(fixed_keys[k], keyOf(values[i], none_only[i]))) {
        return false;
      }
    }
    return true;
  }
};

// Sites live for the process (a plan may run as long as it does).
std::mutex sites_mutex;
std::deque<ValueSite>& sites() {
  static auto* s = new std::deque<ValueSite>(); // stable addresses, never destroyed
  return *s;
}

ValueSite* siteById(int64_t id) {
  std::lock_guard<std::mutex> lock(sites_mutex);
  if (id < 0 || static_cast<size_t>(id) >= sites().size()) {
    return nullptr;
  }
  return &sites()[id];
}

} // namespace

int64_t newValueSite(const std::vector<ValueCandidate>& candidates, int64_t learn_calls) {
  std::lock_guard<std::mutex> lock(sites_mutex);
  sites().emplace_back();
  ValueSite& site = sites().back();
  for (const auto& c : candidates) {
    site.inputs.push_back(c.input);
    site.none_only.push_back(c.none_only);
  }
  site.learn_calls = learn_calls;
  return static_cast<int64_t>(sites().size()) - 1;
}

std::vector<FrozenInput> frozenInputs(int64_t id) {
  std::vector<FrozenInput> out;
  ValueSite* site = siteById(id);
  if (!site || site->state.load() != ValueSite::Frozen) {
    return out;
  }
  for (size_t k = 0; k < site->fixed.size(); ++k) {
    const size_t c = site->fixed[k];
    out.push_back({site->inputs[c], site->none_only[c], site->fixed_keys[k]});
  }
  return out;
}

torch::jit::Operation createCheckValuesOperation(const Node* node) {
  const int64_t id = node->i(kSite);
  ValueSite* site = siteById(id);
  TORCH_CHECK(site, "torch_optspec::check_values: unknown site ", id);
  const size_t n = node->inputs().size();
  TORCH_CHECK(
      n == site->inputs.size(),
      "torch_optspec::check_values: site ", id, " watches ", site->inputs.size(),
      " inputs, the node has ", n);
  return [site, n](Stack& stack) {
    auto values = torch::jit::last(stack, n);
    bool ok = false;
    if (!at::GradMode::is_enabled()) {
      switch (site->state.load(std::memory_order_acquire)) {
        case ValueSite::Frozen:
          ok = site->matches(values);
          break;
        case ValueSite::Learning:
          site->observe(values);
          break;
        default:
          break;
      }
    }
    torch::jit::drop(stack, n);
    torch::jit::push(stack, ok);
  };
}


ValueSiteInfo valueSiteInfo(int64_t id) {
  ValueSiteInfo info;
  ValueSite* site = siteById(id);
  if (!site) {
    return info;
  }
  std::lock_guard<std::mutex> lock(site->mutex);
  info.exists = true;
  const int state = site->state.load();
  info.state = state == ValueSite::Learning ? "learning"
      : state == ValueSite::Frozen          ? "frozen"
                                            : "disabled";
  info.observed = site->observed;
  info.inputs = site->inputs;
  info.varying = site->varying;
  return info;
}

} // namespace torch_optspec
