// Per-call cost of torch_optspec's checks against the hand twin, from C++ (no
// Python call overhead, so differences of tens of nanoseconds resolve).
//
//   guard_cost <dir with stock.pt optspec.pt twin.pt> <tensors8|mixed8> [rounds] [calls]
//
// The three files hold the same function: stock and optspec with the checks
// (optspec compiled here with the pass on), twin without. The library is
// linked, so the pass is registered; it is enabled for optspec only. Prints
// per-call medians and the median and quartiles of the paired per-round
// differences optspec - twin and stock - twin, in ns.
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch_optspec/torch_optspec.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

double perCallNs(torch::jit::Module& m, const std::vector<c10::IValue>& args, int calls) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) {
    m.forward(args);
  }
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / calls;
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: guard_cost <dir> <tensors8|mixed8> [rounds] [calls]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string which = argv[2];
  const int rounds = argc > 3 ? std::stoi(argv[3]) : 41;
  const int calls = argc > 4 ? std::stoi(argv[4]) : 20000;
  at::set_num_threads(1);
  torch::NoGradGuard no_grad;
  const char* names[] = {"stock", "optspec", "twin"};
  std::vector<torch::jit::Module> modules;
  for (const char* n : names) {
    modules.push_back(torch::jit::load(dir + "/" + n + ".pt"));
  }
  // The example call (bench/guard_cost.py writes the matching modules).
  std::vector<c10::IValue> args{torch::zeros({1})};
  if (which == "tensors8") {
    args.insert(args.end(), 8, c10::IValue());
  } else {
    args.insert(args.end(), 4, c10::IValue());
    args.insert(args.end(), {false, false, c10::IValue(), c10::IValue()});
  }
  for (size_t k = 0; k < modules.size(); ++k) {
    torch_optspec::EnabledGuard on(k == 1);
    for (int i = 0; i < 12; ++i) { // profiling, plan, value learning, learned plan
      modules[k].forward(args);
    }
  }
  std::vector<std::vector<double>> samples(3);
  for (int r = 0; r < rounds; ++r) {
    for (int j = 0; j < 3; ++j) {
      const int k = (r + j) % 3;
      samples[k].push_back(perCallNs(modules[k], args, calls));
    }
  }
  std::vector<double> opt_twin, stock_twin;
  for (int r = 0; r < rounds; ++r) {
    opt_twin.push_back(samples[1][r] - samples[2][r]);
    stock_twin.push_back(samples[0][r] - samples[2][r]);
  }
  std::printf("per call (ns): stock %.0f optspec %.0f twin %.0f\n",
              quantile(samples[0], 0.5), quantile(samples[1], 0.5), quantile(samples[2], 0.5));
  std::printf("optspec - twin: median %.0f ns, IQR %.0f..%.0f ns\n", quantile(opt_twin, 0.5),
              quantile(opt_twin, 0.25), quantile(opt_twin, 0.75));
  std::printf("stock - twin:   median %.0f ns, IQR %.0f..%.0f ns\n", quantile(stock_twin, 0.5),
              quantile(stock_twin, 0.25), quantile(stock_twin, 0.75));
  return 0;
}
