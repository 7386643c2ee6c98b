"""LD_PRELOAD of libtorch_optspec_preload.so (csrc/preload/preload.c), the
library the docs tell users to preload, in each install layout:

- the build tree (build-cpp/),
- the wheel's layout (site-packages/torch_optspec/lib beside site-packages/torch,
  RUNPATH $ORIGIN/../../torch/lib), made here from the in-place build,
- a `cmake --install` prefix (RUNPATH $ORIGIN).

In each: bash, `sh -c`, and a Python process that imports torch later run
exactly as without it (same exit status and output, nothing on stderr); the
C++ host linked against LibTorch only (tests/cpp/preload_host.cpp) gets the
pass (specialized with TORCH_OPTSPEC_ENABLE=1, unchanged without it). The
contrast: preloading libtorch_optspec.so itself from the install prefix stops
bash with exit 127.
"""
import os
import shutil
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-cpp")
HOST = os.path.join(BUILD, "tests", "cpp", "preload_host")
PRELOAD = "libtorch_optspec_preload.so"
LIBRARY = "libtorch_optspec.so"

pytestmark = pytest.mark.skipif(not os.path.exists(HOST),
                                reason="needs the C++ tests built (make build)")


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "TORCH_OPTSPEC_ENABLE", "LD_LIBRARY_PATH")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layouts")
    out = {"build tree": BUILD}
    # the wheel's layout: torch_optspec/lib/ next to torch/ in one directory
    site = tmp / "site"
    shutil.copytree(os.path.join(ROOT, "torch_optspec", "lib"), site / "torch_optspec" / "lib",
                    ignore=shutil.ignore_patterns("cmake"), symlinks=True)
    os.symlink(os.path.dirname(torch.__file__), site / "torch")
    out["wheel"] = str(site / "torch_optspec" / "lib")
    # a cmake --install prefix
    prefix = tmp / "prefix"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)], check=True,
                   capture_output=True)
    out["install prefix"] = str(prefix / "lib")
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "cpp", "save_models.py"), str(out)],
                   check=True, capture_output=True)
    return str(out / "masked.pt")


LAYOUTS = ["build tree", "wheel", "install prefix"]

PYTHON_LATER = "print('before'); import torch; print(torch.ones(2).sum().item())"
COMMANDS = {
    "bash": ["bash", "-c", "true"],
    "sh -c": ["sh", "-c", "echo ok; bash -c 'echo child'"],
    "python, torch later": [sys.executable, "-c", PYTHON_LATER],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_process_without_libtorch_runs_as_without_preload(layouts, layout, command):
    cmd = COMMANDS[command]
    preload = os.path.join(layouts[layout], PRELOAD)
    assert os.path.exists(preload), preload
    plain = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    for enable in ("0", "1"):
        got = subprocess.run(cmd, env=_env(LD_PRELOAD=preload, TORCH_OPTSPEC_ENABLE=enable),
                             capture_output=True, text=True, timeout=120)
        assert got.returncode == plain.returncode == 0, got.stderr
        assert got.stdout == plain.stdout
        assert got.stderr == plain.stderr, got.stderr


@pytest.mark.parametrize("layout", LAYOUTS)
def test_libtorch_host_gets_the_pass(layouts, layout, model):
    preload = os.path.join(layouts[layout], PRELOAD)
    on = subprocess.run([HOST, model, "--expect", "specialized"],
                        env=_env(LD_PRELOAD=preload, TORCH_OPTSPEC_ENABLE="1"),
                        capture_output=True, text=True, timeout=120)
    assert on.returncode == 0, on.stdout + on.stderr
    assert "enabled by TORCH_OPTSPEC_ENABLE" in on.stderr
    off = subprocess.run([HOST, model, "--expect", "unchanged"], env=_env(LD_PRELOAD=preload),
                         capture_output=True, text=True, timeout=120)
    assert off.returncode == 0, off.stdout + off.stderr


def test_preload_says_why_when_the_library_cannot_load(tmp_path, model):
    """A shim whose libtorch_optspec.so is missing: one line, the host runs
    without the pass."""
    shutil.copy(os.path.join(BUILD, PRELOAD), tmp_path / PRELOAD)
    got = subprocess.run([HOST, model, "--expect", "unchanged"],
                         env=_env(LD_PRELOAD=str(tmp_path / PRELOAD), TORCH_OPTSPEC_ENABLE="1"),
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stdout + got.stderr
    lines = [line for line in got.stderr.splitlines() if "torch_optspec preload" in line]
    assert len(lines) == 1 and "the process runs without the pass" in lines[0], got.stderr


def test_preloading_the_library_itself_breaks_bash(layouts):
    """Why the shim exists: libtorch_optspec.so needs LibTorch, which a shell
    cannot find."""
    lib = os.path.join(layouts["install prefix"], LIBRARY)
    got = subprocess.run(["bash", "-c", "true"], env=_env(LD_PRELOAD=lib), capture_output=True,
                         text=True, timeout=60)
    assert got.returncode == 127 and "libtorch_cpu.so" in got.stderr, got.stderr


def test_shim_needs_libc_only():
    out = subprocess.run(["readelf", "-d", os.path.join(BUILD, PRELOAD)], capture_output=True,
                         text=True, check=True).stdout
    needed = sorted(line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line)
    assert all(n.startswith(("libc.so", "libdl.so")) for n in needed), needed
