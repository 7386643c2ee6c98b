"""torch_optspec.explain() and `python -m torch_optspec explain MODEL.pt`."""
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
