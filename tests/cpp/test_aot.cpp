// (f) torch_optspec::specialize from C++: masked.pt (save_models.py)
// specialized ahead of time -- guarded for a mask, strict for a mask, guarded
// for None -- and a scripted function; checked here, then saved into OUT_DIR
// for aot_host, which loads them with LibTorch only.
//
//   test_aot MODELS_DIR OUT_DIR
#include "check.h"
#include "graph_queries.h"

#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>
#include <torch_optspec/torch_optspec.h>

#include <filesystem>

using namespace graph_queries;

namespace {

// Nodes of the torch_optspec namespace anywhere in `block`.
size_t foreignNodes(Block* block) {
  size_t n = 0;
  for (Node* node : block->nodes()) {
    n += std::string(node->kind().ns().toUnqualString()) == "torch_optspec" ? 1 : 0;
    for (Block* b : node->blocks()) {
      n += foreignNodes(b);
    }
  }
  return n;
}

std::shared_ptr<Graph> forwardGraph(const torch::jit::Module& m) {
  return torch::jit::toGraphFunction(m.get_method("forward").function()).graph();
}

at::Tensor call(torch::jit::Module& m, const at::Tensor& x, const c10::IValue& mask) {
  return m.forward({x, mask}).toTensor();
}

bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && at::allclose(a, b, 1e-5, 1e-6);
}

void testModule(const std::string& models, const std::string& out) {
  torch::NoGradGuard no_grad;
  torch::jit::Module original = torch::jit::load(models + "/masked.pt");
  const std::string before = forwardGraph(original)->toString();
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({2, 3});
  const at::Tensor mask = torch::rand({2, 3});
  const at::Tensor ref_mask = call(original, x, mask);
  const at::Tensor ref_none = call(original, x, c10::IValue());

  torch_optspec::SpecializeReport report;
  torch::jit::Module guarded = torch_optspec::specialize(original, {x, mask}, {}, &report);
  EXPECT(forwardGraph(original)->toString() == before, "the input module was modified");
  EXPECT(report.specialized && !report.strict && report.method == "forward", report.describe());
  if (EXPECT(report.arguments.size() == 3, report.describe())) {
    const auto& a = report.arguments[2];
    EXPECT(a.name == "mask" && a.decision == "tensor" && a.check == "mask is not None",
           report.describe());
    EXPECT(report.arguments[1].decision == "skip" && report.arguments[1].reason == "-");
  }
  EXPECT(report.residual_checks == 0, report.describe());
  auto g = forwardGraph(guarded);
  EXPECT(foreignNodes(g->block()) == 0, str(g));
  EXPECT(!find(g->block(), c10::aten::__isnot__).empty(), str(g));
  EXPECT(same(call(guarded, x, mask), ref_mask));
  EXPECT(same(call(guarded, x, c10::IValue()), ref_none)); // the original body
  guarded.save(out + "/masked_guarded_mask.pt");

  torch_optspec::SpecializeOptions strict_options;
  strict_options.strict = true;
  torch::jit::Module strict = torch_optspec::specialize(original, {x, mask}, strict_options, &report);
  EXPECT(report.strict && report.describe().find("strict") != std::string::npos, report.describe());
  auto sg = forwardGraph(strict);
  size_t top_ifs = 0;
  for (Node* n : sg->nodes()) {
    top_ifs += n->kind() == c10::prim::If ? 1 : 0;
  }
  EXPECT(top_ifs == 1, "one strict check, no branch of the model\n" + str(sg));
  EXPECT(same(call(strict, x, mask), ref_mask));
  bool raised = false;
  try {
    call(strict, x, c10::IValue());
  } catch (const torch_optspec::InterpreterError& e) { // the exact type of this torch
    raised = std::string(e.what()).find(
                 "argument 'mask' was specialized for a Tensor, but this call passed None") !=
        std::string::npos;
    EXPECT(raised, e.what());
  }
  EXPECT(raised, "strict: a call without the mask should raise");
  strict.save(out + "/masked_strict_mask.pt");

  // Defaults fill the arguments left out: mask=None.
  torch::jit::Module none = torch_optspec::specialize(original, {x}, {}, &report);
  EXPECT(report.arguments.size() == 3 && report.arguments[2].decision == "none", report.describe());
  EXPECT(same(call(none, x, c10::IValue()), ref_none));
  EXPECT(same(call(none, x, mask), ref_mask));
  none.save(out + "/masked_guarded_none.pt");

  bool rejected = false;
  try {
    torch_optspec::specialize(original, {x, c10::IValue(int64_t(3))});
  } catch (const c10::Error&) {
    rejected = true;
  }
  EXPECT(rejected, "an example that does not fit the schema should throw");
}

void testFunction(const std::string& out) {
  auto cu = std::make_shared<torch::jit::CompilationUnit>(R"JIT(
def masked_relu(x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    if mask is not None:
        x = x * mask
    return torch.relu(x)
)JIT");
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({4});
  const at::Tensor mask = torch::rand({4});
  torch_optspec::SpecializeOptions options;
  options.strict = true;
  torch_optspec::SpecializeReport report;
  torch::jit::Module m =
      torch_optspec::specialize(*cu->get_functions().at(0), {x, mask}, options, &report);
  EXPECT(report.specialized, report.describe());
  EXPECT(same(call(m, x, mask), torch::relu(x * mask)));
  EXPECT(foreignNodes(forwardGraph(m)->block()) == 0, str(forwardGraph(m)));
  m.save(out + "/function_strict_mask.pt");
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " MODELS_DIR OUT_DIR\n";
    return 2;
  }
  std::filesystem::create_directories(argv[2]);
  testModule(argv[1], argv[2]);
  testFunction(argv[2]);
  return check::exit_code();
}
