"""torch_optspec: make TorchScript fuse code with Optional[Tensor] inputs.

    import torch_optspec
    torch_optspec.enable()          # or: with torch_optspec.enabled(): ...

The pass specializes each Optional[Tensor] input of a scripted graph to what
the profiling executor observed (None -> constant, present -> Tensor), guards
that None-pattern, and keeps the original graph as a lazily compiled fallback.
"""
from ._loader import load_extension as _load_extension

_C = _load_extension()

from ._api import (  # noqa: E402
    disable,
    enable,
    enabled,
    get_fast_path,
    is_enabled,
    reset_plans,
    reset_stats,
    set_fast_path,
    stats,
)
from .explain import explain  # noqa: E402

SUPPORTED_TORCH = ">=2.13,<2.14"
__version__ = "0.1.0"

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
    "explain",
    "SUPPORTED_TORCH",
]
