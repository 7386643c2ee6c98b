"""The Python API over torch_optspec._C."""
import contextlib
from typing import ContextManager, Iterator, Union

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


def enabled(mode: bool = True) -> ContextManager[None]:
    """Enable (or, with mode=False, disable) the pass inside the block, for
    compilation triggered from this thread, and restore the previous state on
    exit. Blocks nest; other threads are not affected.

    The first calls of a scripted function profile it and the next one
    compiles it: run those inside the block. Plans compiled inside keep their
    specialization after the block ends.

    `mode` must be a bool (TypeError otherwise, like torch.set_grad_enabled):
    enabled("no") would otherwise enable the pass.
    """
    if not isinstance(mode, bool):
        raise TypeError(
            f"torch_optspec.enabled(): argument 'mode' must be bool, not {type(mode).__name__}"
        )
    return _enabled_block(mode)


@contextlib.contextmanager
def _enabled_block(mode: bool) -> Iterator[None]:
    previous = _C._exchange_thread_override(1 if mode else 0)
    try:
        yield
    finally:
        _C._exchange_thread_override(previous)


_FAST_PATH_MODES = {"auto": 0, "inline": 1, "outline": 2}


def set_fast_path(mode: str) -> None:
    """Where specialized graphs put their fast path (for graphs optimized
    from now on):

    - "inline": inside the versioning prim::If. No call overhead, compiled in
      the same optimization. NNC (TensorExpr) and the legacy fuser fuse it.
    - "outline": in a function of its own, which the executor profiles and
      optimizes like any scripted function. Needed by fusers that only look
      at the top-level block of a graph (oneDNN Graph); costs a function call
      per call and one more profiling run.
    - "auto" (default): "outline" when another custom JIT pre-pass is
      registered (torch.jit.enable_onednn_fusion(True) registers one), else
      "inline".
    """
    if mode not in _FAST_PATH_MODES:
        raise ValueError(
            f"torch_optspec.set_fast_path: mode must be one of {sorted(_FAST_PATH_MODES)}, got {mode!r}"
        )
    _C._set_fast_path_mode(_FAST_PATH_MODES[mode])


def get_fast_path() -> str:
    """The mode set with set_fast_path()."""
    return {v: k for k, v in _FAST_PATH_MODES.items()}[_C._fast_path_mode()]


def set_value_learning(on: bool) -> None:
    """Whether graphs with bool/int/Optional[T] inputs get a value site that
    learns their values on the first calls and specializes for them (on by
    default; TORCH_OPTSPEC_VALUES=0 turns it off at load). Off: only
    Optional[Tensor] inputs and tensor properties are specialized. For
    graphs optimized from now on."""
    if not isinstance(on, bool):
        raise TypeError(f"torch_optspec.set_value_learning: expected bool, got {type(on).__name__}")
    _C._set_value_learning(on)


def get_value_learning() -> bool:
    return _C._value_learning()


def report() -> str:
    """One line: enabled or not, graphs seen and specialized, inputs
    specialized; when the pass is enabled and specialized nothing, the likely
    reasons it can check (the profiling executor or graph-executor
    optimization off, calls with grad mode on: the autodiff path, where the
    pass does not run). The same line as C++ torch_optspec::report(), which
    TORCH_OPTSPEC_SUMMARY=1 logs at process exit."""
    return _C.report()


def stats() -> dict:
    """Process-wide counters of the pass (a fresh dict each call), with the
    names of the C++ torch_optspec::Stats fields."""
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
    Plans of every autocast state are dropped. Safe while other threads call
    the model: the old plans are retired, not freed (calls in flight finish on
    them), and stay in memory until the process exits.
    """
    if isinstance(obj, torch.jit.ScriptModule):
        return _C._reset_module_plans(obj._c)
    if isinstance(obj, torch.jit.ScriptFunction):
        return _C._reset_function_plans(obj)
    raise TypeError(
        "torch_optspec.reset_plans expects a torch.jit.ScriptModule or "
        f"ScriptFunction, got {type(obj).__name__}"
    )
