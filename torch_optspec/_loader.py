"""Load the compiled extension, with a clear error when it does not match torch."""
import importlib

import torch


class ExtensionMismatchError(ImportError):
    """The compiled torch_optspec._C was built for another torch."""


def _release(version: str) -> str:
    # "2.13.0+cpu" -> "2.13.0": the local tag does not change the C++ ABI.
    return version.split("+")[0]


def load_extension():
    try:
        from . import _build_info
    except ImportError as e:
        raise ImportError(
            "torch_optspec: the C++ extension has not been built. "
            "Run `pip install --no-build-isolation -e .` (or `make build`) "
            "in the torch_optspec checkout."
        ) from e
    built, installed = _release(_build_info.TORCH_VERSION), _release(torch.__version__)
    if built != installed:
        raise ExtensionMismatchError(
            f"torch_optspec was compiled against torch {built} but torch {installed} "
            "is installed; the JIT's C++ interfaces change between releases. "
            "Rebuild it: `pip install --no-build-isolation --force-reinstall -e .`"
        )
    try:
        return importlib.import_module("torch_optspec._C")
    except ImportError as e:
        raise ExtensionMismatchError(
            f"torch_optspec._C could not be loaded with torch {torch.__version__} "
            f"(built for {_build_info.TORCH_VERSION}): {e}. Rebuild it: "
            "`pip install --no-build-isolation --force-reinstall -e .`"
        ) from e
