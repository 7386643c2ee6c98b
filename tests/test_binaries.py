"""What the built binaries link: one build serves the CPU and the CUDA build
of its torch."""
import os
import subprocess

import pytest

import torch_optspec


def test_binaries_need_libtorch_cpu_only():
    """One build serves the CPU and the CUDA build of its torch: the library
    and the binding link LibTorch's CPU libraries only, even when built
    against a CUDA torch (cmake/torch_optspecLibTorch.cmake)."""
    import glob
    import shutil
    if shutil.which("readelf") is None:
        pytest.skip("no readelf")
    package = os.path.dirname(torch_optspec.__file__)
    binaries = [os.path.join(package, "lib", "libtorch_optspec.so")] + glob.glob(
        os.path.join(package, "_C*.so"))
    for path in binaries:
        out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True,
                             check=True).stdout
        needed = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
        assert "libtorch_cpu.so" in needed, (path, needed)
        assert not [n for n in needed if "cuda" in n or "nvrtc" in n], (path, needed)
