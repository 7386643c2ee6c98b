"""The foundation's contracts seen from Python: explain() works on models that
do not survive save/load and reports what the pass logged; the environment
switch is parsed with c10's rules; the torch rule is major.minor."""
import os
import subprocess
import sys
import types
from typing import Optional

import pytest
import torch

import torch_optspec


@torch.jit.ignore
def python_side(x: torch.Tensor) -> torch.Tensor:
    return x


class NotSaveable(torch.nn.Module):
    """Scripts and runs, but torch.jit.save raises ("Could not export Python
    function call"): explain() must not depend on save/load."""

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = python_side(x) * 2.0
        if mask is not None:
            y = y + mask
        return y


def test_explain_works_on_a_module_that_does_not_round_trip():
    scripted = torch.jit.script(NotSaveable())
    with pytest.raises(Exception, match="Python function"):
        torch.jit.save(scripted, "/dev/null")
    with torch.no_grad():
        report = torch_optspec.explain(scripted, torch.ones(3), torch.ones(3), enabled=True)
    assert report.specialized
    assert [i.decision for i in report.inputs if i.type == "Optional[Tensor]"] == ["Tensor"]
    # Read from the pass's own log, not recomputed.
    assert report.results and report.results[0]["outcome"] == "specialized"
    assert report.results[0]["inputs"][-1]["kind"] == "tensor"


def test_explain_keyword_arguments_do_not_collide_with_its_options():
    class Kw(torch.nn.Module):
        def forward(self, x: torch.Tensor, enabled: Optional[torch.Tensor] = None,
                    calls: Optional[torch.Tensor] = None) -> torch.Tensor:
            if enabled is not None:
                x = x + enabled
            if calls is not None:
                x = x * calls
            return x

    with torch.no_grad():
        report = torch_optspec.explain(torch.jit.script(Kw()), torch.ones(2), enabled=True,
                                       example_kwargs={"enabled": torch.ones(2), "calls": None})
    decisions = {i.name: i.decision for i in report.inputs}
    assert decisions == {"x": "-", "enabled": "Tensor", "calls": "None"}


def test_explain_names_the_autodiff_path_and_the_legacy_executor():
    fn = torch.jit.script(NotSaveable())
    report = torch_optspec.explain(fn, torch.ones(3, requires_grad=True), None, enabled=True)
    assert not report.specialized and "autodiff path" in report.reasons[0]
    old = torch._C._jit_set_profiling_executor(False)
    try:
        with torch.no_grad():
            report = torch_optspec.explain(fn, torch.ones(3), None, enabled=True)
    finally:
        torch._C._jit_set_profiling_executor(old)
    assert not report.specialized and "legacy (non-profiling) executor" in report.reasons[0]


def test_explain_module_is_importable_and_not_shadowed():
    import torch_optspec._explain as module
    assert isinstance(module, types.ModuleType)
    assert callable(torch_optspec.explain)


@pytest.mark.parametrize("value,expected,warns", [
    ("1", True, False), ("true", True, False), ("ON", True, False), ("yes", True, False),
    ("0", False, False), ("off", False, False), ("no", False, False),
    ("2", False, True), ("maybe", False, True),
])
def test_environment_switch_values(value, expected, warns):
    env = dict(os.environ, TORCH_OPTSPEC_ENABLE=value)
    proc = subprocess.run(
        [sys.executable, "-c", "import torch_optspec; print(torch_optspec.is_enabled())"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(expected)
    assert ("Ignoring invalid value for boolean flag TORCH_OPTSPEC_ENABLE" in proc.stderr) == warns
    assert ("enabled by TORCH_OPTSPEC_ENABLE" in proc.stderr) == expected


def test_torch_rule_is_major_minor(monkeypatch):
    from torch_optspec import _loader

    major, minor = (int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    other = f"{major}.{minor + 1}"
    for built, ok in ((f"{major}.{minor}.7", True), (f"{other}.0", False)):
        fake = types.ModuleType("torch_optspec._build_info")
        fake.TORCH_VERSION, fake.VERSION = built, torch_optspec._C.version()
        monkeypatch.setitem(sys.modules, "torch_optspec._build_info", fake)
        monkeypatch.setattr(torch_optspec, "_build_info", fake, raising=False)
        if ok:
            assert _loader.load_extension() is torch_optspec._C
        else:
            with pytest.raises(torch_optspec.ExtensionMismatchError) as info:
                _loader.load_extension()
            # the message names both versions
            assert f"compiled against torch {other}.0 but torch {torch.__version__}" in str(info.value)
            assert f"runs with torch {other}.x only" in str(info.value)


def test_one_version_everywhere():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    version = open(os.path.join(root, "version.txt")).read().strip()
    assert torch_optspec._C.version() == version
    assert torch_optspec.__version__.startswith(version + "+pt")


def test_stats_names_are_the_cpp_fields():
    header = open(os.path.join(torch_optspec.cmake_prefix_path, "include", "torch_optspec",
                               "torch_optspec.h")).read()
    for name in torch_optspec.stats():
        assert f"X({name}," in header.replace("\n", " ").replace("X(\n", "X(")


def test_log_recipe_shows_each_rewrite(tmp_path):
    """The documented recipe: '>>' entries print each stage's GRAPH_UPDATE."""
    script = tmp_path / "log_case.py"
    script.write_text(
        "from typing import Optional\n"
        "import torch, torch_optspec\n"
        "@torch.jit.script\n"
        "def f(x: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:\n"
        "    if m is not None:\n"
        "        x = x + m\n"
        "    return x\n"
        "torch_optspec.enable()\n"
        "with torch.no_grad():\n"
        "    for _ in range(3):\n"
        "        f(torch.ones(2), torch.ones(2))\n")
    env = dict(os.environ, PYTORCH_JIT_LOG_LEVEL=(
        ">specialize_optionals:>>decide:>>version:>>refine:>>cleanup:>>outline:>>postfusion"))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr + proc.stdout
    for line in ("Before specializing", "Inserted the guard", "(refined Tensor) in the fast path",
                 ": tensor (-)"):
        assert line in log, line


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
