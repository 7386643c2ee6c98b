"""Load the compiled binding (and through it libtorch_optspec), with a clear
error when it does not fit the installed torch.

The one torch rule of the project: torch_optspec runs with the torch
major.minor it was compiled against, any patch release (the JIT's C++
interfaces change between minor releases). The wheel requires the same range
and the CMake package refuses another minor.
"""
import importlib

import torch


class ExtensionMismatchError(ImportError):
    """The compiled torch_optspec was built for another torch (or its library
    and binding do not belong together)."""


def _minor(version: str) -> str:
    # "2.13.0+cpu" -> "2.13"
    return ".".join(version.split("+")[0].split(".")[:2])


def load_extension():
    try:
        from . import _build_info
    except ImportError as e:
        raise ImportError(
            "torch_optspec: the C++ extension has not been built. "
            "Run `pip install --no-build-isolation .` (or `make build`) "
            "in the torch_optspec checkout."
        ) from e
    built, installed = _minor(_build_info.TORCH_VERSION), _minor(torch.__version__)
    if built != installed:
        raise ExtensionMismatchError(
            f"torch_optspec was compiled against torch {_build_info.TORCH_VERSION} but torch "
            f"{torch.__version__} is installed; it runs with torch {built}.x only (the JIT's C++ "
            "interfaces change between minor releases). Rebuild it: "
            "`pip install --no-build-isolation --force-reinstall .`"
        )
    try:
        ext = importlib.import_module("torch_optspec._C")
    except ImportError as e:
        raise ExtensionMismatchError(
            f"torch_optspec._C could not be loaded with torch {torch.__version__} "
            f"(built for {_build_info.TORCH_VERSION}): {e}. Rebuild it: "
            "`pip install --no-build-isolation --force-reinstall .`"
        ) from e
    if ext.version() != _build_info.VERSION:
        raise ExtensionMismatchError(
            f"torch_optspec {_build_info.VERSION}'s binding was given libtorch_optspec "
            f"{ext.version()} by the dynamic linker (another copy was loaded first, "
            "e.g. LD_PRELOAD); load the library of the same version."
        )
    return ext
