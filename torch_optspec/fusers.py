"""The JIT fuser settings torch_optspec's tests, demo and benchmark use, as
context managers that restore the previous settings."""
import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def nnc_cpu() -> Iterator[None]:
    """NNC (TensorExpr) fusion on CPU. The official wheels have no LLVM, so
    NNC interprets its kernels: right for the structure, slow (keep tensors
    tiny), and not thread-safe."""
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
    try:
        yield
    finally:
        torch._C._jit_override_can_fuse_on_cpu(old[0])
        torch._C._jit_set_te_must_use_llvm_cpu(old[1])
        torch._C._jit_set_texpr_reductions_enabled(old[2])
        torch._C._jit_set_texpr_fuser_enabled(old[3])


@contextlib.contextmanager
def no_cpu_fuser() -> Iterator[None]:
    """NNC's CPU fusion off (the default of the official wheels)."""
    old = torch._C._jit_can_fuse_on_cpu()
    torch._C._jit_override_can_fuse_on_cpu(False)
    try:
        yield
    finally:
        torch._C._jit_override_can_fuse_on_cpu(old)


@contextlib.contextmanager
def onednn() -> Iterator[None]:
    """oneDNN Graph fusion (the real CPU fuser; it fuses frozen modules)."""
    old = torch._C._jit_llga_enabled()
    torch.jit.enable_onednn_fusion(True)
    try:
        yield
    finally:
        torch.jit.enable_onednn_fusion(old)
