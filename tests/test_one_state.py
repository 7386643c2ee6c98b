"""One torch_optspec state per process, whatever the load order: the Python
extension is a thin binding that links libtorch_optspec, so a library loaded
before it (LD_PRELOAD, torch.ops.load_library, dlopen) is the one it uses,
and one loaded after it from another file stays inactive. Each order runs in
a fresh process (tests/helpers/one_state_check.py)."""
import glob
import os
import subprocess
import sys

import pytest

import torch_optspec

HERE = os.path.dirname(__file__)
CHECK = os.path.join(HERE, "helpers", "one_state_check.py")
PACKAGE_LIB = os.path.join(torch_optspec.cmake_prefix_path, "lib", "libtorch_optspec.so")


def other_lib():
    """A libtorch_optspec.so from another file: the CMake build tree's."""
    libs = [p for p in glob.glob(os.path.join(HERE, "..", "build-cpp", "libtorch_optspec.so"))]
    if not libs:
        pytest.skip("build-cpp/libtorch_optspec.so not built (make build)")
    return os.path.abspath(libs[0])


def run(order, lib, preload=None):
    env = dict(os.environ)
    env.pop("TORCH_OPTSPEC_ENABLE", None)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    proc = subprocess.run([sys.executable, CHECK, order, lib], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr
    copies = eval(proc.stdout.split("copies:")[1].splitlines()[0])
    return copies, proc.stderr


def test_package_alone_maps_its_own_library():
    copies, _ = run("package", PACKAGE_LIB)
    assert copies == [os.path.realpath(PACKAGE_LIB)]


@pytest.mark.parametrize("order", ["preload", "load_library_then_package", "dlopen_global_then_package"])
def test_a_library_loaded_first_is_the_one_the_package_uses(order):
    lib = other_lib()
    copies, stderr = run(order, lib, preload=lib if order == "preload" else None)
    assert copies == [os.path.realpath(lib)], copies
    assert "another copy" not in stderr


def test_a_library_loaded_after_the_package_stays_inactive():
    lib = other_lib()
    copies, stderr = run("package_then_load_library", lib)
    assert len(copies) == 2
    assert "another copy of torch_optspec is already loaded" in stderr


def test_second_copy_in_the_process_stays_inactive_and_warns(tmp_path):
    """libtorch_optspec.so loaded next to the Python extension does not
    register a second pass (it would read another switch)."""
    import glob
    import subprocess
    import sys

    libs = glob.glob("build-cpp/**/libtorch_optspec.so", recursive=True)
    if not libs:
        pytest.skip("libtorch_optspec.so not built (make build-cpp)")
    code = (
        "import torch, torch_optspec\n"
        f"torch.ops.load_library({libs[0]!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "another copy of torch_optspec is already loaded" in proc.stderr
