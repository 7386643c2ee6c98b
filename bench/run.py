"""The torch_optspec benchmark: python -m bench.run [--quick] [--no-compile] [--device cuda]

    python -m bench.run --render-only     re-write latest.md and latest.png from latest.json
    python -m bench.run --only '^bert .*mask=None'   only the rows whose name matches the
                                          regular expression, into only.{md,json,png}
                                          (latest.* untouched; no first-call, guard or
                                          NNC sections)

For each config (model x shapes x mask given / None) it builds these variants
and measures them interleaved in one process:

  eager      the nn.Module
  stock      torch.jit.script + torch.jit.freeze, plans compiled with the pass off
  optspec    the same, plans compiled with torch_optspec on
  twin       the hand-specialized model (Final[bool] flags / no Optional), scripted + frozen
  aot        BERT rows: torch_optspec.specialize(frozen, *inputs), run with the pass off
  aot_strict the same with strict=True (the specialized code at the top level)
  compile    torch.compile(eager) (outside reference; --no-compile skips it)

Rows where stock oneDNN Graph fails on the model and on its twin (the torch.nn
attention modules) also time stock and the twin compiled without a fuser
("stock_nofuser", "twin_nofuser"): optspec under oneDNN Graph is compared with
those.

Timing: torch.utils.benchmark.Timer blocks of n calls, variants in rotating
order within each round; ratios are medians over rounds of the per-round
(paired) ratios. Also: fusion groups and prim::If left in each optimized plan
(torch_optspec.census.summarize_graph), first-call latency (the calls until
the optimized plan has run once) with and without the pass, guard overhead on
a tiny graph with 1/4/8 Optional inputs, and fusion-group counts with NNC on
tiny shapes.

Writes bench/results/latest.json, latest.md and latest.png.

--device cuda puts the models and inputs on the GPU; the oneDNN Graph rows
(a CPU fuser) then run with NNC on the GPU instead. The NNC counts on tiny
shapes stay on the CPU.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.utils.benchmark as tbench
from torch import nn

import torch_optspec
from torch_optspec.census import summarize_graph

from .models.bert import BertConfigLite, BertModel, SpecializedBertModel, make_inputs, random_weights
from .models.blocks import (AttentionBlock, EncoderWithMask, EncoderWithoutMask, MHAWithMask,
                            MHAWithoutMask, SpecializedAttentionBlock)
from .render import AOT_VARIANTS, JIT_VARIANTS, NOFUSER_VARIANTS, render, render_dir, targets

RESULTS = os.path.join(os.path.dirname(__file__), "results")
COMPILE_ROWS = {"bert L2 h768 b1 s128 mask=yes", "bert L2 h768 b1 s128 mask=None",
                "attention h768 b1 s128 mask=yes", "attention h768 b1 s128 mask=None"}


# ---------------------------------------------------------------- configs ----


class Case:
    """One benchmark row: how to build the eager model and its twin, inputs."""

    def __init__(self, name: str, family: str, fuser: str, eager: nn.Module, twin: nn.Module,
                 args: tuple, twin_args: tuple, note: str = "", nofuser_refs: bool = False):
        self.name, self.family, self.fuser, self.note = name, family, fuser, note
        self.eager, self.twin = eager.eval(), twin.eval()
        self.args, self.twin_args = args, twin_args
        # also time stock and the twin compiled without a fuser
        self.nofuser_refs = nofuser_refs


def bert_case(layers, batch, seq, masked, hidden=768, heads=12, fuser="onednn"):
    config = BertConfigLite(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers,
                            num_attention_heads=heads, intermediate_size=4 * hidden,
                            max_position_embeddings=max(512, seq))
    model = random_weights(BertModel(config))
    twin = SpecializedBertModel(config, use_mask=masked)
    twin.load_state_dict(model.state_dict())
    inputs = make_inputs(batch, seq, config.vocab_size)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    args = (ids, mask) if masked else (ids,)
    return Case(f"bert L{layers} h{hidden} b{batch} s{seq} mask={'yes' if masked else 'None'}",
                "bert", fuser, model, twin, args, args)


def attention_case(batch, seq, masked, hidden=768, heads=12, fuser="onednn"):
    torch.manual_seed(0)
    block = AttentionBlock(hidden, heads)
    twin = SpecializedAttentionBlock(hidden, heads, masked)
    twin.load_state_dict(block.state_dict())
    x = torch.randn(batch, seq, hidden)
    mask = torch.zeros(batch, 1, 1, seq)
    mask[:, :, :, seq - seq // 8:] = -1e9
    args = (x, mask) if masked else (x,)
    return Case(f"attention h{hidden} b{batch} s{seq} mask={'yes' if masked else 'None'}",
                "attention", fuser, block, twin, args, args)


TORCH_NN_NOTE = ("torch.nn attention under oneDNN Graph: stock and the twin fail in torch 2.13 "
                 "('bad optional access' on never-profiled branches); optspec runs (its "
                 "fuser-safety stage) and is timed against stock and the twin compiled without "
                 "a fuser")


def encoder_case(layers, batch, seq, masked, d_model=768, heads=12, fuser="onednn"):
    torch.manual_seed(0)
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True),
        layers, enable_nested_tensor=False)
    x = torch.randn(batch, seq, d_model)
    kpm = torch.zeros(batch, seq, dtype=torch.bool)
    kpm[:, seq - seq // 8:] = True
    twin = EncoderWithMask(encoder) if masked else EncoderWithoutMask(encoder)
    args = (x, None, kpm) if masked else (x,)
    return Case(f"nn.TransformerEncoder L{layers} d{d_model} b{batch} s{seq} "
                f"key_padding_mask={'yes' if masked else 'None'}",
                "nn.TransformerEncoder", fuser, encoder, twin, args, (x, kpm) if masked else (x,),
                note=TORCH_NN_NOTE if fuser == "onednn" else "", nofuser_refs=fuser == "onednn")


def mha_case(batch, seq, masked, d_model=768, heads=12, fuser="onednn"):
    """nn.MultiheadAttention, self-attention, need_weights left at its default
    (True: called from Python, a scripted MultiheadAttention with
    need_weights=False returns an undefined tensor TorchScript cannot convert,
    with or without a fuser)."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(d_model, heads, batch_first=True)
    x = torch.randn(batch, seq, d_model)
    kpm = torch.zeros(batch, seq, dtype=torch.bool)
    kpm[:, seq - seq // 8:] = True
    twin = MHAWithMask(mha) if masked else MHAWithoutMask(mha)
    args = (x, x, x, kpm) if masked else (x, x, x)
    return Case(f"nn.MultiheadAttention d{d_model} h{heads} b{batch} s{seq} "
                f"key_padding_mask={'yes' if masked else 'None'}",
                "nn.MultiheadAttention", fuser, mha, twin, args, (x, kpm) if masked else (x,),
                note=TORCH_NN_NOTE if fuser == "onednn" else "", nofuser_refs=fuser == "onednn")


def to_device(case: Case, device: str) -> Case:
    """The case's models and inputs on `device`; on the GPU, NNC replaces the
    oneDNN Graph fuser (CPU only)."""
    if device == "cpu":
        return case

    def move(args):
        return tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)

    case.eager, case.twin = case.eager.to(device), case.twin.to(device)
    case.args, case.twin_args = move(case.args), move(case.twin_args)
    if case.fuser == "onednn":
        case.fuser = "nnc"
    return case


def configs(quick: bool) -> List[Callable[[], Case]]:
    out = []
    if quick:
        shapes = [(2, 1, 128)]
        attn = [(1, 128)]
        enc = [(2, 1, 128)]
        mha = [(1, 128)]
    else:
        # batch 8 x seq 512 is left out: ~2 s per call on 2 cores, it alone
        # would take most of the 15-minute budget.
        shapes = [(2, 1, 128), (2, 8, 128), (2, 1, 512), (4, 1, 128)]
        attn = [(1, 128), (8, 512)]
        enc = [(2, 8, 128)]
        mha = [(8, 128)]
    for layers, b, s in shapes:
        for masked in (True, False):
            out.append(lambda layers=layers, b=b, s=s, m=masked: bert_case(layers, b, s, m))
    for b, s in attn:
        for masked in (True, False):
            out.append(lambda b=b, s=s, m=masked: attention_case(b, s, m))
    for layers, b, s in enc:
        for masked in (True, False):
            out.append(lambda layers=layers, b=b, s=s, m=masked: encoder_case(layers, b, s, m))
    for b, s in mha:
        for masked in (True, False):
            out.append(lambda b=b, s=s, m=masked: mha_case(b, s, m))
    return out


# ----------------------------------------------------------------- helpers ---


DEVICE = "cpu"  # --device; set by main()


def set_fuser(fuser: str, device: str = "") -> None:
    device = device or DEVICE
    torch.jit.enable_onednn_fusion(fuser == "onednn")
    nnc = fuser == "nnc"
    nnc_cpu = nnc and device == "cpu"
    torch._C._jit_override_can_fuse_on_cpu(nnc_cpu)
    torch._C._jit_set_te_must_use_llvm_cpu(not nnc_cpu)
    torch._C._jit_set_texpr_reductions_enabled(nnc)
    torch._C._jit_set_texpr_fuser_enabled(True)  # the default; CPU fusion is the switch above
    if device == "cuda":
        torch._C._jit_override_can_fuse_on_gpu(nnc)


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def compile_jit(model: nn.Module) -> torch.jit.ScriptModule:
    return torch.jit.freeze(torch.jit.script(model))


def warm_jit(fn, args, with_pass: bool, calls: int = 7):
    """Profile and optimize under the given pass state; return the plan's
    summary. Seven calls and one more: the profiling run, the plan, three calls
    a value site learns bool/int values on, the value-specialized plan's own
    profiling run and its optimization (an outlined fast path's profiling run
    and optimization fit in the same calls)."""
    with torch_optspec.enabled(with_pass):
        for _ in range(calls):
            fn(*args)
        # in the scope too: a function the pass emitted (a fallback, an
        # outlined fast path, a value-specialized plan) is compiled on its
        # first calls, under the pass state of the calling thread
        fn(*args)
    return summarize_graph(torch.jit.last_executed_optimized_graph())


def max_diff(a, b) -> float:
    if isinstance(a, (tuple, list)):
        return max(max_diff(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return 0.0 if a is None and b is None else float("inf")
    return float((a - b).abs().max())


def time_block(fn, args, number: int) -> float:
    """Seconds per call over `number` calls (torch.utils.benchmark)."""
    timer = tbench.Timer(stmt="fn(*args)", globals={"fn": fn, "args": args}, num_threads=torch.get_num_threads())
    return timer.timeit(number).mean


def machine_info() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "loadavg_start": os.getloadavg(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "device": DEVICE,
        "gpu": torch.cuda.get_device_name() if DEVICE == "cuda" else None,
    }


# ----------------------------------------------------------- measurements ---


def run_case(case: Case, rounds: int, block_s: float, with_compile: bool) -> dict:
    set_fuser(case.fuser)
    variants: Dict[str, tuple] = {"eager": (case.eager, case.args)}
    plans = {}
    with torch.no_grad():
        failures = {}
        jit_variants = [("stock", case.eager, case.args, False, case.fuser),
                        ("optspec", case.eager, case.args, True, case.fuser),
                        ("twin", case.twin, case.twin_args, False, case.fuser)]
        if case.nofuser_refs:
            jit_variants += [("stock_nofuser", case.eager, case.args, False, "none"),
                             ("twin_nofuser", case.twin, case.twin_args, False, "none")]
        for name, model, args, with_pass, fuser in jit_variants:
            # plans are compiled once: one compiled without a fuser keeps
            # running without one when the fuser is turned back on
            set_fuser(fuser)
            try:  # a fuser can fail at run time (torch 2.13's oneDNN Graph does)
                compiled = compile_jit(model)
                plans[name] = warm_jit(compiled, args, with_pass)
                variants[name] = (compiled, args)
            except RuntimeError as e:
                failures[name] = str(e).strip().splitlines()[-1]
        set_fuser(case.fuser)
        if case.family == "bert":  # ahead of time: torch_optspec.specialize, then the pass off
            for name, strict in (("aot", False), ("aot_strict", True)):
                try:
                    compiled = torch_optspec.specialize(compile_jit(case.eager), *case.args,
                                                        strict=strict)
                    plans[name] = warm_jit(compiled, case.args, False)
                    if strict:  # the census counts each strict check as a model prim::If
                        checks = sum(len(a.check.split(" and ")) for a in
                                     compiled.optspec_report.arguments if a.check)
                        plans[name].prim_if -= checks
                    variants[name] = (compiled, case.args)
                except RuntimeError as e:
                    failures[name] = str(e).splitlines()[0]
        compile_s = None
        if with_compile:
            compiled = torch.compile(case.eager)
            sync()
            t0 = time.perf_counter()
            compiled(*case.args)
            sync()
            compile_s = time.perf_counter() - t0
            compiled(*case.args)
            variants["compile"] = (compiled, case.args)
        reference = case.eager(*case.args)
        # every call of a variant under its own pass state (see warm_jit)
        with_pass = {"optspec": True}

        def state(name):
            return torch_optspec.enabled(with_pass.get(name, False))

        errors = {}
        for name, (fn, args) in variants.items():
            with state(name):
                errors[name] = max_diff(fn(*args), reference)

        # Calls per timing block, from one call of the slowest variant.
        per_call = 0.0
        for name, (fn, args) in variants.items():
            with state(name):
                per_call = max(per_call, time_block(fn, args, 1))
        number = max(1, int(block_s / max(per_call, 1e-7)))
        names = list(variants)
        samples = {n: [] for n in names}
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                fn, args = variants[n]
                with state(n):
                    samples[n].append(time_block(fn, args, number))
    set_fuser("none")

    def paired(a, b):
        if a not in samples or b not in samples:
            return None
        return statistics.median(x / y for x, y in zip(samples[a], samples[b]))

    return {
        "name": case.name, "family": case.family, "fuser": case.fuser, "note": case.note,
        "calls_per_block": number, "rounds": rounds,
        "median_s": {n: statistics.median(v) for n, v in samples.items()},
        "samples_s": samples,
        "ratio_optspec_vs_stock": paired("optspec", "stock"),
        "ratio_optspec_vs_twin": paired("optspec", "twin"),
        "ratio_twin_vs_stock": paired("twin", "stock"),
        "ratio_compile_vs_stock": paired("compile", "stock"),
        "ratio_optspec_vs_stock_nofuser": paired("optspec", "stock_nofuser"),
        "ratio_optspec_vs_twin_nofuser": paired("optspec", "twin_nofuser"),
        "ratio_aot_vs_twin": paired("aot", "twin"),
        "ratio_aot_strict_vs_twin": paired("aot_strict", "twin"),
        "aot_plans": {k: plans[k].as_dict() for k in AOT_VARIANTS if k in plans},
        "failures": failures,
        "compile_first_call_s": compile_s,
        "plans": {k: (plans[k].as_dict() if k in plans else None) for k in JIT_VARIANTS},
        "plans_nofuser": {k: plans[k].as_dict() for k in NOFUSER_VARIANTS if k in plans},
        "max_abs_err_vs_eager": errors,
    }


def first_call_latency(make_case: Callable[[], Case], repeats: int, calls: int = 8) -> dict:
    """Seconds for the first `calls` calls of a freshly frozen module, with
    and without the pass; the variants alternate, medians over `repeats`
    fresh copies. Eight calls: the profiling run, the optimization, and, with
    the pass, the value site's learning calls and the value-specialized
    plan's own profiling run and optimization (the second compilation)."""
    case = to_device(make_case(), DEVICE)
    set_fuser(case.fuser)
    scripted = torch.jit.script(case.eager)
    out = {"stock": [], "optspec": []}
    with torch.no_grad():
        for _ in range(repeats):
            for name, with_pass in (("stock", False), ("optspec", True)):
                fresh = torch.jit.freeze(scripted)
                sync()
                t0 = time.perf_counter()
                with torch_optspec.enabled(with_pass):
                    for _ in range(calls):
                        fresh(*case.args)
                sync()
                out[name].append(time.perf_counter() - t0)
    set_fuser("none")
    ratios = [o / s for o, s in zip(out["optspec"], out["stock"])]
    return {"name": case.name, "calls": calls, "samples_s": out,
            "median_s": {k: statistics.median(v) for k, v in out.items()},
            "ratio_optspec_vs_stock": statistics.median(ratios)}


def guard_source(k: int) -> str:
    params = ", ".join(f"a{i}: Optional[Tensor] = None" for i in range(k))
    checks = "".join(f"    if a{i} is not None:\n        x = x + a{i}\n" for i in range(k))
    return (f"def with_checks(x: Tensor, {params}) -> Tensor:\n{checks}    return x\n\n"
            f"def without_checks(x: Tensor, {params}) -> Tensor:\n    return x\n")


def guard_overhead(ks=(1, 4, 8), rounds: int = 15, number: int = 20000) -> List[dict]:
    """Per-call time of a tiny scripted function with k Optional inputs, all
    None: stock (k If), optspec (guard + empty fast path) and a twin with no
    checks at all (same signature). optspec - twin is the guard's cost."""
    set_fuser("none")
    out = []
    x = torch.zeros(1, device=DEVICE)
    for k in ks:
        src = guard_source(k)  # TorchScript source: Optional and Tensor are built in
        fns = {}
        for name, with_pass in (("stock", False), ("optspec", True)):
            cu = torch.jit.CompilationUnit(src)
            fns[name] = cu.with_checks
            warm_jit(fns[name], (x,), with_pass)
        cu = torch.jit.CompilationUnit(src)
        fns["twin"] = cu.without_checks
        warm_jit(fns["twin"], (x,), False)
        guards = summarize_graph(torch.jit.last_executed_optimized_graph())
        samples = {n: [] for n in fns}
        with torch.no_grad():
            for r in range(rounds):
                for n in (list(fns)[r % 3:] + list(fns)[:r % 3]):
                    samples[n].append(time_block(fns[n], (x,), number))
        diffs = [o - t for o, t in zip(samples["optspec"], samples["twin"])]
        out.append({"k": k, "median_s": {n: statistics.median(v) for n, v in samples.items()},
                    "guard_overhead_s": statistics.median(diffs),
                    "guard_overhead_spread_s": [min(diffs), max(diffs)],
                    "twin_has_guard": guards.guards > 0})
    return out


def nnc_counts() -> List[dict]:
    """Fusion groups with NNC (interpreted kernels: counts only) on tiny shapes."""
    rows = []
    makers = [lambda m: bert_case(2, 1, 8, m, hidden=32, heads=4, fuser="nnc"),
              lambda m: attention_case(1, 8, m, hidden=32, heads=4, fuser="nnc")]
    for make in makers:
        for masked in (True, False):
            case = make(masked)  # on the CPU whatever --device says
            set_fuser("nnc", device="cpu")
            with torch.no_grad():
                plans = {
                    "stock": warm_jit(compile_jit(case.eager), case.args, False),
                    "optspec": warm_jit(compile_jit(case.eager), case.args, True),
                    "twin": warm_jit(compile_jit(case.twin), case.twin_args, False),
                }
            set_fuser("none", device="cpu")
            rows.append({"name": case.name, "plans": {k: v.as_dict() for k, v in plans.items()}})
    return rows


def fmt_ratio(r: Optional[float]) -> str:
    return "-" if r is None else f"{r:.3f}"


def main(argv=None) -> int:
    global DEVICE
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="fewer configs and rounds (~35 s)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where models and inputs go (cuda: NNC on the GPU replaces oneDNN)")
    parser.add_argument("--render-only", action="store_true",
                        help="re-write latest.md and latest.png from OUT/latest.json, run nothing")
    parser.add_argument("--out", default=RESULTS, help="results directory (default bench/results)")
    parser.add_argument("--only", metavar="PATTERN",
                        help="run only the rows whose name matches PATTERN (a substring or a "
                             "regular expression, re.search), and none of the first-call, "
                             "guard-overhead and NNC sections")
    args = parser.parse_args(argv)
    if args.render_only:
        render_dir(args.out)
        print(f"rendered {args.out}/latest.{{md,png}} from latest.json")
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device available")
    DEVICE = args.device
    t_start = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    torch_optspec.disable()
    rounds = 5 if args.quick else 9
    block_s = 0.15 if args.quick else 0.25
    results = {"mode": "quick" if args.quick else "full", "machine": machine_info(), "cases": []}
    for make in configs(args.quick):
        case = to_device(make(), DEVICE)
        if args.only and not re.search(args.only, case.name):
            continue
        print(f"[{time.perf_counter() - t_start:6.0f}s] {case.name}", flush=True)
        # torch.compile costs tens of seconds per shape on 2 cores: reference
        # rows only (full mode), on the smallest config of each model family.
        with_compile = not args.quick and not args.no_compile and case.name in COMPILE_ROWS
        results["cases"].append(run_case(case, rounds, block_s, with_compile))
        c = results["cases"][-1]
        print(f"         optspec/stock {fmt_ratio(c['ratio_optspec_vs_stock'])} optspec/twin "
              f"{fmt_ratio(c['ratio_optspec_vs_twin'])}"
              + (f" optspec/stock-no-fuser {fmt_ratio(c['ratio_optspec_vs_stock_nofuser'])} "
                 f"optspec/twin-no-fuser {fmt_ratio(c['ratio_optspec_vs_twin_nofuser'])}"
                 if c["plans_nofuser"] else "")
              + (f" failures {c['failures']}" if c["failures"] else "")
              + (f" aot/twin {fmt_ratio(c['ratio_aot_vs_twin'])} aot_strict/twin "
                 f"{fmt_ratio(c['ratio_aot_strict_vs_twin'])}" if c["aot_plans"] else ""), flush=True)
    if args.only:
        results.update(first_call=[], guard_overhead=[], nnc=[], only=args.only)
        return finish(results, args.out, t_start)
    print(f"[{time.perf_counter() - t_start:6.0f}s] first-call latency", flush=True)
    fc = [lambda: attention_case(1, 128, True)]
    if not args.quick:
        fc.insert(0, lambda: bert_case(2, 1, 128, True))
    results["first_call"] = [first_call_latency(m, 3 if args.quick else 5) for m in fc]
    print(f"[{time.perf_counter() - t_start:6.0f}s] guard overhead", flush=True)
    results["guard_overhead"] = guard_overhead(rounds=9 if args.quick else 15,
                                               number=5000 if args.quick else 20000)
    print(f"[{time.perf_counter() - t_start:6.0f}s] NNC counts", flush=True)
    results["nnc"] = nnc_counts()
    return finish(results, args.out, t_start)


def finish(results: dict, out: str, t_start: float) -> int:
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["wall_s"] = time.perf_counter() - t_start
    results["targets"] = targets(results)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    render(results, out)
    print("\n".join(results["targets"]))
    print(f"wrote {out}/latest.{{md,json,png}} in {results['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
