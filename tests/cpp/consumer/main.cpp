// (d) Uses the installed package: the public header, the library, and (through
// its CMake target) LibTorch. Run by run_consumer.cmake as
//   consumer enabled|disabled
// where the argument is the state expected at startup: "enabled" when
// TORCH_OPTSPEC_ENABLE=1 was set, since linking the library loads it.
#include <torch/script.h>
#include <torch_optspec/torch_optspec.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " enabled|disabled\n";
    return 2;
  }
  const bool expect_enabled = std::string(argv[1]) == "enabled";
  const bool at_start = torch_optspec::is_enabled();
  std::cout << "torch_optspec built with torch "
            << torch_optspec::built_with_torch() << "; enabled at start: "
            << (at_start ? "yes" : "no") << "\n";

  bool ok = at_start == expect_enabled;
  {
    torch_optspec::EnabledGuard guard(!at_start);
    ok &= torch_optspec::is_enabled() == !at_start;
  }
  ok &= torch_optspec::is_enabled() == at_start;
  ok &= torch_optspec::stats().graphs_specialized == 0;
  ok &= torch::ones({2}).sum().item<float>() == 2.0f; // LibTorch is linked too
  std::cout << (ok ? "consumer ok" : "consumer FAILED") << "\n";
  return ok ? 0 : 1;
}
