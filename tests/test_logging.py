"""The logging recipe (docs/usage.md, docs/design.md): PYTORCH_JIT_LOG_LEVEL
names the pass's source files; ">specialize_inputs" prints each graph
before and after, and ">>stage" entries print each stage's GRAPH_UPDATE.
Each log is taken from a fresh process."""
import os
import subprocess
import sys

from helpers.graphs import GUARD

# A script that gets one graph specialized (m given, a Tensor).
LOG_CASE = (
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


def run_logged(tmp_path, log_level: str) -> str:
    """Runs LOG_CASE with PYTORCH_JIT_LOG_LEVEL=log_level; its stderr and stdout."""
    script = tmp_path / "log_case.py"
    script.write_text(LOG_CASE)
    env = dict(os.environ, PYTORCH_JIT_LOG_LEVEL=log_level)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr + proc.stdout


def test_jit_log_level_shows_the_graph_before_and_after(tmp_path):
    """PYTORCH_JIT_LOG_LEVEL=">specialize_inputs" prints both graphs."""
    log = run_logged(tmp_path, ">specialize_inputs")
    assert "Before specializing (x: -, m: Tensor)" in log.replace(".1", "")
    assert "After specializing" in log and GUARD.split("::")[1] in log


def test_log_recipe_shows_each_rewrite(tmp_path):
    """The documented recipe: '>>' entries print each stage's GRAPH_UPDATE."""
    log = run_logged(tmp_path, (
        ">specialize_inputs:>>decide:>>version:>>refine:>>cleanup:>>outline:>>postfusion"))
    for line in ("Before specializing", "Inserted the guard", "(refined Tensor) in the fast path",
                 ": tensor (-)"):
        assert line in log, line
