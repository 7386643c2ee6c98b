"""The Python API over torch_optspec._C."""
import contextlib
from typing import Iterator, Union

import torch

from . import _C


def enable() -> None:
    """Turn the pass on for graphs profiled and optimized from now on."""
    _C.enable()


def disable() -> None:
    """Turn the pass off for graphs optimized from now on.

    Plans already compiled keep their specialization; see reset_plans().
    """
    _C.disable()


def is_enabled() -> bool:
    """The state the pass sees on this thread (a surrounding enabled() block
    of this thread wins over enable()/disable())."""
    return bool(_C.is_enabled())


@contextlib.contextmanager
def enabled(mode: bool = True) -> Iterator[None]:
    """Enable (or, with mode=False, disable) the pass inside the block, for
    compilation triggered from this thread, and restore the previous state on
    exit. Blocks nest; other threads are not affected.

    The first calls of a scripted function profile it and the next one
    compiles it: run those inside the block. Plans compiled inside keep their
    specialization after the block ends.
    """
    previous = _C._exchange_thread_override(1 if mode else 0)
    try:
        yield
    finally:
        _C._exchange_thread_override(previous)


def stats() -> dict:
    """Process-wide counters of the pass (a fresh dict each call)."""
    return _C.stats()


def reset_stats() -> None:
    _C.reset_stats()


def reset_plans(obj: Union[torch.jit.ScriptModule, torch.jit.ScriptFunction]) -> int:
    """Drop the compiled plans of a scripted module (all its methods and
    submodules) or function, so that the next calls profile and optimize it
    again under the current torch_optspec state. Returns the number of
    functions reset.

    Needed after enabling the pass for a model that already ran: its plan was
    compiled without the pass (and profiled without the pass's profiles).
    """
    if isinstance(obj, torch.jit.ScriptModule):
        return _C._flush_module_plans(obj._c)
    if isinstance(obj, torch.jit.ScriptFunction):
        _C._flush_function_plans(obj)
        return 1
    raise TypeError(
        "torch_optspec.reset_plans expects a torch.jit.ScriptModule or "
        f"ScriptFunction, got {type(obj).__name__}"
    )
