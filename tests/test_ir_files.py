"""Runs every IR-file test in tests/ir/<stage>/*.ir (format: tests/ir/README.md):
parse the graph, run the one stage named on the RUN line through
torch_optspec::runStage, compare the stage's result line, FileCheck the graph.
tests/cpp/test_ir_files.cpp runs the same files from C++."""
import pathlib
import re

import pytest
import torch
from torch.testing import FileCheck

import torch_optspec
from torch_optspec import census

IR_DIR = pathlib.Path(__file__).parent / "ir"
FILES = sorted(IR_DIR.glob("*/*.ir"))


def directive(text: str, name: str):
    for line in text.splitlines():
        if line.startswith(f"# {name}:"):
            return line[len(name) + 3:].strip()
    return None


def run_ir_file(path: pathlib.Path):
    text = path.read_text()
    run = directive(text, "RUN")
    assert run, f"{path}: no '# RUN:' line"
    stage, *words = run.split()
    ir = text[text.index("graph("):]
    graph = torch._C.parse_ir(ir, parse_tensor_constants=True)
    graph, line = torch_optspec._C._run_stage(stage, graph, words)
    return text, graph, line


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_ir_file(path):
    text, graph, line = run_ir_file(path)
    expected = directive(text, "RESULT")
    if expected is not None:
        assert line == expected, f"{path.name}: stage result {line!r}"
    prefix = directive(text, "RESULT-PREFIX")
    if prefix is not None:
        assert line.startswith(prefix), f"{path.name}: stage result {line!r}"
    if "# CHECK" in text:
        FileCheck().run(text, graph)


def test_every_stage_has_ir_files():
    stages = {p.parent.name for p in FILES}
    assert stages >= {"element_writes", "decide", "value_site", "version", "refine", "cleanup", "verify",
                      "outline", "fuser_safety", "postfusion", "emission_barriers", "specialize_inputs",
                      "ahead_of_time"}


def test_ir_folders_are_named_after_their_source_files():
    """tests/ir/<stage>/ tests csrc/passes/<stage>.cpp: a reader goes from one to the other."""
    passes = pathlib.Path(__file__).resolve().parent.parent / "csrc" / "passes"
    folders = {p.parent.name for p in FILES}
    assert {f for f in folders if not (passes / f"{f}.cpp").exists()} == set()


def test_unknown_stage_is_a_clear_error():
    graph = torch._C.parse_ir("graph(%x : Tensor):\n  return (%x)\n")
    with pytest.raises(RuntimeError, match="unknown stage 'vresion'"):
        torch_optspec._C._run_stage("vresion", graph, [])
    with pytest.raises(RuntimeError, match="has no " + re.escape(census.GUARD_OP)):
        torch_optspec._C._run_stage("refine", graph, [])


@pytest.mark.parametrize("words, message", [
    ("skip,tensor,value=abc", "'value=abc' does not fit input %flag of type bool"),
    ("value=1,tensor,skip", "'value=1' does not fit input %x of type Tensor"),
    ("skip,present,skip", "'present' needs an Optional\\[T\\] input with T not Tensor"),
])
def test_ahead_of_time_words_that_do_not_fit_their_input_are_clear_errors(words, message):
    """The ahead-of-time stages' value=/present words are checked against the
    input's type (a value check on a Tensor would build an ill-typed graph)."""
    path = IR_DIR / "ahead_of_time" / "checks.ir"
    text = path.read_text()
    graph = torch._C.parse_ir(text[text.index("graph("):])
    with pytest.raises(RuntimeError, match=message):
        torch_optspec._C._run_stage("ahead_checks", graph, [words])
