// A minimal check library for the C++ tests: EXPECT records a failure and
// carries on, so one run reports every broken expectation; main() returns
// check::exit_code().
#pragma once

#include <iostream>
#include <string>

namespace check {

inline int& failures() {
  static int n = 0;
  return n;
}

inline bool record(bool ok, const char* expr, const char* file, int line,
                   const std::string& detail) {
  if (!ok) {
    ++failures();
    std::cerr << file << ":" << line << ": EXPECT failed: " << expr;
    if (!detail.empty()) {
      std::cerr << "\n  " << detail;
    }
    std::cerr << "\n";
  }
  return ok;
}

inline int exit_code() {
  if (failures() == 0) {
    std::cout << "all checks passed\n";
    return 0;
  }
  std::cerr << failures() << " check(s) failed\n";
  return 1;
}

} // namespace check

// EXPECT(cond) or EXPECT(cond, detail): `detail` (a std::string expression)
// is only evaluated when the check fails. Both evaluate to whether it held.
// (Not named CHECK: c10's logging header defines that one.)
#define EXPECT_1(cond) \
  ::check::record(static_cast<bool>(cond), #cond, __FILE__, __LINE__, "")
#define EXPECT_2(cond, detail) \
  ((cond) ? true : ::check::record(false, #cond, __FILE__, __LINE__, (detail)))
#define EXPECT_PICK(_1, _2, NAME, ...) NAME
#define EXPECT(...) EXPECT_PICK(__VA_ARGS__, EXPECT_2, EXPECT_1, )(__VA_ARGS__)
