// Every operator the library adds to the JIT, registered in one place
// (register.cpp calls registerOperators() once per process). Each entry says
// which stage puts it in a graph; the stage's header says what it means there.
//
//   torch_optspec::check_inputs       version.h: the guard (checks None-ness,
//                                     dtype, rank, device of tensor inputs)
//   torch_optspec::check_values       value_site.h: watches, then checks, the
//                                     values of bool/int/Optional[T] inputs
//   torch_optspec::value_site         value_site.h: marks the graph a site's
//                                     fallback compiles (a no-op)
//   torch_optspec::pass_state         pass_state.h: the pass state a subgraph
//                                     compiled later runs under (a no-op)
//   torch_optspec::emission_barrier   emission_barriers.h (a no-op)
//   torch_optspec::keep_write         element_writes.h (a no-op reading the
//                                     updated element)
//   torch_optspec::add(_), silu, linear, size, block_read
//                                     fuser_safety.h: same-kernel ops oneDNN
//                                     Graph's bridge does not match
#include "runtime.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/runtime/custom_operator.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <type_traits>

namespace torch_optspec {

namespace {

using torch::jit::Operator;
using torch::jit::pop;
using torch::jit::push;
using torch::jit::Stack;

// An operator `schema` ("torch_optspec::<name>() -> ()") that does nothing
// and only marks a place in a graph: CONSERVATIVE, so no JIT pass drops or
// moves it (with no inputs or outputs alias analysis records nothing for it).
Operator marker(const char* schema) {
  return Operator(
      schema,
      [](const Node*) -> torch::jit::Operation { return [](Stack&) {}; },
      c10::AliasAnalysisKind::CONSERVATIVE);
}

const auto kFromSchema = c10::AliasAnalysisKind::FROM_SCHEMA;

// torch_optspec::add(_): at::add / Tensor::add_ (self, other, alpha), other a
// Tensor or a Scalar.
template <typename Other, bool in_place>
void addKernel(Stack& stack) {
  auto alpha = pop(stack).toScalar();
  c10::IValue other = pop(stack);
  auto self = pop(stack).toTensor();
  Other operand;
  if constexpr (std::is_same_v<Other, at::Tensor>) {
    operand = other.toTensor();
  } else {
    operand = other.toScalar();
  }
  if constexpr (in_place) {
    push(stack, self.add_(operand, alpha));
  } else {
    push(stack, at::add(self, operand, alpha));
  }
}

} // namespace

const char* guard_op_name() {
  return "torch_optspec::check_inputs";
}

const char* value_site_op_name() {
  return "torch_optspec::check_values";
}

void registerOperators() {
  static torch::jit::RegisterOperators reg({
      // ---- the guard and the value sites ----
      Operator("torch_optspec::check_inputs(...) -> bool", createGuardOperation, kFromSchema),
      Operator("torch_optspec::check_values(...) -> bool", createCheckValuesOperation, kFromSchema),
      // kept by dead-code elimination until the pre-pass reads it
      marker("torch_optspec::value_site() -> ()"),
      marker("torch_optspec::pass_state() -> ()"),
      marker("torch_optspec::emission_barrier() -> ()"),
      // A side-effecting no-op reading the element an in-place op updated.
      Operator(
          "torch_optspec::keep_write(Tensor self) -> ()",
          [](const Node*) -> torch::jit::Operation {
            return [](Stack& stack) { torch::jit::drop(stack, 1); };
          },
          c10::AliasAnalysisKind::CONSERVATIVE),

      // ---- fuser safety: the same ATen kernels under names the bridge skips ----
      Operator(
          "torch_optspec::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
          addKernel<at::Tensor, /*in_place=*/false>,
          kFromSchema),
      Operator(
          "torch_optspec::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
          addKernel<at::Scalar, /*in_place=*/false>,
          kFromSchema),
      Operator(
          "torch_optspec::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
          addKernel<at::Tensor, /*in_place=*/true>,
          kFromSchema),
      Operator(
          "torch_optspec::add_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)",
          addKernel<at::Scalar, /*in_place=*/true>,
          kFromSchema),
      Operator(
          "torch_optspec::linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor",
          [](Stack& stack) {
            auto bias = pop(stack).toOptional<at::Tensor>();
            auto weight = pop(stack).toTensor();
            auto input = pop(stack).toTensor();
            push(stack, at::linear(input, weight, bias));
          },
          kFromSchema),
      Operator(
          "torch_optspec::size(Tensor self) -> int[]",
          [](Stack& stack) {
            auto self = pop(stack).toTensor();
            push(stack, self.sizes().vec());
          },
          kFromSchema),
      // v itself: a read the partitioner sees (fuser_safety.cpp, nested reads).
      Operator(
          "torch_optspec::block_read(Tensor(a) self) -> Tensor(a)",
          [](Stack& /*stack*/) {},
          kFromSchema),
      Operator(
          "torch_optspec::silu(Tensor self) -> Tensor",
          [](Stack& stack) {
            auto self = pop(stack).toTensor();
            push(stack, at::silu(self));
          },
          kFromSchema),
  });
}

} // namespace torch_optspec
