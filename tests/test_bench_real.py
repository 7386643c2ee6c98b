"""The real-model benchmark's harness (bench/real_models/, `make bench-real`),
without its model packages: the per-round ratio statistics, the failure
text, the supervisor's time limits and crash handling (on a fake worker), and
one end-to-end run of the real worker on a tiny nn.TransformerEncoder."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.real_models import harness, render  # noqa: E402


def test_ratios_are_paired_per_round():
    # round 2 is slow for both (machine noise): the paired ratio cancels it,
    # a ratio of medians would not
    base = [1.0, 1.0, 10.0, 1.0, 1.0]
    fast = [0.5, 0.5, 5.0, 0.5, 0.5]
    r = harness.ratio_stats(fast, base)
    assert r["median"] == pytest.approx(0.5) and r["min"] == r["max"] == pytest.approx(0.5)
    r = harness.ratio_stats([2.0, 4.0, 6.0, 3.0], [1.0, 2.0, 2.0, 1.0])
    assert r["per_round"] == [2.0, 2.0, 3.0, 3.0]
    assert (r["median"], r["min"], r["max"]) == (2.5, 2.0, 3.0)
    assert r["p25"] == pytest.approx(2.0) and r["p75"] == pytest.approx(3.0)
    assert harness.ratio_stats([], base) is None      # a failed variant
    assert harness.ratio_stats(fast, []) is None      # a failed baseline
    with pytest.raises(ValueError):
        harness.ratio_stats([1.0], [1.0, 2.0])
    assert harness.rotate("abc", 1) == ["b", "c", "a"]
    assert [harness.rotate("abc", r)[0] for r in range(3)] == ["a", "b", "c"]


def test_failure_text():
    interp = RuntimeError("The following operation failed in the TorchScript interpreter.\n"
                          "Traceback of TorchScript (most recent call last):\n  foo\n"
                          "RuntimeError: bad optional access\n")
    assert harness.first_line(interp) == "RuntimeError: bad optional access"
    assert harness.first_line(ValueError("first\nsecond")) == "ValueError: first"
    assert harness.failure_text("timeout", limit_s=90) == "did not finish in 90 s"
    assert render.status({"failure": "RuntimeError: x", "failed_in": "timing"}) == \
        "fails: RuntimeError: x (in timing)"
    assert render.status({"failure": None}) == "ok"


FAKE_WORKER = textwrap.dedent("""
    import json, os, sys, time
    args = sys.argv[1:]
    skip = json.loads(args[args.index("--skip") + 1])
    ev = os.fdopen(int(args[args.index("--event-fd") + 1]), "w", buffering=1)
    def send(**e):
        ev.write(json.dumps(e) + "\\n"); ev.flush()
    ran = []
    for v in ("ok1", "hangs", "crashes", "ok2"):
        if v in skip:
            continue
        send(ev="begin", variant=v, phase="first_calls", limit_s=1.5)
        if v == "hangs":
            time.sleep(120)
        if v == "crashes":
            print("terminate called: something went wrong", flush=True)
            os.abort()
        ran.append(v)
        send(ev="end", variant=v, phase="first_calls")
    send(ev="result", result={"ran": ran, "skip": skip})
""")


def test_supervisor_cuts_off_hangs_and_survives_crashes(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(FAKE_WORKER)
    log = str(tmp_path / "log.txt")
    t0 = time.monotonic()
    out = harness.supervise(lambda skip: [sys.executable, str(worker), "--skip", json.dumps(skip)],
                            ["ok1", "hangs", "crashes", "ok2"], log, idle_limit_s=30)
    assert time.monotonic() - t0 < 20, "the hanging phase was not cut off at its limit"
    assert out["error"] is None
    assert out["result"]["ran"] == ["ok1", "ok2"]
    assert out["skipped"]["hangs"] == "did not finish in 1.5 s"
    assert out["skipped"]["crashes"].startswith("fails: crashed (SIGABRT)")
    assert "terminate called" in out["skipped"]["crashes"]
    assert len(out["starts"]) == 3


def test_tiny_encoder_end_to_end(tmp_path):
    """The real worker and supervisor on a tiny nn.TransformerEncoder with a
    key padding mask (no model packages): every variant has a time or a
    failure text, the optspec plans were compiled with the pass (fewer
    model prim::If than stock), results are written."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.real_models", "--only", "tiny_encoder_mask", "--no-compile",
         "--rounds", "2", "--block-s", "0.02", "--first-calls-limit", "120", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "results.md").read_text().startswith("# torch_optspec real-model benchmark")
    (entry,) = results["models"]
    assert entry["error"] is None, entry
    v = entry["variants"]
    assert set(v) == {"eager", "stock", "stock_onednn", "optspec", "optspec_onednn"}
    for name, var in v.items():
        assert (var["failure"] is None) == (var["median_s"] is not None), (name, var["failure"])
        if var["failure"] is None:
            assert len(var["samples_s"]) == 2 and len(var["first_calls_s"]) == 8
            assert len(var["cpu_share"]) == 2 and all(0 < c <= 1.5 for c in var["cpu_share"])
            assert var["max_abs_err"] is not None and var["max_abs_err"] < 1e-4, name
    assert v["stock"]["failure"] is None and v["optspec"]["failure"] is None
    assert entry["ratios_vs_stock"]["stock"]["median"] == pytest.approx(1.0)
    assert v["optspec"]["plan"]["prim_if"] < v["stock"]["plan"]["prim_if"]
    assert v["optspec"]["plan"]["guards"] >= 1 and v["stock"]["plan"]["guards"] == 0
    assert results["settings"]["threads"] == 2 and entry["threads"] == 2
