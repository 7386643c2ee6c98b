// (f) A LibTorch host linked against torch only, never against torch_optspec,
// loads the models test_aot specialized ahead of time and runs them with NNC
// on CPU: no torch_optspec in the process (its library is not mapped, no
// torch_optspec node in any graph), the specialized pattern fuses the mask's
// multiplication, the guarded model gives the reference result on the other
// pattern, the strict one raises naming the argument.
//
//   aot_host MODELS_DIR AOT_DIR
#include "check.h"
#include "nnc_cpu.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;

bool libraryMapped() {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find("libtorch_optspec") != std::string::npos;
}

void collect(Block* block, c10::Symbol kind, std::vector<Node*>& out, size_t& foreign) {
  for (Node* n : block->nodes()) {
    if (n->kind() == kind) {
      out.push_back(n);
    }
    foreign += std::string(n->kind().ns().toUnqualString()) == "torch_optspec" ? 1 : 0;
    for (Block* b : n->blocks()) {
      collect(b, kind, out, foreign);
    }
  }
}

struct Run {
  at::Tensor output;
  std::shared_ptr<Graph> graph;
};

Run run(torch::jit::Module& m, const at::Tensor& x, const c10::IValue& mask, int calls = 3) {
  Run r;
  for (int i = 0; i < calls; ++i) {
    r.output = m.forward({x, mask}).toTensor();
  }
  r.graph = torch::jit::lastExecutedOptimizedGraph();
  return r;
}

bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && at::allclose(a, b, 1e-5, 1e-6);
}

// The specialized pattern: one TensorExprGroup, holding the multiplication
// by the mask and the rest; nothing of torch_optspec.
void expectFused(const Run& r, const std::string& name) {
  std::vector<Node*> groups;
  size_t foreign = 0;
  collect(r.graph->block(), c10::prim::TensorExprGroup, groups, foreign);
  EXPECT(foreign == 0, name + ": torch_optspec nodes in\n" + r.graph->toString());
  if (EXPECT(groups.size() == 1, name + ": expected one TensorExprGroup in\n" + r.graph->toString())) {
    std::vector<Node*> muls, tanhs;
    size_t ignored = 0;
    collect(groups[0]->g(c10::attr::Subgraph)->block(), c10::aten::mul, muls, ignored);
    collect(groups[0]->g(c10::attr::Subgraph)->block(), c10::aten::tanh, tanhs, ignored);
    EXPECT(muls.size() == 2 && tanhs.size() == 1,
           name + ": x * 2 and y * mask fused with tanh\n" + r.graph->toString());
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " MODELS_DIR AOT_DIR\n";
    return 2;
  }
  const std::string models = argv[1], aot = argv[2];
  EXPECT(!libraryMapped(), "libtorch_optspec is mapped into the host");
  enableNncOnCpu();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({2, 3});
  const at::Tensor mask = torch::rand({2, 3});

  torch::jit::Module reference = torch::jit::load(models + "/masked.pt");
  const at::Tensor ref_mask = run(reference, x, mask).output;
  const at::Tensor ref_none = run(reference, x, c10::IValue()).output;

  {
    torch::jit::Module m = torch::jit::load(aot + "/masked_guarded_mask.pt");
    Run r = run(m, x, mask);
    expectFused(r, "guarded");
    EXPECT(same(r.output, ref_mask));
    EXPECT(same(run(m, x, c10::IValue()).output, ref_none), "guarded, other pattern");
  }
  {
    torch::jit::Module m = torch::jit::load(aot + "/masked_strict_mask.pt");
    Run r = run(m, x, mask);
    expectFused(r, "strict");
    EXPECT(same(r.output, ref_mask));
    bool raised = false;
    try {
      run(m, x, c10::IValue(), 1);
    } catch (const std::exception& e) { // std::runtime_error up to torch 2.14, c10::Error from 2.15
      raised = true;
      EXPECT(std::string(e.what()).find("argument 'mask' was specialized for a Tensor") !=
                 std::string::npos,
             e.what());
    }
    EXPECT(raised, "strict: a call without the mask should raise");
  }
  {
    torch::jit::Module m = torch::jit::load(aot + "/masked_guarded_none.pt");
    EXPECT(same(run(m, x, c10::IValue()).output, ref_none), "guarded for None");
    EXPECT(same(run(m, x, mask).output, ref_mask), "guarded for None, other pattern");
  }
  {
    torch::jit::Module m = torch::jit::load(aot + "/function_strict_mask.pt");
    const at::Tensor v = torch::randn({4}), w = torch::rand({4});
    EXPECT(same(m.forward({v, w}).toTensor(), torch::relu(v * w)), "the specialized function");
  }
  EXPECT(!libraryMapped(), "libtorch_optspec got mapped into the host");
  return check::exit_code();
}
