"""Shared fixtures and graph helpers for the torch_optspec tests."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import torch_optspec  # noqa: E402


@pytest.fixture(autouse=True)
def pass_off_and_clean():
    """Every test starts with the pass off (globally and on this thread) and
    fresh counters, and leaves it that way."""
    torch_optspec.disable()
    torch_optspec.set_fast_path("auto")
    torch_optspec.reset_stats()
    yield
    torch_optspec.disable()
    torch_optspec.set_fast_path("auto")


@pytest.fixture(params=["inline", "outline"])
def fast_path_mode(request):
    """Run the test with the fast path inlined and outlined."""
    torch_optspec.set_fast_path(request.param)
    yield request.param


@pytest.fixture
def nnc_cpu():
    """NNC (TensorExpr) fusion on CPU without LLVM: kernels are interpreted,
    so tests using it keep tensors tiny."""
    old = (
        torch._C._jit_can_fuse_on_cpu(),
        torch._C._jit_get_te_must_use_llvm_cpu(),
        torch._C._jit_texpr_reductions_enabled(),
        torch._C._jit_texpr_fuser_enabled(),
    )
    torch._C._jit_override_can_fuse_on_cpu(True)
    torch._C._jit_set_te_must_use_llvm_cpu(False)
    torch._C._jit_set_texpr_reductions_enabled(True)
    torch._C._jit_set_texpr_fuser_enabled(True)
    yield
    torch._C._jit_override_can_fuse_on_cpu(old[0])
    torch._C._jit_set_te_must_use_llvm_cpu(old[1])
    torch._C._jit_set_texpr_reductions_enabled(old[2])
    torch._C._jit_set_texpr_fuser_enabled(old[3])
