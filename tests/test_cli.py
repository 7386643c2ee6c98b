"""`python -m torch_optspec explain ...` as a user runs it: exit status 2 and one
line on stderr (no traceback) for usage errors and for files that are not
TorchScript models, exit status 1 and one line for run-time failures.

The commands in SUBPROCESS run as `python -m torch_optspec` subprocesses, all
started at once (module fixture) so the interpreter start-ups overlap; the
others call main() in this process (same code path, no start-up cost)."""
import os
import subprocess
import sys
import zipfile
from typing import Optional

import pytest
import torch

import torch_optspec
from torch_optspec.__main__ import InputSpecError, parse_input, parse_inputs
from torch_optspec.__main__ import main as cli_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Masked(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.linear(x)
        if mask is not None:
            y = y + mask
        return y.relu()


class Colliding(torch.nn.Module):
    """Keyword arguments named like explain()'s own options."""

    def forward(self, x: torch.Tensor, enabled: Optional[torch.Tensor] = None,
                calls: Optional[torch.Tensor] = None) -> torch.Tensor:
        if enabled is not None:
            x = x + enabled
        if calls is not None:
            x = x * calls
        return x.relu()


def make_files(d):
    """Every kind of file a user may hand the CLI by mistake, and two good ones."""
    model = Masked().eval()
    files = {"good": d / "good.pt", "colliding": d / "colliding.pt"}
    torch.jit.save(torch.jit.script(model), str(files["good"]))
    torch.jit.save(torch.jit.script(Colliding().eval()), str(files["colliding"]))
    data = files["good"].read_bytes()
    files["truncated"] = d / "truncated.pt"
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["corrupt"] = d / "corrupt.pt"
    files["corrupt"].write_bytes(b"not a model\n" * 20)
    files["empty"] = d / "empty.pt"
    files["empty"].write_bytes(b"")
    files["state_dict"] = d / "state_dict.pt"
    torch.save(model.state_dict(), str(files["state_dict"]))
    files["pickled_module"] = d / "pickled_module.pt"
    torch.save(model, str(files["pickled_module"]))
    files["legacy"] = d / "legacy.pt"
    torch.save(model.state_dict(), str(files["legacy"]), _use_new_zipfile_serialization=False)
    files["pt2"] = d / "model.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(2, 4),)), str(files["pt2"]))
    files["directory"] = d / "a_directory"
    files["directory"].mkdir()
    files["missing"] = d / "missing.pt"
    return {k: str(v) for k, v in files.items()}


# name -> (arguments after `python -m torch_optspec`, expected exit status,
#          words expected on stderr (one line) or stdout (exit 0))
def cases(f):
    good = f["good"]
    return {
        "no_command": ([], 2, ["required", "COMMAND"]),
        "unknown_option": (["explain", good, "2x4", "--bogus"], 2, ["unrecognized", "--bogus"]),
        "calls_too_small": (["explain", good, "2x4", "--calls", "1"], 2, ["--calls", ">= 2"]),
        "bad_shape": (["explain", good, "2xq"], 2, ["'2xq'", "'q'"]),
        "bad_dtype": (["explain", good, "2x4:float99"], 2, ["unknown dtype", "float99"]),
        "too_many_inputs": (["explain", good, "2x4", "None", "3"], 2, ["at most 2", "forward("]),
        "unknown_keyword": (["explain", good, "2x4", "bias=4"], 2, ["no argument 'bias'"]),
        "missing_input": (["explain", good], 2, ["missing INPUT for x"]),
        "bad_device": (["explain", good, "2x4", "--device", "tpu"], 2, ["--device", "tpu"]),
        "missing_file": (["explain", f["missing"], "2x4"], 2, ["missing.pt", "no such file"]),
        "directory": (["explain", f["directory"], "2x4"], 2, ["a_directory", "is a directory"]),
        "truncated": (["explain", f["truncated"], "2x4"], 2, ["truncated.pt", "truncated or corrupt"]),
        "corrupt": (["explain", f["corrupt"], "2x4"], 2, ["corrupt.pt", "not a zip archive"]),
        "empty": (["explain", f["empty"], "2x4"], 2, ["empty.pt", "is empty"]),
        "state_dict": (["explain", f["state_dict"], "2x4"], 2,
                       ["state_dict.pt", "torch.save", "state dict", "torch.jit.save"]),
        "pickled_module": (["explain", f["pickled_module"], "2x4"], 2, ["torch.save", "torch.jit.save"]),
        "legacy_pickle": (["explain", f["legacy"], "2x4"], 2, ["legacy", "torch.save"]),
        "pt2": (["explain", f["pt2"], "2x4"], 2, ["model.pt2", "torch.export", "ExportedProgram"]),
        "runtime_failure": (["explain", good, "2x5"], 1, ["mat1 and mat2", "--traceback"]),
        "runtime_traceback": (["explain", good, "2x5", "--traceback"], 1, None),
        "cuda_without_gpu": (["explain", good, "2x4", "--device", "cuda"], 2, ["--device cuda", "no CUDA"]),
        "ok_keyword": (["explain", good, "2x4", "mask=2x4"], 0, ["result: specialized", "pattern=[0]"]),
        "ok_disabled": (["explain", good, "2x4", "None", "--disable"], 0, ["nothing specialized"]),
        "colliding_kwargs": (["explain", f["colliding"], "3", "enabled=3", "calls=None"], 0,
                             ["result: specialized", "pattern=[0, 1]"]),
        "help": (["explain", "--help"], 0, ["--device {cpu,cuda}", "--traceback", "examples:",
                                            "2x128:int64", "name=SPEC", "exit status"]),
    }


# One of each kind of failure as a real process; the rest in-process.
SUBPROCESS = {"unknown_option", "missing_file", "directory", "truncated", "state_dict", "pt2",
              "runtime_failure", "ok_keyword"}


def _in_process(argv, capsys):
    capsys.readouterr()
    try:
        rc = cli_main(argv)
    except SystemExit as e:  # --help
        rc = e.code
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def subprocess_runs(files):
    todo = cases(files)
    if torch.cuda.is_available():
        todo.pop("cuda_without_gpu")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = {name: subprocess.Popen([sys.executable, "-m", "torch_optspec", *argv], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
             for name, (argv, _, _) in todo.items() if name in SUBPROCESS}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        out[name] = (p.returncode, stdout, stderr)
    return out


@pytest.fixture
def runs(request, files, capsys):
    """(cases, name -> (exit status, stdout, stderr)) for the test's case."""
    todo = cases(files)
    if torch.cuda.is_available():
        todo.pop("cuda_without_gpu")
    name = request.node.callspec.params.get("name") if hasattr(request.node, "callspec") else None
    names = [name] if name else [n for n in ("help", "runtime_traceback") if n in todo]
    out = {}
    for n in names:
        if n not in todo:
            continue
        if n in SUBPROCESS:
            out[n] = request.getfixturevalue("subprocess_runs")[n]
        else:
            out[n] = _in_process(todo[n][0], capsys)
    return todo, out


ERROR_CASES = [n for n, (_, code, _) in cases({k: "" for k in (
    "good", "colliding", "missing", "directory", "truncated", "corrupt", "empty", "state_dict",
    "pickled_module", "legacy", "pt2")}).items() if code != 0 and n != "runtime_traceback"]


@pytest.mark.parametrize("name", ERROR_CASES)
def test_error_is_one_line_with_exit_status(runs, name):
    todo, out = runs
    if name not in todo:
        pytest.skip("a CUDA device is available")
    _, code, words = todo[name]
    rc, stdout, stderr = out[name]
    assert rc == code, (rc, stderr)
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("python -m torch_optspec"), lines[0]
    if name in SUBPROCESS:
        assert rc == code
    assert ": error: " in lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert stdout == ""


def test_traceback_flag_shows_the_full_traceback(runs):
    rc, _, stderr = runs[1]["runtime_traceback"]
    assert rc == 1
    assert "Traceback (most recent call last)" in stderr and "mat1 and mat2" in stderr


@pytest.mark.parametrize("name", ["ok_keyword", "ok_disabled", "help", "colliding_kwargs"])
def test_success(runs, name):
    todo, out = runs
    _, code, words = todo[name]
    rc, stdout, stderr = out[name]
    assert rc == code == 0, stderr
    for w in words:
        assert w in stdout, (w, stdout)


def test_help_has_help_per_option(runs):
    _, stdout, _ = runs[1]["help"]
    options = stdout.split("options:")[1].split("INPUT specs")[0]
    for opt in ("--device", "--disable", "--grad", "--onednn", "--calls", "--graph", "--traceback"):
        line = next(line for line in options.splitlines() if line.strip().startswith(opt))
        # the option's help text follows it on its line
        assert len(line.split(None, 1)) == 2 and len(line.split(None, 1)[1]) > 10, line


# The spec parser is a library function (reused by other subcommands).


def test_parse_inputs_positional_and_keywords():
    args, kwargs = parse_inputs(["2x3:int64", "None", "scalar:float64", "mask=1x4:bool"])
    assert args[0].shape == (2, 3) and args[0].dtype == torch.int64 and bool((args[0] == 1).all())
    assert args[1] is None
    assert args[2].shape == () and args[2].dtype == torch.float64
    assert kwargs["mask"].dtype == torch.bool and not kwargs["mask"].any()
    assert parse_input("768").shape == (768,)


@pytest.mark.parametrize("spec", ["2x", "x3", "2x-1", "2.5", "2x3:nonsense", "2x3:Tensor"])
def test_parse_input_errors_are_value_errors(spec):
    with pytest.raises(ValueError, match="bad INPUT"):
        parse_input(spec)


@pytest.mark.parametrize("specs", [["1x=2"], ["mask=2", "mask=3"]])
def test_parse_inputs_keyword_errors(specs):
    with pytest.raises(InputSpecError):
        parse_inputs(specs)


def test_every_error_file_is_a_real_case(files):
    """The fixtures are what they claim: the .pt2 is a zip torch.jit.load
    cannot read, the state dict loads with torch.load."""
    assert "archive_format" in {n.split("/", 1)[1] for n in zipfile.ZipFile(files["pt2"]).namelist()}
    assert isinstance(torch.load(files["state_dict"], weights_only=True), dict)
    for name in ("truncated", "state_dict", "pt2"):
        with pytest.raises(RuntimeError):
            torch.jit.load(files[name])


def test_explain_calls_default_is_explain_functions():
    """`explain --calls` defaults to what explain() does (8: enough calls for a
    value site to learn bool/int values), so the CLI shows what the API shows."""
    import inspect

    from torch_optspec.__main__ import build_parser
    args = build_parser().parse_args(["explain", "model.pt"])
    assert args.calls == inspect.signature(torch_optspec.explain).parameters["calls"].default == 8
