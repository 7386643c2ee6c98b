// (e) A multi-threaded LibTorch server, linked against LibTorch only (it knows
// nothing of torch_optspec), as docs/serving.md's plain LibTorch recipe runs
// it: one module loaded once and warmed up on the main thread, one pattern
// at a time (mask given twice, then mask=None twice), then N threads serving
// requests concurrently, each thread alternating the None-pattern of the
// module's Optional input under c10::InferenceMode, for a bounded time.
//
//   serve_host MODEL.pt [--threads 8] [--seconds 2] [--cold] [--onednn]
//              --expect specialized|unchanged|any
//
// --onednn turns oneDNN Graph on and freezes the served module, as
// docs/serving.md's recipe says (RegisterLlgaFuseGraph::setEnabled(true),
// torch::jit::freeze).
//
// --cold skips the warm-up: the threads then make the first calls
// concurrently. The profiling run can then see both patterns (the profile of
// a concurrent first call records what every thread passed), the input is
// left alone as "saw None and Tensor", and the plan stays unspecialized;
// results are correct either way (--expect any checks them only).
//
// MODEL.pt: forward(x, mask: Optional[Tensor] = None) on 2x3 tensors
// (tests/cpp/save_models.py's masked.pt). The tests run it with
// LD_PRELOAD=libtorch_optspec.so TORCH_OPTSPEC_ENABLE=1 (expect specialized)
// and without the library (expect unchanged).
//
// Reference outputs: the same file loaded a second time and run, before the
// serving threads start, with the graph executor's optimization off on the
// main thread (torch::jit::setGraphExecutorOptimize(false), thread-local):
// the executor then runs the unoptimized graph and calls no custom pass, so
// the reference is the pass-off result. The host checks that the reference
// plan indeed has no torch_optspec guard.
//
// Pass active: after serving, the main thread calls the served module with
// each pattern and looks for torch_optspec::check_inputs in
// torch::jit::lastExecutedOptimizedGraph().
//
// NNC's CPU fusion stays off (the default; it is not thread-safe on CPU).
#include <torch/csrc/jit/codegen/fuser/interface.h>
#include <torch/csrc/jit/codegen/onednn/interface.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char* kGuard = "torch_optspec::check_inputs";

bool hasGuard(torch::jit::Block* block) {
  for (torch::jit::Node* n : block->nodes()) {
    if (n->kind().toQualString() == std::string(kGuard)) {
      return true;
    }
    for (torch::jit::Block* b : n->blocks()) {
      if (hasGuard(b)) {
        return true;
      }
    }
  }
  return false;
}

bool lastPlanHasGuard() {
  auto graph = torch::jit::lastExecutedOptimizedGraph();
  return graph && hasGuard(graph->block());
}

struct Request {
  at::Tensor x;
  c10::IValue mask;  // a Tensor or None
  at::Tensor expected;
};

int usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " MODEL.pt [--threads N] [--seconds S] [--cold] [--onednn]"
               " --expect specialized|unchanged|any\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  std::string model_path, expect;
  int threads = 8;
  double seconds = 2.0;
  bool cold = false;
  bool onednn = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--cold") {
      cold = true;
    } else if (arg == "--onednn") {
      onednn = true;
    } else if (arg == "--expect" && i + 1 < argc) {
      expect = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      model_path = arg;
    }
  }
  if (model_path.empty() || threads < 1 || seconds <= 0 ||
      (expect != "specialized" && expect != "unchanged" && expect != "any")) {
    return usage(argv[0]);
  }

  torch::jit::overrideCanFuseOnCPU(false);  // the default, stated
  torch::manual_seed(0);

  // Requests: 4 inputs, each with a mask and without one.
  std::vector<Request> requests;
  {
    torch::NoGradGuard no_grad;
    torch::jit::Module reference = torch::jit::load(model_path);
    reference.eval();
    torch::jit::setGraphExecutorOptimize(false);  // this thread only
    for (int k = 0; k < 4; ++k) {
      at::Tensor x = torch::randn({2, 3});
      at::Tensor mask = torch::rand({2, 3});
      for (const c10::IValue& m : {c10::IValue(mask), c10::IValue()}) {
        at::Tensor expected = reference.forward({x, m}).toTensor();
        requests.push_back({x, m, expected});
      }
    }
    if (lastPlanHasGuard()) {
      std::cerr << "reference run was specialized: the pass was not off\n";
      return 1;
    }
    torch::jit::setGraphExecutorOptimize(true);
  }

  torch::jit::Module module = torch::jit::load(model_path);
  module.eval();
  if (onednn) {
    torch::jit::RegisterLlgaFuseGraph::setEnabled(true);
    module = torch::jit::freeze(module);
  }
  if (!cold) {
    // Warm-up, one pattern at a time: the profiling run and the optimization
    // of the mask pattern, then those of the fallback for mask=None.
    c10::InferenceMode inference;
    for (const Request& r : {requests[0], requests[0], requests[1], requests[1]}) {
      module.forward({r.x, r.mask});
    }
  }

  std::atomic<long> served{0}, with_mask{0}, mismatches{0}, errors{0};
  std::atomic<double> max_diff{0.0};
  std::mutex log_mutex;
  const auto deadline = std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds));

  auto serve = [&](int t) {
    c10::InferenceMode inference;  // grad mode is per thread
    for (long i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
      // Alternate the pattern per request; threads start out of phase.
      const Request& r = requests[(2 * ((t + i / 2) % 4)) + ((t + i) % 2)];
      try {
        at::Tensor out = module.forward({r.x, r.mask}).toTensor();
        double diff = (out - r.expected).abs().max().item<double>();
        double seen = max_diff.load();
        while (diff > seen && !max_diff.compare_exchange_weak(seen, diff)) {
        }
        if (!at::allclose(out, r.expected, 1e-6, 1e-7)) {
          if (mismatches++ < 5) {
            std::lock_guard<std::mutex> lock(log_mutex);
            std::cerr << "thread " << t << " request " << i << " ("
                      << (r.mask.isNone() ? "mask=None" : "mask given")
                      << "): max |diff| " << diff << "\n";
          }
        }
      } catch (const std::exception& e) {
        if (errors++ < 5) {
          std::lock_guard<std::mutex> lock(log_mutex);
          std::cerr << "thread " << t << " request " << i << ": " << e.what() << "\n";
        }
      }
      served++;
      with_mask += r.mask.isNone() ? 0 : 1;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back(serve, t);
  }
  for (auto& th : pool) {
    th.join();
  }

  // Is the pass active? The served module's plan, as each pattern runs it.
  bool specialized = false;
  {
    c10::InferenceMode inference;
    for (const Request& r : {requests[0], requests[1]}) {
      module.forward({r.x, r.mask});
      specialized |= lastPlanHasGuard();
    }
  }

  std::cout << "served " << served << " requests (" << with_mask << " with a mask, "
            << served - with_mask << " with mask=None) on " << threads << " threads in "
            << seconds << " s" << (cold ? " from a cold start" : " after a warm-up")
            << "; mismatches vs the pass-off reference: "
            << mismatches << "; errors: " << errors << "; max |diff| " << max_diff
            << "\ntorch_optspec specialization (" << kGuard
            << " in the optimized graph): " << (specialized ? "yes" : "no") << "\n";
  const bool patterns_served = with_mask > 0 && served - with_mask > 0;
  const bool ok = mismatches == 0 && errors == 0 && patterns_served &&
      (expect == "any" || specialized == (expect == "specialized"));
  return ok ? 0 : 1;
}
