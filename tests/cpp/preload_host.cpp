// (c) A LibTorch host that knows nothing of torch_optspec: it is linked
// against LibTorch only. It loads a TorchScript module, runs it a few times
// with a mask under NoGradGuard and reports whether the optimized graph has a
// torch_optspec guard.
//
//   preload_host MODEL.pt --expect specialized|unchanged [--dlopen LIB]
//
// The tests run it with LD_PRELOAD=libtorch_optspec.so, with and without
// TORCH_OPTSPEC_ENABLE=1, and without the library. --dlopen loads a library
// with dlopen() before the model runs, as a plugin-loading host would.
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <dlfcn.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  std::string model, expect, dlopen_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--expect" && i + 1 < argc) {
      expect = argv[++i];
    } else if (arg == "--dlopen" && i + 1 < argc) {
      dlopen_path = argv[++i];
    } else {
      model = arg;
    }
  }
  if (model.empty() || (expect != "specialized" && expect != "unchanged")) {
    std::cerr << "usage: " << argv[0]
              << " MODEL.pt --expect specialized|unchanged [--dlopen LIB]\n";
    return 2;
  }
  if (!dlopen_path.empty() && !dlopen(dlopen_path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
    std::cerr << "dlopen failed: " << dlerror() << "\n";
    return 2;
  }

  torch::NoGradGuard no_grad;
  torch::jit::Module module = torch::jit::load(model);
  at::Tensor x = torch::randn({2, 3});
  at::Tensor mask = torch::rand({2, 3});
  for (int i = 0; i < 3; ++i) {
    module.forward({x, mask});
  }
  auto graph = torch::jit::lastExecutedOptimizedGraph();
  std::cout << *graph;

  bool specialized = false;
  for (torch::jit::Node* n : graph->nodes()) {
    specialized |= n->kind().toQualString() ==
        std::string("torch_optspec::check_inputs");
  }
  std::cout << "torch_optspec specialization: " << (specialized ? "yes" : "no")
            << "\n";
  return specialized == (expect == "specialized") ? 0 : 1;
}
