"""torch_optspec.explain() and `python -m torch_optspec explain MODEL.pt`."""
import types
from typing import Optional

import pytest
import torch

import torch_optspec
from torch_optspec import census
from torch_optspec.__main__ import main as cli_main
from torch_optspec.__main__ import parse_input


class Masked(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None,
                unused: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.linear(x)
        if mask is not None:
            y = y + mask
        return y.relu()


class NoOptional(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.relu()


def by_name(report, name):
    return next(i for i in report.inputs if i.name == name)


def test_specializes_with_the_pass():
    with torch.no_grad():
        report = torch_optspec.explain(Masked().eval(), torch.randn(2, 4), None, enabled=True)
    assert report.specialized
    assert by_name(report, "mask").decision == "None"
    assert by_name(report, "unused").decision == "skipped: unused"
    assert report.after.guards == 1 and report.after.guard_patterns == ["[1]"]
    assert report.before.prim_if == 1 and report.after.prim_if == 0
    assert report.before.unchecked_cast == 1 and report.after.unchecked_cast == 0
    text = str(report)
    assert "result: specialized" in text and "pattern=[1]" in text


def test_tensor_input_refined():
    with torch.no_grad():
        report = torch_optspec.explain(Masked().eval(), torch.randn(2, 4), torch.ones(4),
                                       enabled=True)
    assert by_name(report, "mask").decision == "Tensor"
    assert report.after.guard_patterns == ["[0]"]
    assert report.after.prim_if == 0


def test_nothing_without_the_pass_and_says_why():
    assert not torch_optspec.is_enabled()
    with torch.no_grad():
        report = torch_optspec.explain(Masked().eval(), torch.randn(2, 4), None)
    assert not report.specialized
    assert report.after.guards == 0 and report.after.prim_if == 1
    assert any("disabled" in r for r in report.reasons)


def test_follows_the_enabled_block():
    with torch.no_grad(), torch_optspec.enabled():
        report = torch_optspec.explain(Masked().eval(), torch.randn(2, 4), None)
    assert report.specialized


def test_autodiff_path_explained():
    # grad mode on, parameters require grad: the executor differentiates.
    report = torch_optspec.explain(Masked(), torch.randn(2, 4), None, enabled=True)
    assert not report.specialized and report.autodiff
    assert any("autodiff" in r for r in report.reasons)


def test_no_optional_input_explained():
    with torch.no_grad():
        report = torch_optspec.explain(NoOptional(), torch.randn(3), enabled=True)
    assert not report.specialized
    assert any("no Optional[Tensor] input" in r for r in report.reasons)


def test_leaves_the_callers_model_alone():
    scripted = torch.jit.freeze(torch.jit.script(Masked().eval()))
    with torch.no_grad():
        report = torch_optspec.explain(scripted, torch.randn(2, 4), None, enabled=True)
        assert report.specialized
        for _ in range(3):
            scripted(torch.randn(2, 4), None)  # compiled now, with the pass off
    plan = torch.jit.last_executed_optimized_graph()
    assert census.GUARD_OP.split("::")[1] not in str(plan)


def test_script_function():
    @torch.jit.script
    def f(x: torch.Tensor, m: Optional[torch.Tensor] = None) -> torch.Tensor:
        if m is not None:
            x = x * m
        return x.relu()

    with torch.no_grad():
        report = torch_optspec.explain(f, torch.randn(3), torch.randn(3), enabled=True)
    assert report.specialized and by_name(report, "m").decision == "Tensor"


def test_parse_input():
    assert parse_input("None") is None
    t = parse_input("2x3:int64")
    assert t.shape == (2, 3) and t.dtype == torch.int64
    assert parse_input("5").dtype == torch.float32
    assert parse_input("scalar:float64").shape == ()
    with pytest.raises(ValueError):
        parse_input("2:nonsense")


def test_cli_on_saved_model(tmp_path, capsys):
    path = str(tmp_path / "masked.pt")
    torch.jit.save(torch.jit.script(Masked().eval()), path)
    assert cli_main(["explain", path, "2x4", "None"]) == 0
    out = capsys.readouterr().out
    assert "result: specialized" in out and "pattern=[1]" in out
    assert cli_main(["explain", path, "2x4", "mask=4", "--disable"]) == 0
    out = capsys.readouterr().out
    assert "nothing specialized" in out and "disabled" in out


STOCK_FAILS = '''
import sys
from typing import Optional
import torch
import torch_optspec

class M(torch.nn.Module):  # tools/onednn_bridge_repro.py, "never_profiled_branch"
    def forward(self, y, m: Optional[torch.Tensor] = None):
        y = y * 0.5
        if m is not None:
            y = y + m * 2.0
        return y.relu()

torch.jit.enable_onednn_fusion(True)
frozen = torch.jit.freeze(torch.jit.script(M().eval()))
x = torch.randn(2, 3, 4)
with torch.no_grad():
    report = torch_optspec.explain(frozen, x, None, enabled=True)
print(report)
assert report.before is None and report.before_error, report.before_error
assert "bad optional access" in report.before_error, report.before_error
assert report.specialized and report.after.guards >= 1
text = str(report)
assert "stock TorchScript (the pass off) fails on this example" in text
print("OK")
'''


def test_explain_reports_the_pass_side_when_stock_fails(tmp_path):
    """Under oneDNN Graph stock TorchScript fails on models the pass runs
    (stock's bad optional access on a never-profiled branch): explain()
    reports the pass's side and says that stock fails, instead of raising."""
    import os
    import subprocess
    import sys
    path = tmp_path / "stock_fails.py"
    path.write_text(STOCK_FAILS)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": root})
    assert p.returncode == 0 and p.stdout.strip().endswith("OK"), p.stdout + p.stderr


def test_census_flags_a_fast_path_not_compiled_yet():
    """An outlined fast path is compiled on its own first calls: until then
    the plan's counts miss its code, and the summary says so (pending)."""
    from torch_optspec.census import summarize_graph

    @torch.jit.script
    def f(x: torch.Tensor, mask: Optional[torch.Tensor]):
        y = torch.tanh(x)
        if mask is not None:
            y = y * mask
        return y

    x, m = torch.randn(3), torch.rand(3)
    torch_optspec.set_fast_path("outline")
    summaries = []
    with torch.no_grad(), torch_optspec.enabled():
        for _ in range(6):
            f(x, m)
            summaries.append(summarize_graph(torch.jit.last_executed_optimized_graph()))
    specialized = [s for s in summaries if s.guards]
    assert specialized, summaries
    assert specialized[0].pending == 1 and not specialized[0].complete
    assert specialized[0].as_dict()["complete"] is False
    assert summaries[-1].pending == 0 and summaries[-1].complete


NESTED_GUARDS = f"""
graph(%x : Tensor, %m : Tensor?, %n : Tensor?):
  %ok : bool = {census.GUARD_OP}[pattern=[1], dtypes=[-1], dims=[-1], devices=[""]](%m)
  %r : Tensor = prim::If(%ok)
    block0():
      %ok2 : bool = {census.GUARD_OP}[pattern=[0], dtypes=[-1], dims=[-1], devices=[""]](%n)
      %s : Tensor = prim::If(%ok2)
        block0():
          %t : Tensor = aten::tanh(%x)
          -> (%t)
        block1():
          -> (%x)
      -> (%s)
    block1():
      -> (%x)
  %ok3 : bool = {census.GUARD_OP}[pattern=[0], dtypes=[-1], dims=[-1], devices=[""]](%n)
  %u : Tensor = prim::If(%ok3)
    block0():
      %v : Tensor = aten::relu(%r)
      -> (%v)
    block1():
      -> (%r)
  return (%u)
"""


def test_census_guards_and_guard_depth():
    """`guards` counts every guard on the counted path, a guard nested in
    another's fast path included; `guard_depth` is how many a call matching
    them all passes through one after the other (2 here: the nested pair; the
    third guard is a sibling)."""
    from torch_optspec.census import summarize_graph
    summary = summarize_graph(torch._C.parse_ir(NESTED_GUARDS))
    assert summary.guards == 3 and summary.guard_depth == 2, summary
    assert summary.as_dict()["guard_depth"] == 2


def test_explain_module_imports_by_its_public_name():
    """`from torch_optspec.explain import explain, fresh_copy` works, and
    importing the module leaves torch_optspec.explain the function."""
    import importlib
    module = importlib.import_module("torch_optspec.explain")
    from torch_optspec.explain import explain, fresh_copy  # noqa: F401
    assert torch_optspec.explain is explain and callable(torch_optspec.explain)
    assert module.explain is explain


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
