"""report() and the summary at exit (csrc/report.cpp). Each reason runs in a
process of its own: the executor switches are process-wide. The settings read
from the environment: tests/test_environment.py."""
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

import torch_optspec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROFILING_OFF = "the profiling executor's profiling is off"
LEGACY = "the legacy executor is in use"
OPTIMIZE_OFF = "graph-executor optimization is off"
GRAD_ON = "graphs were profiled in calls with grad mode on"
NOTHING_YET = "no graph has been optimized while the pass was on"
REASONS = (PROFILING_OFF, LEGACY, OPTIMIZE_OFF, GRAD_ON, NOTHING_YET)

PROGRAM = textwrap.dedent('''
    import sys
    from typing import Optional
    import torch
    import torch_optspec

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)
        def forward(self, x, mask: Optional[torch.Tensor] = None):
            y = self.lin(x)
            if mask is not None:
                y = y * mask
            return torch.relu(y)

    setup, grad = sys.argv[1], sys.argv[2] == "grad"
    if setup == "profiling_off":
        torch._C._jit_set_profiling_mode(False)
    elif setup == "legacy":
        torch._C._jit_set_profiling_executor(False)
    elif setup == "optimize_off":
        torch._C._set_graph_executor_optimize(False)
    torch_optspec.enable()
    m = torch.jit.script(M())
    x, mask = torch.randn(2, 4), torch.rand(2, 4)
    if setup != "no_calls":
        with torch.set_grad_enabled(grad):
            for _ in range(4):
                m(x, mask)
    print(torch_optspec.report())
''')


def program_file(text: str) -> str:
    """torch.jit.script reads the source: the programs are files."""
    f = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    f.write(text)
    f.close()
    return f.name


def report_for(setup, grad=False, **env):
    p = subprocess.run([sys.executable, program_file(PROGRAM), setup, "grad" if grad else "nograd"],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": ROOT, **env})
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("setup,grad,reason", [
    ("profiling_off", False, PROFILING_OFF),
    ("legacy", False, LEGACY),
    ("optimize_off", False, OPTIMIZE_OFF),
    ("default", True, GRAD_ON),
    ("no_calls", False, NOTHING_YET),
])
def test_report_names_the_reason(setup, grad, reason):
    line = report_for(setup, grad)
    assert "enabled; graphs seen" in line and "specialized 0" in line, line
    assert reason in line, line
    assert [r for r in REASONS if r in line] == [reason], line


def test_report_when_the_pass_works():
    line = report_for("default", False)
    assert "specialized 1 (inputs: 0 None, 1 Tensor" in line, line
    assert "nothing specialized" not in line, line


def test_report_in_process():
    assert "disabled" in torch_optspec.report()
    assert "nothing specialized" not in torch_optspec.report()  # no reasons while off
    with torch_optspec.enabled():
        assert NOTHING_YET in torch_optspec.report()


EXIT_PROGRAM = textwrap.dedent('''
    from typing import Optional
    import torch

    @torch.jit.script
    def f(x: torch.Tensor, mask: Optional[torch.Tensor]):
        y = torch.tanh(x)
        if mask is not None:
            y = y * mask
        return y

    import torch_optspec  # the package links the library: env settings apply at load
    with torch.no_grad():
        for _ in range(3):
            f(torch.randn(3), torch.rand(3))
''')


def run_exit_program(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_OPTSPEC_")
            and k != "TORCH_CPP_LOG_LEVEL"}
    return subprocess.run([sys.executable, program_file(EXIT_PROGRAM)], capture_output=True, text=True,
                          timeout=300, env={**base, "PYTHONPATH": ROOT, **env})


def summary_lines(p):
    return [line for line in p.stderr.splitlines() if "torch_optspec" in line and "graphs seen" in line]


def test_summary_at_exit_with_the_environment_switch():
    p = run_exit_program(TORCH_OPTSPEC_ENABLE="1")
    assert p.returncode == 0, p.stderr
    lines = summary_lines(p)
    assert len(lines) == 1 and "enabled; graphs seen 1, specialized 1" in lines[0], p.stderr


@pytest.mark.parametrize("env", [
    {"TORCH_OPTSPEC_ENABLE": "1", "TORCH_CPP_LOG_LEVEL": "ERROR"},  # c10's log level governs it
    {"TORCH_OPTSPEC_ENABLE": "1", "TORCH_OPTSPEC_SUMMARY": "0"},
    {},  # not enabled from the environment: no summary by default
])
def test_no_summary(env):
    p = run_exit_program(**env)
    assert p.returncode == 0, p.stderr
    assert summary_lines(p) == [], p.stderr


def test_summary_asked_for_without_the_pass():
    p = run_exit_program(TORCH_OPTSPEC_SUMMARY="yes")
    lines = summary_lines(p)
    assert len(lines) == 1 and "disabled; graphs seen 0" in lines[0], p.stderr
