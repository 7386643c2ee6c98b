// The TORCH_OPTSPEC_* environment variables, read once when the library is
// loaded (register.cpp): the only way a zero-code host (LD_PRELOAD, a
// LibTorch server that never calls this library) can choose settings.
//
//   TORCH_OPTSPEC_ENABLE     flag        enable()
//   TORCH_OPTSPEC_FAST_PATH  auto|inline|outline   set_fast_path()
//   TORCH_OPTSPEC_VALUES     flag        set_value_learning()
//   TORCH_OPTSPEC_SUMMARY    flag        set_summary_at_exit(); unset: on
//                                        when TORCH_OPTSPEC_ENABLE enabled
//                                        the pass
//   TORCH_OPTSPEC_BRIDGE_WORK_LIMIT  integer >= 0   the fuser-safety stage's
//                                        bound on oneDNN's bridge work
//                                        (blocks x nodes; passes/fuser_safety.h)
//
// A flag is c10::utils::check_env's 1 or 0, or true/on/yes, false/off/no in
// any case. A value outside these warns (c10's warning) and is ignored: the
// setting keeps its default.
#include "runtime.h"

#include <c10/util/Exception.h>
#include <c10/util/env.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>
#include <string>

namespace torch_optspec {

namespace {

std::string lower(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return v;
}

std::optional<bool> envFlag(const char* name) {
  auto value = c10::utils::get_env(name);
  if (!value) {
    return std::nullopt;
  }
  const std::string v = lower(*value);
  if (v == "true" || v == "on" || v == "yes") {
    return true;
  }
  if (v == "false" || v == "off" || v == "no") {
    return false;
  }
  // 1 and 0; anything else: c10's "Ignoring invalid value for boolean flag"
  return c10::utils::check_env(name);
}

std::optional<FastPathMode> envFastPath() {
  auto value = c10::utils::get_env("TORCH_OPTSPEC_FAST_PATH");
  if (!value) {
    return std::nullopt;
  }
  const std::string v = lower(*value);
  if (v == "auto") {
    return FastPathMode::Auto;
  }
  if (v == "inline") {
    return FastPathMode::Inline;
  }
  if (v == "outline") {
    return FastPathMode::Outline;
  }
  TORCH_WARN(
      "torch_optspec: ignoring TORCH_OPTSPEC_FAST_PATH=", *value,
      " (expected auto, inline or outline)");
  return std::nullopt;
}

std::optional<size_t> envBridgeWorkLimit() {
  auto value = c10::utils::get_env("TORCH_OPTSPEC_BRIDGE_WORK_LIMIT");
  if (!value) {
    return std::nullopt;
  }
  const std::string& v = *value;
  if (!v.empty() && std::all_of(v.begin(), v.end(), [](unsigned char c) {
        return std::isdigit(c);
      })) {
    try {
      return static_cast<size_t>(std::stoull(v));
    } catch (const std::out_of_range&) {
    }
  }
  TORCH_WARN(
      "torch_optspec: ignoring TORCH_OPTSPEC_BRIDGE_WORK_LIMIT=", v,
      " (expected an integer >= 0)");
  return std::nullopt;
}

} // namespace

bool applyEnvironmentSettings() {
  if (auto limit = envBridgeWorkLimit()) {
    setBridgeWorkLimit(*limit);
  }
  if (auto mode = envFastPath()) {
    set_fast_path(*mode);
  }
  if (auto values = envFlag("TORCH_OPTSPEC_VALUES")) {
    set_value_learning(*values);
  }
  const bool enabled = envFlag("TORCH_OPTSPEC_ENABLE").value_or(false);
  if (enabled) {
    enable();
  }
  set_summary_at_exit(envFlag("TORCH_OPTSPEC_SUMMARY").value_or(enabled));
  return enabled;
}

} // namespace torch_optspec
