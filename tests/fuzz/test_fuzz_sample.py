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
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_gen  # noqa: E402
import fuzz_oracle  # noqa: E402
import fuzz_run  # noqa: E402

SAMPLE = int(os.environ.get("OPTSPEC_FUZZ_SAMPLE", "80"))
SEED = int(os.environ.get("OPTSPEC_FUZZ_SEED", "20251"))
# The sample runs both generators: Optional[Tensor] only ("tensor", the
# original one) and every argument kind ("all"); OPTSPEC_FUZZ_KINDS=<kinds>
# replaces "all" (e.g. "masks" while working on them).
KINDS = os.environ.get("OPTSPEC_FUZZ_KINDS", "all")


@pytest.mark.parametrize("kinds", ["tensor", KINDS])
def test_fuzz_sample(tmp_path, kinds):
    totals = collections.Counter()
    failures = []
    for index in range(SAMPLE):
        cseed = fuzz_gen.case_seed(SEED, index)
        source = fuzz_gen.generate_case(cseed, kinds)
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
        totals["spec_late"] += report["spec_late"]
        for k in set(fuzz_run._arg_kinds(case)):
            totals[f"arg={k}"] += 1
        if report["mismatches"]:
            totals[f"cause={report['cause']}"] += 1
        # stock TorchScript bugs (pass on == pass off != eager) are counted,
        # not failed on: they are not the pass's, and they are triaged from
        # the long runs (docs/reliability.md)
        if report["cause"] in ("pass", "unclear"):
            repro = fuzz_run.write_reproducer(
                tmp_path / "failures" / path.name, source, report["first_bad_call"],
                "; ".join(m["problems"][0] for m in report["mismatches"][:1]))
            bad = next(m for m in report["mismatches"] if m["call"] == report["first_bad_call"])
            failures.append(f"{repro}: {bad}")
    print(json.dumps(totals, indent=1))
    assert not failures, "\n".join(failures)
    # A fuzzer where the pass never fires proves nothing.
    assert totals["specialized"] >= 0.6 * totals["cases"], totals
    # Every flavour of case is in the sample.
    for key in ("kind=function", "kind=module", "fuser=nnc", "grad=True"):
        assert totals[key] > 0, (key, totals)
    if kinds != "tensor":
        for k in fuzz_gen.parse_kinds(kinds):
            assert totals[f"arg={k}"] > 0, (k, totals)


# oneDNN Graph cases (fuzz_gen.py mode "onednn"): a few, through the runner,
# since stock torch's oneDNN Graph (the pass-off copy) can kill the process.
ONEDNN_SAMPLE = int(os.environ.get("OPTSPEC_FUZZ_ONEDNN_SAMPLE", "8"))


def test_fuzz_sample_onednn(tmp_path):
    """A bounded oneDNN Graph sample: the pass's copy equals eager (stock
    torch's own oneDNN failures are counted apart, not failed on). Case 1's
    stock copy is made to abort: the case keeps the pass's verdict."""
    out = tmp_path / "run"
    env = dict(os.environ, OPTSPEC_FUZZ_ABORT_STOCK_AT="1")
    env.pop("OPTSPEC_FUZZ_KINDS", None)
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_run.py"), "--mode", "onednn", "--cases", str(ONEDNN_SAMPLE),
         "--seed", str(SEED), "--chunk", str(ONEDNN_SAMPLE), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    s = json.loads((out / "summary.json").read_text())
    print(json.dumps({k: s[k] for k in ("cases", "calls", "mismatches_by_cause", "stock_failed_cases",
                                        "stock_crashed_cases", "stock_raised_calls")}))
    rows = fuzz_run.load_rows(out)
    bad = [r for r in rows.values() if r.get("cause") in ("pass", "unclear")]
    assert not bad, [(r["seed"], r["problems"], str(out / "failures" / f"case_{r['seed']}.py"))
                     for r in bad]
    assert s["cases"] == ONEDNN_SAMPLE and s["crashes"] == s["hangs"] == s["invalid"] == 0, s
    assert s["by_kind"] == {"kind=module": ONEDNN_SAMPLE, "fuser=onednn": ONEDNN_SAMPLE,
                            "grad=False": ONEDNN_SAMPLE, "call_style=positional": ONEDNN_SAMPLE}, s
    assert "stock_crash" in rows[1] and s["stock_crashed_cases"] == 1, rows[1]
    assert s["specialized_cases"] >= 0.6 * s["cases"], s
    # oneDNN Graph was on: the fuser-safety stage saw the graphs
    assert s["stats_totals"].get("fuser_safe_graphs", 0) > 0, s["stats_totals"]


def test_onednn_mode_generator():
    """mode "onednn": frozen-module cases with the ops oneDNN fuses; the
    default generator is unchanged; other argument kinds are refused."""
    sources = [fuzz_gen.generate_case(fuzz_gen.case_seed(SEED, i), None, "onednn") for i in range(200)]
    text = "\n".join(sources)
    for idiom in ("torch.matmul(y, self.w)", "F.linear(y, self.w, self.b)", "F.linear(y, self.w)",
                  "is not None else self.b)", "torch.softmax(", "F.gelu(", "torch.relu(",
                  "y * self.s", "y / self.s", "self.c", "y.transpose(-1, -2)",
                  "F.layer_norm(y, [4], None, None)", "F.layer_norm(y, [4], self.b, self.c)",
                  ".mean()", "y.sum() * 0.01", "is not None:", "is None:",
                  "scaled_dot_product_attention("):
        assert idiom in text, idiom
    several = 0
    for src in sources:
        case = _case(src)
        assert (case["kind"], case["fuser"], case["grad"], case["mode"]) == \
            ("module", "onednn", False, "onednn"), case
        several += len({tuple(c) for c in case["calls"]}) > 1
    assert several > 0.6 * len(sources), several
    for i in range(20):
        cseed = fuzz_gen.case_seed(SEED, i)
        assert fuzz_gen.generate_case(cseed) == fuzz_gen.generate_case(cseed, "tensor", "default")
        assert fuzz_gen.generate_case(cseed, None, "onednn") == fuzz_gen.generate_case(cseed, "tensor", "onednn")
    with pytest.raises(ValueError):
        fuzz_gen.generate_case(1, "masks", "onednn")
    assert fuzz_gen.mode_kinds("onednn", None) == "tensor"
    with pytest.raises(ValueError):
        fuzz_gen.mode_kinds("onednn", "all")


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


def test_kinds_option():
    """--kinds: groups and single kinds; "tensor" alone is the original
    generator (the same source as before the option existed)."""
    assert fuzz_gen.parse_kinds("tensor") == ("opt_tensor",)
    assert fuzz_gen.parse_kinds(None) == ("opt_tensor",)
    assert set(fuzz_gen.parse_kinds("all")) == set(fuzz_gen.ARG_KINDS)
    assert "opt_tensor" not in fuzz_gen.parse_kinds("new")
    assert fuzz_gen.parse_kinds("masks,opt_bool") == ("opt_bool", "mask")
    with pytest.raises(ValueError):
        fuzz_gen.parse_kinds("masks,bogus")
    for i in range(20):
        cseed = fuzz_gen.case_seed(SEED, i)
        assert fuzz_gen.generate_case(cseed) == fuzz_gen.generate_case(cseed, "tensor")
        assert "roles" in fuzz_gen.generate_case(cseed).split("CASE = ")[1]
    # a single kind gives programs with that kind only
    for i in range(30):
        case = _case(fuzz_gen.generate_case(fuzz_gen.case_seed(SEED, i), "opt_kv"))
        assert {a["kind"] for a in case["args"]} == {"opt_kv"}


def _case(source: str) -> dict:
    import ast
    return ast.literal_eval(source.split("\nCASE = ", 1)[1].strip())


def test_generated_programs_use_every_new_idiom():
    """The idioms of the other argument kinds show up within 300 cases."""
    text = "\n".join(fuzz_gen.generate_case(fuzz_gen.case_seed(SEED, i), "all") for i in range(300))
    for idiom in (
            # Optional scalars, tuples and lists; HF's default resolution
            ": Optional[bool]", ": Optional[int]", ": Optional[float]", ": Optional[str]",
            ": Optional[Tuple[torch.Tensor, torch.Tensor]]", ": Optional[List[torch.Tensor]]",
            "output_attentions = output_attentions if output_attentions is not None else",
            "= None) ->", "is not None and", " is None or not ", "self.config_",
            # flags and counts
            ": bool", ": int", ": float", "if is_causal", "is_causal=", "for i in range(",
            " > 2:", "layer_idx]", "y[:, :seq_len]", "torch.roll(y, step", "scale=",
            # masks: dtype, rank, device checks, torch.nn and HF style
            ".dtype == torch.bool", "torch.is_floating_point(", ".dim() == 3", ".ndim",
            "len(attn_mask.shape)", ".device", "masked_fill_(", "torch.where(",
            "(1.0 - ", "raise ValueError(", "def canonical_mask_", "attn_mask=",
            # what flags switch on, returned Optionals, in-place updates
            "attn_weights: Optional[torch.Tensor] = None", "present_kv = (",
            "all_hidden.append(y)", "Optional[Tuple[torch.Tensor, torch.Tensor]]]",
            "[0].mul_(0.5)", "[0].add_(0.25)", ".add_(0.5)",
            "torch.cat([past_key_value[0], y], dim=1)", "torch.stack(",
            "torch.jit.fork(", "_helper_"):
        assert idiom in text, idiom


def test_calls_change_every_kind():
    """Calls change each kind the way a guard has to notice: None <-> present,
    other values, other dtypes and ranks; some values change with every call;
    some module cases are called with keywords."""
    changes = collections.defaultdict(collections.Counter)
    per_call, styles = collections.Counter(), collections.Counter()
    for i in range(300):
        case = _case(fuzz_gen.generate_case(fuzz_gen.case_seed(SEED, i), "all"))
        for kind, whats in fuzz_run._changes(case).items():
            changes[kind].update(whats)
        per_call.update(a["kind"] for a in case["args"] if a["vary"] == "call")
        styles[case["call_style"]] += 1
        n_patterns = len({fuzz_oracle._fixed_key(case, c) for c in case["calls"]})
        changes["cases"]["several patterns" if n_patterns > 1 else "one pattern"] += 1
    for kind in fuzz_gen.OPTIONAL_KINDS:
        assert changes[kind]["none"] > 0, (kind, changes[kind])
    for kind in ("opt_bool", "opt_int", "opt_float", "opt_str", "opt_kv", "opt_list",
                 "bool", "int", "float"):
        assert changes[kind]["value"] > 0, (kind, changes[kind])
    for what in ("none", "dtype", "rank"):
        assert changes["mask"][what] > 0, (what, changes["mask"])
    for kind in ("bool", "int", "float", "opt_int", "opt_float"):
        assert per_call[kind] > 0, (kind, per_call)
    assert styles["keywords"] > 0 and styles["positional"] > 0
    assert changes["cases"]["several patterns"] > 0.85 * 300, changes["cases"]


def test_oracle_compares_nested_inputs_and_scalar_outputs():
    """The oracle sees an in-place update of a tuple or list element, a
    returned input tensor inside a tuple, and a scalar output that differs."""
    case = {"grad": False}
    t = torch.ones(2)
    args = [torch.zeros(2), (t, t * 2), [t * 3]]

    def updates(x, kv, hs):
        kv[1].add_(1.0)
        hs[0].mul_(2.0)
        return x, kv[0], 3

    def pure(x, kv, hs):
        return x, kv[0], 3

    def other_scalar(x, kv, hs):
        return x, kv[0].clone(), 4

    ref = fuzz_oracle._run_once(pure, args, case, None)
    got = fuzz_oracle._run_once(updates, args, case, None)
    problems = fuzz_oracle._compare(ref, got, True, "x")
    assert any("argument leaf" in p for p in problems) and len(problems) == 2, problems
    assert ref["alias"][1:3] == [0, 1], ref["alias"]    # x and kv[0] are the caller's tensors
    problems = fuzz_oracle._compare(ref, fuzz_oracle._run_once(other_scalar, args, case, None), True, "x")
    assert any("aliasing" in p for p in problems) and any("output leaf 3" in p for p in problems), problems
    assert fuzz_oracle._cause(["on vs off: a", "on vs eager: a"]) == "pass"
    assert fuzz_oracle._cause(["on vs eager: a", "off vs eager: a"]) == "stock"
    assert fuzz_oracle._cause(["on vs off: a", "off vs eager: a"]) == "off_only"
