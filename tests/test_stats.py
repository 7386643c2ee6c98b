"""The counters (torch_optspec.stats()): what one specialization counts,
reset_stats(), and their names, which are the C++ fields of the public
header."""
import os
from typing import Optional

import torch

import torch_optspec
from helpers.graphs import run_and_get_plan, script_fresh


def f(x: torch.Tensor, m: Optional[torch.Tensor] = None) -> torch.Tensor:
    if m is not None:
        x = x + m
    return x * 3


def test_stats_count_and_reset():
    fn = script_fresh(f)
    with torch_optspec.enabled():
        run_and_get_plan(fn, torch.ones(2), torch.ones(2))
    s = torch_optspec.stats()
    assert s["graphs_seen"] == 1
    assert s["graphs_specialized"] == 1
    assert s["inputs_tensor"] == 1 and s["inputs_none"] == 0
    assert s["guards_inserted"] == 1
    assert {k for k in s if k.startswith("skipped_")} == {
        "skipped_unused", "skipped_not_profiled", "skipped_mixed", "skipped_undefined_tensor",
        "skipped_varying"}
    torch_optspec.reset_stats()
    assert torch_optspec.stats()["graphs_seen"] == 0


def test_stats_names_are_the_cpp_fields():
    header = open(os.path.join(torch_optspec.cmake_prefix_path, "include", "torch_optspec",
                               "torch_optspec.h")).read()
    for name in torch_optspec.stats():
        assert f"X({name}," in header.replace("\n", " ").replace("X(\n", "X(")
