"""Reproducers of cases the fuzzer once failed on (tests/fuzz/regressions/).

Each file is a case source with CASE (see fuzz_gen.py), as fuzz_run.py
writes it, minus the copy of the oracle that a standalone reproducer carries:
run from the checkout, it uses tests/fuzz/fuzz_oracle.py. It must pass.

A reproducer of a bug in stock torch (not in torch_optspec) carries a line
`UPSTREAM_BUG = "..."` and is a strict xfail: it must keep failing, and the
test fails the day torch fixes it, so that the marker gets removed.
"""
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_oracle  # noqa: E402


def _params():
    for path in sorted((HERE / "regressions").glob("case_*.py")):
        upstream = re.search(r'^UPSTREAM_BUG = "(.*)"$', path.read_text(), re.M)
        marks = [pytest.mark.xfail(strict=True, reason=upstream.group(1))] if upstream else []
        yield pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", list(_params()))
def test_regression(path):
    report = fuzz_oracle.oracle_run(path)
    assert not report["mismatches"], report["mismatches"]
