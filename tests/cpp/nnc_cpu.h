// Turns on NNC (the TensorExpr fuser) for CPU tensors, without LLVM: the
// interpreted code generator is slow, so tests use tiny shapes.
#pragma once

#include <torch/csrc/jit/codegen/fuser/interface.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/csrc/jit/tensorexpr/kernel.h>

inline void enableNncOnCpu() {
  torch::jit::overrideCanFuseOnCPU(true);
  torch::jit::setTensorExprFuserEnabled(true);
  torch::jit::setTexprReductionsEnabled(true);
  torch::jit::tensorexpr::getTEMustUseLLVMOnCPU() = false;
}
