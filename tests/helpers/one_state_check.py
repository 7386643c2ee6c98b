"""Loads torch_optspec in the order given and checks that the Python API acts
on the pass that runs: `enabled()` specializes, stats() counts,
set_fast_path() takes effect, and one libtorch_optspec is mapped (or a
second one stays inactive). Run by tests/test_one_state.py in a fresh
process per order:

    python one_state_check.py ORDER LIB
    ORDER: package | preload (LD_PRELOAD=LIB set by the caller) |
           package_then_load_library | load_library_then_package |
           dlopen_global_then_package
"""
import ctypes
import sys
from typing import Optional

import torch

order, lib = sys.argv[1], sys.argv[2]
if order == "load_library_then_package":
    torch.ops.load_library(lib)
elif order == "dlopen_global_then_package":
    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)

import torch_optspec  # noqa: E402
from torch_optspec import census  # noqa: E402

if order == "package_then_load_library":
    torch.ops.load_library(lib)


def mapped_copies():
    with open("/proc/self/maps") as f:
        return sorted({line.split()[-1] for line in f if "libtorch_optspec.so" in line})


def make():
    # A new function each time: its own executor and plan.
    @torch.jit.script
    def f(x: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:
        y = x * 2.0
        if m is not None:
            y = y + m
        return y
    return f


def plan_of(fn):
    with torch.no_grad():
        for _ in range(4):
            fn(torch.ones(3), torch.ones(3))
    return torch.jit.last_executed_optimized_graph()


assert torch_optspec._C.is_active_copy(), "the package's library is not the active copy"
torch_optspec.reset_stats()
with torch_optspec.enabled():
    assert torch_optspec.is_enabled()
    g = plan_of(make())
assert census.guard_nodes(g), f"not specialized:\n{g}"
s = torch_optspec.stats()
assert s["graphs_seen"] >= 1 and s["graphs_specialized"] >= 1, s

torch_optspec.set_fast_path("outline")
with torch_optspec.enabled():
    g = plan_of(make())
block0 = next(census.guarded_if(census.guard_nodes(g)[0]).blocks())
assert census.outlined_call(block0) is not None, f"set_fast_path('outline') had no effect:\n{g}"
print("copies:", mapped_copies())
print("ok")
