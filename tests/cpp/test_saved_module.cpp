// (b) A module saved by Python (save_models.py), loaded and run from C++ with
// libtorch_optspec and NNC on CPU: the optimized graph has the guard, its fast
// path has no test on the optional input and contains a TensorExprGroup, and
// the outputs equal those of a run with the pass off.
//
//   test_saved_module MODELS_DIR
#include "check.h"
#include "graph_queries.h"
#include "nnc_cpu.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch_optspec/torch_optspec.h>

using namespace graph_queries;

namespace {

// Enough calls for the profiling executor to profile, then optimize and run
// the optimized plan.
constexpr int kRuns = 3;

struct Run {
  at::Tensor output;
  std::shared_ptr<Graph> graph; // lastExecutedOptimizedGraph() after the runs
};

Run runRepeatedly(torch::jit::Module& module, const at::Tensor& x,
                  const c10::optional<at::Tensor>& mask) {
  Run run;
  for (int i = 0; i < kRuns; ++i) {
    c10::IValue m = mask ? c10::IValue(*mask) : c10::IValue();
    run.output = module.forward({x, m}).toTensor();
  }
  run.graph = torch::jit::lastExecutedOptimizedGraph();
  return run;
}

bool sameValues(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && at::allclose(a, b, 1e-5, 1e-6);
}

void testPublicApi() {
  torch_optspec::disable();
  EXPECT(!torch_optspec::is_enabled());
  {
    torch_optspec::EnabledGuard on;
    EXPECT(torch_optspec::is_enabled());
    {
      torch_optspec::EnabledGuard off(false);
      EXPECT(!torch_optspec::is_enabled());
    }
    EXPECT(torch_optspec::is_enabled());
  }
  EXPECT(!torch_optspec::is_enabled());
  torch_optspec::enable();
  EXPECT(torch_optspec::is_enabled());
  torch_optspec::disable();
  EXPECT(!torch_optspec::is_enabled());
  EXPECT(torch_optspec::built_with_torch().rfind("2.", 0) == 0);
  torch_optspec::reset_stats();
  EXPECT(torch_optspec::stats().graphs_seen == 0);
}

void testSavedModule(const std::string& path) {
  enableNncOnCpu();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({2, 3});
  const at::Tensor mask = torch::rand({2, 3});

  // Reference: the pass off, on a module of its own (plans are per module).
  torch::jit::Module reference = torch::jit::load(path);
  Run ref_mask, ref_none;
  {
    torch_optspec::EnabledGuard off(false);
    ref_mask = runRepeatedly(reference, x, mask);
    ref_none = runRepeatedly(reference, x, c10::nullopt);
  }
  EXPECT(topLevelGuard(ref_mask.graph) == nullptr, str(ref_mask.graph));

  torch::jit::Module module = torch::jit::load(path);
  torch_optspec::reset_stats();
  torch_optspec::EnabledGuard on;

  // Profiled with a mask: specialized to a present mask.
  Run with_mask = runRepeatedly(module, x, mask);
  const auto& graph = with_mask.graph;
  EXPECT(sameValues(with_mask.output, ref_mask.output),
         "with the pass: " + c10::str(with_mask.output) +
             "\nwithout: " + c10::str(ref_mask.output));
  Value* mask_input = graph->inputs().at(2); // (self, x, mask)
  Node* guard = topLevelGuard(graph);
  if (EXPECT(guard != nullptr, "no guard in\n" + str(graph))) {
    EXPECT(guard->inputs().vec() == std::vector<Value*>{mask_input}, str(graph));
    EXPECT(guard->is(c10::Symbol::attr("pattern")) == std::vector<int64_t>{0},
           str(graph));
    Node* versioning = versioningIf(guard);
    if (EXPECT(versioning != nullptr, str(graph))) {
      Block* fast = versioning->blocks().at(0);
      EXPECT(noneTestsOn(fast, mask_input).empty(), str(graph));
      // The only branches left are the fuser's own type guards.
      for (Node* n : find(fast, c10::prim::If)) {
        EXPECT(n->input()->node()->kind() == c10::prim::TypeCheck,
               "a prim::If in the fast path is not a fusion guard\n" + str(graph));
      }
      auto groups = find(fast, c10::prim::TensorExprGroup);
      if (EXPECT(!groups.empty(), "no TensorExprGroup\n" + str(graph))) {
        // The multiplication by the mask is fused with the rest.
        auto subgraph = groups[0]->g(c10::attr::Subgraph);
        EXPECT(!find(subgraph->block(), c10::aten::mul).empty(), str(graph));
        EXPECT(!find(subgraph->block(), c10::aten::tanh).empty(), str(graph));
      }
    }
  }

  // A call without the mask fails the guard and takes the fallback, which
  // gets a specialization of its own for None: same outputs as without the
  // pass, every time.
  Run without_mask = runRepeatedly(module, x, c10::nullopt);
  EXPECT(sameValues(without_mask.output, ref_none.output),
         "with the pass: " + c10::str(without_mask.output) +
             "\nwithout: " + c10::str(ref_none.output));
  EXPECT(sameValues(module.forward({x, mask}).toTensor(), ref_mask.output));

  auto s = torch_optspec::stats();
  EXPECT(s.graphs_specialized == 2, "graphs_specialized " + std::to_string(s.graphs_specialized));
  EXPECT(s.inputs_tensor == 1, "inputs_tensor " + std::to_string(s.inputs_tensor));
  EXPECT(s.inputs_none == 1, "inputs_none " + std::to_string(s.inputs_none));
  EXPECT(s.graphs_rejected == 0);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " MODELS_DIR\n";
    return 2;
  }
  testPublicApi();
  testSavedModule(std::string(argv[1]) + "/masked.pt");
  return check::exit_code();
}
