"""torch_optspec: make TorchScript fuse models whose arguments are fixed for a
deployment, without editing them.

    import torch_optspec
    torch_optspec.enable()          # or: with torch_optspec.enabled(): ...

The pass specializes a scripted graph to what its first calls show: which
Optional arguments are None, the values of bool/int arguments, the
dtype/rank/device of the tensors it reads. It guards them and keeps the
original graph as a lazily compiled fallback.

    model = torch_optspec.specialize(scripted, x, mask)   # ahead of time
    torch.jit.save(model, "model.pt")   # runs specialized without torch_optspec
"""
import os as _os
import sys as _sys

from ._loader import ExtensionMismatchError
from ._loader import load_extension as _load_extension

_C = _load_extension()

from . import census  # noqa: E402
from ._api import (  # noqa: E402
    disable,
    enable,
    enabled,
    get_fast_path,
    get_value_learning,
    is_enabled,
    report,
    reset_plans,
    reset_stats,
    set_fast_path,
    set_value_learning,
    stats,
)
from ._build_info import TORCH_VERSION as _BUILT_WITH_TORCH  # noqa: E402
from ._build_info import WHEEL_VERSION as __version__  # noqa: E402
from ._explain import explain, fresh_copy  # noqa: E402  (the module is _explain: torch_optspec.explain is the function)
from . import _explain as _explain_module  # noqa: E402

# `from torch_optspec.explain import explain, fresh_copy` works too: the
# module is registered under that name here, so importing it never replaces
# the attribute torch_optspec.explain (the function).
_sys.modules[__name__ + ".explain"] = _explain_module
from ._specialize import SpecializeReport, specialize  # noqa: E402

# Runs with the torch major.minor it was built with, any patch release.
SUPPORTED_TORCH = "==" + ".".join(_BUILT_WITH_TORCH.split(".")[:2]) + ".*"

# find_package(torch_optspec) prefix of this installation (like
# torch.utils.cmake_prefix_path): lib/cmake/torch_optspec lives below it,
# with the header and libtorch_optspec.so.
cmake_prefix_path = _os.path.dirname(_os.path.abspath(__file__))

__all__ = [
    "enable",
    "disable",
    "is_enabled",
    "enabled",
    "stats",
    "reset_stats",
    "reset_plans",
    "set_fast_path",
    "get_fast_path",
    "set_value_learning",
    "get_value_learning",
    "report",
    "explain",
    "fresh_copy",
    "specialize",
    "SpecializeReport",
    "census",
    "ExtensionMismatchError",
    "SUPPORTED_TORCH",
    "cmake_prefix_path",
]
