// Runs every IR-file test in tests/ir/<stage>/*.ir from C++ (format:
// tests/ir/README.md): parse the graph, run the stage named on the RUN line
// through torch_optspec::runStage, compare the result line, FileCheck the
// graph. tests/test_ir_files.py runs the same files from Python.
//
//   test_ir_files <tests/ir directory>
#include "runtime.h"

#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/testing/file_check.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace {

std::optional<std::string> directive(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  const std::string prefix = "# " + name + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      std::string rest = line.substr(prefix.size());
      rest.erase(0, rest.find_first_not_of(' '));
      rest.erase(rest.find_last_not_of(" \r") + 1);
      return rest;
    }
  }
  return std::nullopt;
}

// Empty when the file passes, else what failed.
std::string runFile(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream buf;
  buf << f.rdbuf();
  const std::string text = buf.str();
  auto run = directive(text, "RUN");
  if (!run) {
    return "no '# RUN:' line";
  }
  std::istringstream words_in(*run);
  std::string stage;
  words_in >> stage;
  std::vector<std::string> words;
  for (std::string w; words_in >> w;) {
    words.push_back(w);
  }
  auto graph = std::make_shared<torch::jit::Graph>();
  torch::jit::parseIR(text.substr(text.find("graph(")), graph.get(),
                      /*parse_tensor_constants=*/true);
  const std::string line = torch_optspec::runStage(stage, graph, words);
  if (auto expected = directive(text, "RESULT"); expected && line != *expected) {
    return "stage result '" + line + "', expected '" + *expected + "'";
  }
  if (auto prefix = directive(text, "RESULT-PREFIX"); prefix && line.rfind(*prefix, 0) != 0) {
    return "stage result '" + line + "', expected a prefix '" + *prefix + "'";
  }
  if (text.find("# CHECK") != std::string::npos) {
    torch::jit::testing::FileCheck().run(text, *graph);
  }
  return "";
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: test_ir_files <tests/ir directory>\n";
    return 2;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(argv[1])) {
    if (entry.path().extension() == ".ir") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  int failed = 0;
  for (const auto& path : files) {
    std::string problem;
    try {
      problem = runFile(path);
    } catch (const std::exception& e) {
      problem = e.what();
    }
    const auto name = path.parent_path().filename().string() + "/" + path.filename().string();
    std::cout << (problem.empty() ? "PASS " : "FAIL ") << name << "\n";
    if (!problem.empty()) {
      std::cout << problem << "\n";
      ++failed;
    }
  }
  std::cout << files.size() - failed << " passed, " << failed << " failed\n";
  return files.empty() || failed ? 1 : 0;
}
