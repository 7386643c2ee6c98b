"""Build torch_optspec: the C++ pass (csrc/) as the extension torch_optspec._C.

Build against the installed torch without build isolation:
    pip install --no-build-isolation -e .
The torch version used for the build is recorded in torch_optspec/_build_info.py
and checked at import.
"""
import glob
import os

import torch
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
SUPPORTED_TORCH = ">=2.13,<2.14"


def write_build_info():
    path = os.path.join(ROOT, "torch_optspec", "_build_info.py")
    text = (
        "# Written by setup.py at build time; do not edit.\n"
        f"TORCH_VERSION = {torch.__version__!r}\n"
    )
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


write_build_info()

sources = sorted(
    glob.glob("csrc/passes/*.cpp") + ["csrc/register.cpp", "csrc/python/bindings.cpp"]
)

setup(
    name="torch_optspec",
    version="0.1.0",
    description="Specialize Optional[Tensor] inputs of TorchScript graphs so the JIT fusers fuse",
    packages=["torch_optspec"],
    python_requires=">=3.9",
    install_requires=[f"torch{SUPPORTED_TORCH}"],
    ext_modules=[
        CppExtension(
            name="torch_optspec._C",
            sources=sources,
            include_dirs=[os.path.join(ROOT, "csrc"), os.path.join(ROOT, "csrc", "include")],
            extra_compile_args=["-O2", "-g0", "-fvisibility=hidden"],
        )
    ],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
