// torch_optspec from C++: load a TorchScript module whose forward takes
// (x, mask: Optional[Tensor]), run it with and without the mask, and print
// what was specialized and which NNC fusion groups formed.
//
//   python examples/cpp/save_model.py masked_mlp.pt
//   build-cpp/examples/cpp/optspec_example masked_mlp.pt [--graphs]
//
// The same module is first run with the pass off, for comparison.
//
// Exit status: 0 outputs equal with and without the pass, 1 they differ or
// running the model failed, 2 usage error or a file that is not a usable
// TorchScript model (missing, unreadable, corrupt, or a forward() without
// the (x, mask: Optional[Tensor]) arguments). Errors are one line on stderr.
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/codegen/fuser/interface.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/tensorexpr/kernel.h>
#include <torch/script.h>
#include <torch_optspec/torch_optspec.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;

namespace {

bool print_graphs = false;

// NNC on CPU without LLVM (interpreted kernels: keep shapes small).
void enableNncOnCpu() {
  torch::jit::overrideCanFuseOnCPU(true);
  torch::jit::setTensorExprFuserEnabled(true);
  torch::jit::setTexprReductionsEnabled(true);
  torch::jit::tensorexpr::getTEMustUseLLVMOnCPU() = false;
}

void collect(Block* block, c10::Symbol kind, std::vector<Node*>& out) {
  for (Node* n : block->nodes()) {
    if (n->kind() == kind) {
      out.push_back(n);
    }
    for (Block* b : n->blocks()) {
      collect(b, kind, out);
    }
  }
}

// "mask=Tensor" for each input a torch_optspec guard checks.
std::string describeGuard(Node* guard) {
  std::vector<int64_t> pattern = guard->is(c10::Symbol::attr("pattern"));
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    out += (i ? ", " : "") + guard->input(i)->debugNameBase() + "=" +
        (pattern[i] ? "None" : "Tensor");
  }
  return out;
}

// Prints the specializations and fusion groups of one optimized graph.
void summarize(const std::shared_ptr<Graph>& graph, const std::string& indent) {
  const auto guard_kind =
      c10::Symbol::fromQualString(torch_optspec::guard_op_name());
  std::vector<Node*> guards, groups, none_tests;
  collect(graph->block(), guard_kind, guards);
  collect(graph->block(), c10::prim::TensorExprGroup, groups);
  collect(graph->block(), c10::aten::__is__, none_tests);
  collect(graph->block(), c10::aten::__isnot__, none_tests);

  for (Node* g : guards) {
    std::cout << indent << "specialized: " << describeGuard(g) << "\n";
  }
  if (guards.empty()) {
    std::cout << indent << "specialized: nothing\n";
  }
  std::cout << indent << "`is None` tests left: " << none_tests.size() << "\n";
  std::cout << indent << "fusion groups: " << groups.size() << "\n";
  for (Node* group : groups) {
    std::cout << indent << "  prim::TensorExprGroup:";
    for (Node* op : group->g(c10::attr::Subgraph)->nodes()) {
      if (op->kind() != c10::prim::Constant) {
        std::cout << " " << op->kind().toQualString();
      }
    }
    std::cout << "\n";
  }
  if (print_graphs) {
    std::cout << *graph << "\n";
  }
}

// One line from an exception's message: c10::Error's what() carries a C++
// backtrace, an error raised in the TorchScript interpreter ends with the
// original error after a TorchScript traceback, miniz's errors with advice.
std::string oneLine(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  const std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t") != std::string::npos) {
      lines.push_back(line.substr(line.find_first_not_of(" \t")));
    }
  }
  if (lines.empty()) {
    return "unknown error";
  }
  std::string line = text.find("TorchScript interpreter") != std::string::npos ? lines.back()
                                                                                : lines.front();
  auto advice = line.find(". This is an internal miniz error");
  return advice == std::string::npos ? line : line.substr(0, advice);
}

// Thrown for a file that is not a usable model: exit status 2.
struct BadModel : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// torch::jit::load, with a one-line BadModel for a missing, unreadable or
// corrupt file and for a forward() that does not take (x, mask).
torch::jit::Module loadModel(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw BadModel(path + ": no such file");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw BadModel(path + " is a directory, not a TorchScript file");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path);
  } catch (const std::exception& e) {
    throw BadModel("cannot load " + path + " as TorchScript (torch.jit.save's format): " +
                   oneLine(e));
  }
  auto method = module.find_method("forward");
  if (!method) {
    throw BadModel(path + ": the module has no forward()");
  }
  const auto& args = method->function().getSchema().arguments();
  const bool ok = args.size() >= 3 && args[2].type()->kind() == c10::TypeKind::OptionalType &&
      args[2].type()->castRaw<c10::OptionalType>()->getElementType()->kind() ==
          c10::TypeKind::TensorType;
  if (!ok) {
    std::ostringstream schema;
    schema << method->function().getSchema();
    throw BadModel(path + ": forward() must take (x, mask: Optional[Tensor]); it is " +
                   schema.str());
  }
  return module;
}

at::Tensor runThreeTimes(torch::jit::Module& module, const at::Tensor& x,
                         const c10::IValue& mask) {
  // The first call is profiled, the second optimizes, the third reuses.
  at::Tensor out;
  for (int i = 0; i < 3; ++i) {
    out = module.forward({x, mask}).toTensor();
  }
  return out;
}

} // namespace

int run(const std::string& path);

int main(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--graphs") {
      print_graphs = true;
    } else {
      path = arg;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: " << argv[0] << " MODEL.pt [--graphs]\n"
              << "MODEL.pt: forward(x, mask: Optional[Tensor]), e.g. from "
                 "examples/cpp/save_model.py\n";
    return 2;
  }
  try {
    return run(path);
  } catch (const BadModel& e) {
    std::cerr << "optspec_example: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "optspec_example: running " << path << " failed: " << oneLine(e) << "\n";
    return 1;
  }
}

int run(const std::string& path) {
  enableNncOnCpu();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({2, 8});
  const at::Tensor mask = (torch::rand({2, 16}) > 0.3).to(torch::kFloat);
  std::cout << "torch_optspec " << "(built with torch "
            << torch_optspec::built_with_torch() << "), model " << path << "\n";

  // 1. The pass off.
  at::Tensor ref_mask, ref_none;
  {
    torch_optspec::EnabledGuard off(false);
    torch::jit::Module module = loadModel(path);
    ref_mask = runThreeTimes(module, x, mask);
    std::cout << "\n[pass off] called with a mask:\n";
    summarize(torch::jit::lastExecutedOptimizedGraph(), "  ");
    ref_none = runThreeTimes(module, x, c10::IValue());
  }

  // 2. The pass on. The first calls pass a mask: the graph is specialized
  // for a present mask. Calls without one fail the guard and go to the
  // fallback, which is profiled and specialized for mask=None in its turn.
  torch_optspec::enable();
  torch::jit::Module module = loadModel(path);
  at::Tensor out_mask = runThreeTimes(module, x, mask);
  auto graph = torch::jit::lastExecutedOptimizedGraph();
  std::cout << "\n[pass on] called with a mask:\n";
  summarize(graph, "  ");

  at::Tensor out_none = runThreeTimes(module, x, c10::IValue());
  std::cout << "\n[pass on] then called without a mask (the fallback):\n";
  // The optimized graphs of the functions the plan calls (its fallback for
  // other None-patterns), for those that ran often enough to be optimized.
  for (const auto& fallback : torch_optspec::fallback_plans(graph)) {
    summarize(fallback, "  ");
  }

  const auto s = torch_optspec::stats();
  std::cout << "\nstats: graphs_specialized=" << s.graphs_specialized
            << " inputs_tensor=" << s.inputs_tensor
            << " inputs_none=" << s.inputs_none
            << " graphs_rejected=" << s.graphs_rejected << "\n";
  const bool same = at::allclose(out_mask, ref_mask, 1e-5, 1e-6) &&
      at::allclose(out_none, ref_none, 1e-5, 1e-6);
  std::cout << "outputs equal to the pass-off run: " << (same ? "yes" : "NO")
            << "\n";
  return same ? 0 : 1;
}
