"""Shared fixtures and graph helpers for the torch_optspec tests."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import torch_optspec  # noqa: E402
import torch_optspec.fusers  # noqa: E402,F401


@pytest.fixture(autouse=True)
def pass_off_and_clean():
    """Every test starts with the pass off (globally and on this thread) and
    fresh counters, and leaves it that way."""
    torch_optspec.disable()
    torch_optspec.set_fast_path("auto")
    torch_optspec.set_value_learning(True)
    torch_optspec.reset_stats()
    yield
    torch_optspec.disable()
    torch_optspec.set_fast_path("auto")
    torch_optspec.set_value_learning(True)


@pytest.fixture(params=["inline", "outline"])
def fast_path_mode(request):
    """Run the test with the fast path inlined and outlined."""
    torch_optspec.set_fast_path(request.param)
    yield request.param


@pytest.fixture
def nnc_cpu():
    """NNC (TensorExpr) fusion on CPU without LLVM: kernels are interpreted,
    so tests using it keep tensors tiny."""
    with torch_optspec.fusers.nnc_cpu():
        yield
