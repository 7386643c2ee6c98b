"""A bounded sample of the differential fuzzer (tests/fuzz/fuzz_run.py runs
the long version; docs/reliability.md).

The sample is fixed (seed range below) so that `make test` is reproducible;
OPTSPEC_FUZZ_SAMPLE=<n> and OPTSPEC_FUZZ_SEED=<s> change it.
"""
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_gen  # noqa: E402
import fuzz_oracle  # noqa: E402
import fuzz_run  # noqa: E402

SAMPLE = int(os.environ.get("OPTSPEC_FUZZ_SAMPLE", "120"))
SEED = int(os.environ.get("OPTSPEC_FUZZ_SEED", "20251"))
ONEDNN_SAMPLE = int(os.environ.get("OPTSPEC_FUZZ_ONEDNN_SAMPLE", "60"))


def test_fuzz_sample(tmp_path):
    totals = collections.Counter()
    failures = []
    for index in range(SAMPLE):
        cseed = fuzz_gen.case_seed(SEED, index)
        source = fuzz_gen.generate_case(cseed)
        path = tmp_path / f"case_{cseed}.py"
        path.write_text(source)
        case = fuzz_oracle.oracle_import(path, "meta").CASE
        report = fuzz_oracle.oracle_run(path, case)
        totals["cases"] += 1
        totals["calls"] += report["calls"]
        totals["specialized"] += report["specialized"]
        totals[f"kind={case['kind']}"] += 1
        totals[f"fuser={case['fuser']}"] += 1
        totals[f"grad={case['grad']}"] += 1
        if report["mismatches"]:
            repro = fuzz_run.write_reproducer(
                tmp_path / "failures" / path.name, source, report["first_bad_call"],
                "; ".join(report["mismatches"][0]["problems"]))
            failures.append(f"{repro}: {report['mismatches'][0]}")
    print(json.dumps(totals, indent=1))
    assert not failures, "\n".join(failures)
    # A fuzzer where the pass never fires proves nothing.
    assert totals["specialized"] >= 0.6 * totals["cases"], totals
    # Every flavour of case is in the sample.
    for key in ("kind=function", "kind=module", "fuser=nnc", "grad=True"):
        assert totals[key] > 0, (key, totals)


def test_fuzz_sample_onednn(tmp_path):
    """The oneDNN Graph mode (frozen modules, oneDNN Graph on): every call
    with the pass equals eager. Run through fuzz_run.py's child processes:
    stock torch's oneDNN Graph can kill a process (counted, not failed), and
    enabling oneDNN Graph stays out of this one."""
    out = tmp_path / "onednn"
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_run.py"), "--mode", "onednn", "--cases",
         str(ONEDNN_SAMPLE), "--seed", str(SEED), "--chunk", str(ONEDNN_SAMPLE), "--out", str(out)],
        capture_output=True, text=True, timeout=900)
    summary = json.loads((out / "summary.json").read_text())
    problems = [line for line in (out / "results.jsonl").read_text().splitlines()
                if '"status": "ok"' not in line]
    assert proc.returncode == 0 and summary["cases_checked"] == ONEDNN_SAMPLE, (
        summary, problems[:5], proc.stdout[-2000:], proc.stderr[-2000:])
    assert summary["mismatches"] == summary["crashes"] == summary["hangs"] == summary["invalid"] == 0
    assert summary["specialized_cases"] >= 0.6 * ONEDNN_SAMPLE, summary
    # stock torch fails on a good part of the same cases: the mode exercises them
    assert summary["stock_failed_cases"] >= 0.2 * ONEDNN_SAMPLE, summary


def test_generated_programs_use_every_idiom():
    """The generator's statements all show up within a modest number of cases
    (a guard against a generator that silently stopped producing some)."""
    text = "\n".join(fuzz_gen.generate_case(fuzz_gen.case_seed(SEED, i)) for i in range(300))
    for idiom in ("is not None:", "is None:", " if o", "assert o", "return (y - 1.0)",
                  "for _ in range", "while k", "Optional[torch.Tensor] = None", ".mul_(",
                  "F.linear(y,", "F.layer_norm(", "scaled_dot_product_attention(",
                  "torch.jit.fork(", "torch.jit.wait(", "self.sub_", "def pick_",
                  "Tuple[torch.Tensor, Optional[torch.Tensor]", "-> Optional[torch.Tensor]:"):
        assert idiom in text, idiom
    onednn = "\n".join(fuzz_gen.generate_case(fuzz_gen.case_seed(SEED, i), "onednn")
                       for i in range(300))
    assert "torch.jit.freeze" not in onednn  # the oracle freezes; the case is plain
    for idiom in ("torch.matmul(y, self.w)", "F.linear(y, self.w, self.b)", "torch.softmax(",
                  "F.gelu(", "self.s * ", "/ self.s", "+ self.c", "F.layer_norm(y, [4], None, None)",
                  "F.layer_norm(y, [4], self.b, None)", "torch.matmul(y, y.transpose(-1, -2))",
                  ".mean()", "is not None:", "'mode': 'onednn'"):
        assert idiom in onednn, idiom


def test_runner_records_a_crash_and_writes_a_reproducer(tmp_path):
    """fuzz_run.py survives a child that dies: the case is recorded as a
    crash, a reproducer is written, and the run continues after it."""
    env = dict(os.environ, OPTSPEC_FUZZ_ABORT_AT="1")
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_run.py"), "--cases", "3", "--seed", "5",
         "--chunk", "3", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cases"] == 3 and summary["crashes"] == 1 and summary["mismatches"] == 0
    repro = out / "failures" / f"case_{fuzz_gen.case_seed(5, 1)}.py"
    assert repro.exists()
    # The reproducer is standalone: it runs (and passes, the abort was injected).
    run = subprocess.run([sys.executable, str(repro)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "OK" in run.stdout, run.stdout + run.stderr
