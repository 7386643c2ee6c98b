# ---- torch_optspec fuzz oracle (tests/fuzz/fuzz_oracle.py) ----
# Runs one fuzz case three ways and compares them call by call:
#   "on"    a scripted copy, profiled and optimized with torch_optspec enabled
#   "off"   another scripted copy of the same source, with torch_optspec disabled
#   "eager" the plain Python function / module
# The two scripted copies are independent (the case file is imported twice
# under different module names, so they have separate qualified names, graph
# executors and compiled plans).
#
# Compared per call: the outputs (structure, None-ness, values, dtype, shape,
# and which outputs are the input tensors themselves), the inputs afterwards
# (in-place updates the caller must see; tuples and lists of tensors leaf by
# leaf), whether the call raised, and with grad on, the gradient of x. Without
# a fuser everything must be bit-exact (NaNs equal); with the NNC or oneDNN
# fuser values use fp32 tolerances, and so does x.grad in a program that
# calls torch.jit.fork (stock autograd accumulates gradients in an order that
# depends on the thread each op ran on: its sequence numbers are per thread,
# so two runs of one plan can differ in the last bit). Non-tensor outputs (bool, int, float, str)
# must be equal.
#
# Cases come in two formats (fuzz_gen.py): "roles" + None-patterns (Optional
# [Tensor] inputs only), and "args" + per-argument value specs (format 2:
# Optional scalars, tuples and lists, bool/int/float flags, masks of several
# dtypes and ranks; modules may be called with keywords, HF style).
#
# oneDNN Graph cases (fuzz_gen.py mode "onednn", fuser "onednn"): stock torch's
# oneDNN Graph fails on many of them by itself (it raises, or computes another
# result), so "off" is not a reference there: "on" must equal eager; a call
# where only "off" differs from eager is counted apart (stock_failed_calls,
# stock_raised_calls), not as a mismatch. Stock's oneDNN Graph can also kill
# the process, so "on" and eager run first for every call, then
# before_stock(report) (fuzz_run.py keeps the verdict known by then), then
# "off" for the same calls.
#
# This file is also pasted verbatim into the standalone reproducers written by
# fuzz_run.py, so it imports only torch, torch_optspec and the standard library.
import contextlib
import importlib.util
import itertools
import sys
import warnings
from pathlib import Path

import torch
import torch_optspec
import torch_optspec.fusers

_ORACLE_COUNTER = itertools.count()
_SHAPES = {"act": [2, 3, 4], "vec": [4], "mask": [3, 3]}


def oracle_import(path, tag):
    """Import the case file at `path` as a fresh module."""
    name = f"optspec_case_{tag}_{next(_ORACLE_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # torch.jit.script finds class sources through it
    spec.loader.exec_module(module)
    return module


def oracle_inputs(case, call_index, pattern):
    """The arguments of call `call_index`: (x, [w,] o0, o1, ...)."""
    g = torch.Generator().manual_seed(case["seed"] % (2**31) * 1000 + call_index)
    args = [torch.randn(2, 3, 4, generator=g)]
    if case["kind"] == "function":
        args.append(torch.randn(4, 4, generator=g) * 0.3)
    for role, is_none in zip(case["roles"], pattern):
        t = torch.randn(_SHAPES[role], generator=g)
        args.append(None if is_none else t)
    return args


_MASK_SHAPES = {
    "attn": {2: [3, 3], 3: [2, 3, 3], 4: [2, 1, 3, 3]},
    "pad": {2: [2, 3], 3: [2, 3, 3], 4: [2, 1, 3, 3]},
    "feat": {2: [3, 4], 3: [2, 3, 4]},
}
_DTYPES = {"bool": torch.bool, "f32": torch.float32, "f64": torch.float64, "i64": torch.int64}


def _make_value(arg, spec, g):
    """The argument value a value spec of a format-2 case stands for (see
    fuzz_gen.py: None, "T", "<dtype>:<rank>", "KV<p>", "L<n>", or the value)."""
    kind = arg["kind"]
    if spec is None:
        return None
    if kind == "opt_tensor":
        return torch.randn(_SHAPES[arg["role"]], generator=g)
    if kind == "mask":
        dtype, rank = spec.split(":")
        shape = _MASK_SHAPES[arg["sub"]][int(rank)]
        u = torch.rand(shape, generator=g)
        if arg["sub"] == "feat" or (arg["sub"] == "attn" and dtype in ("f32", "f64")):
            return torch.randn(shape, generator=g).to(_DTYPES[dtype])   # additive / features
        # attn: True = masked out (torch.nn); pad: 1 = keep (HF). The first
        # key is never masked, as in real masks (a fully masked row makes
        # stock NNC's softmax return NaN where eager does not).
        hit = u < 0.3 if arg["sub"] == "attn" else u > 0.3
        hit[..., 0] = arg["sub"] != "attn"
        return hit.to(_DTYPES[dtype])
    if kind == "opt_kv":
        p = int(spec[2:])
        return (torch.randn(2, p, 4, generator=g), torch.randn(2, p, 4, generator=g))
    if kind == "opt_list":
        return [torch.randn(2, 3, 4, generator=g) for _ in range(int(spec[1:]))]
    return spec   # bool, int, float, str


def oracle_call_args(case, call_index, call):
    """(positional arguments, keyword arguments) of call `call_index`."""
    if "args" not in case:
        return oracle_inputs(case, call_index, call), {}
    g = torch.Generator().manual_seed(case["seed"] % (2**31) * 1000 + call_index)
    pos = [torch.randn(2, 3, 4, generator=g)]
    if case["kind"] == "function":
        pos.append(torch.randn(4, 4, generator=g) * 0.3)
    kw = {}
    keywords = case.get("call_style") == "keywords"
    for arg, spec in zip(case["args"], call):
        value = _make_value(arg, spec, g)
        if keywords and "default" in arg:
            # HF style: pass by name, leave out what equals the default
            d = arg["default"]
            if not (value is d or (type(value) is type(d) and value == d)):
                kw[arg["name"]] = value
        elif kw:
            raise AssertionError("a positional argument after keyword ones")
        else:
            pos.append(value)
    return pos, kw


def _FuserState(fuser):
    """Turns on the fuser a case asks for (torch_optspec.fusers), restores
    the previous state."""
    if fuser == "nnc":
        return torch_optspec.fusers.nnc_cpu()
    if fuser == "onednn":
        return torch_optspec.fusers.onednn()
    return contextlib.nullcontext()


def oracle_targets(path, case):
    """(on, off, eager) callables for the case."""
    mods = [oracle_import(path, tag) for tag in ("on", "off", "eager")]
    if case["kind"] == "function":
        return torch.jit.script(mods[0].fn), torch.jit.script(mods[1].fn), mods[2].fn
    models = [m.Model() for m in mods]
    scripted = [torch.jit.script(m) for m in models[:2]]
    if case["fuser"] == "onednn":
        scripted = [torch.jit.freeze(s.eval()) for s in scripted]
        models[2].eval()
    return scripted[0], scripted[1], models[2]


def _flatten(value, out):
    if isinstance(value, (tuple, list)):
        out.append(("seq", len(value)))
        for v in value:
            _flatten(v, out)
    else:
        out.append(value)
    return out


def _describe(v):
    if isinstance(v, torch.Tensor):
        return f"Tensor{list(v.shape)} {v.dtype}"
    return repr(v)


def _diff(a, b, exact):
    """None when a and b agree, else a description of the difference."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{_describe(a)} vs {_describe(b)}"
        try:
            a, b = a.detach(), b.detach()
            if exact:
                torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
            else:
                torch.testing.assert_close(a, b, rtol=1.3e-6 * 10, atol=1e-5, equal_nan=True)
        except AssertionError as e:
            return str(e).splitlines()[0] + f" (max abs diff {(a - b).abs().max().item():g})"
        return None
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor) or a != b:
        return f"{_describe(a)} vs {_describe(b)}"
    return None


def _clone(v):
    if isinstance(v, torch.Tensor):
        return v.clone()
    if isinstance(v, tuple):
        return tuple(_clone(t) for t in v)
    if isinstance(v, list):
        return [_clone(t) for t in v]
    return v


def _run_once(target, args, case, mode, kwargs=None):
    """Call target on fresh clones of args (and kwargs). Returns a dict with
    the flattened outputs, the inputs afterwards (flattened: tuples and lists
    of tensors become their leaves), the aliasing of outputs to input tensors,
    the error (if it raised) and x's gradient (grad cases)."""
    inputs = [_clone(a) for a in args]
    kw = {k: _clone(v) for k, v in (kwargs or {}).items()}
    if case["grad"]:
        inputs[0].requires_grad_(True)
    grad_ctx = torch.enable_grad() if case["grad"] else torch.no_grad()
    def mode_ctx():
        return torch_optspec.enabled(mode) if mode is not None else _Nothing()

    leaves_in = []
    for a in inputs + list(kw.values()):
        _flatten(a, leaves_in)
    result = {"error": None, "outputs": None, "inputs": leaves_in, "alias": None, "grad": None}
    tensors_in = [a for a in leaves_in if isinstance(a, torch.Tensor)]
    try:
        with grad_ctx, mode_ctx(), warnings.catch_warnings():
            # eager torch.jit.fork/wait warn that they are deprecated (a
            # DeprecationWarning up to torch 2.13, a FutureWarning from 2.14)
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
            out = target(*inputs, **kw)
        leaves = _flatten(out, [])
        result["outputs"] = leaves
        result["alias"] = [
            next((i for i, a in enumerate(tensors_in) if v is a), -1)
            if isinstance(v, torch.Tensor) else None
            for v in leaves
        ]
        if case["grad"]:
            needs = [v for v in leaves if isinstance(v, torch.Tensor) and v.requires_grad]
            if needs:
                with mode_ctx():
                    sum(v.sum() for v in needs).backward()
            result["grad"] = inputs[0].grad
    except Exception as e:  # noqa: BLE001 - every error is compared
        result["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    return result


class _Nothing:
    def __init__(self, *a):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _compare(ref, got, exact, label, exact_grad=None):
    """Differences between two runs of the same call, as strings."""
    problems = []
    if (ref["error"] is None) != (got["error"] is None):
        return [f"{label}: raised {got['error']!r} vs {ref['error']!r}"]
    if ref["error"] is not None:
        return []
    ro, go = ref["outputs"], got["outputs"]
    if len(ro) != len(go):
        return [f"{label}: output structure {len(go)} leaves vs {len(ro)}"]
    for k, (a, b) in enumerate(zip(ro, go)):
        if (isinstance(a, tuple) and a and a[0] == "seq") or (isinstance(b, tuple) and b and b[0] == "seq"):
            if a != b:
                problems.append(f"{label}: output structure at leaf {k}: {b} vs {a}")
            continue
        d = _diff(a, b, exact)
        if d:
            problems.append(f"{label}: output leaf {k}: {d}")
    if ref["alias"] != got["alias"]:
        problems.append(f"{label}: outputs aliasing inputs {got['alias']} vs {ref['alias']}")
    if len(ref["inputs"]) != len(got["inputs"]):
        problems.append(f"{label}: arguments after the call: {len(got['inputs'])} leaves vs {len(ref['inputs'])}")
    for k, (a, b) in enumerate(zip(ref["inputs"], got["inputs"])):
        d = _diff(a, b, exact) if (a is not None or b is not None) else None
        if d:
            problems.append(f"{label}: argument leaf {k} after the call (in-place update): {d}")
    if (ref["grad"] is None) != (got["grad"] is None):
        problems.append(f"{label}: x.grad {_describe(got['grad'])} vs {_describe(ref['grad'])}")
    elif ref["grad"] is not None:
        d = _diff(ref["grad"], got["grad"], exact if exact_grad is None else exact_grad)
        if d:
            problems.append(f"{label}: x.grad: {d}")
    return problems


def _stats_flat():
    s = torch_optspec.stats()
    return {k: v for k, v in s.items() if not isinstance(v, dict)}


def _cause(problems):
    """Who a call's differences point at:
    "pass"     pass on differs from pass off (and from eager), or the pass ran
               while disabled: a bug of torch_optspec;
    "off_only" pass on equals eager, pass off differs from both: a stock bug
               the specialization happens to avoid;
    "stock"    pass on equals pass off, both differ from eager: stock
               TorchScript (or a stock fuser);
    "unclear"  only on vs eager, each within the fuser tolerance of pass off.
    """
    on_off = any(p.startswith("on vs off") for p in problems)
    on_eager = any(p.startswith("on vs eager") for p in problems)
    off_eager = any(p.startswith("off vs eager") for p in problems)
    if any(p.startswith("the pass ran") for p in problems):
        return "pass"
    if on_off:
        return "off_only" if off_eager and not on_eager else "pass"
    if off_eager:
        return "stock"
    return "unclear"


LATE_AFTER = 8


def _fixed_key(case, call):
    """The part of a call that stays fixed per pattern (values of arguments
    that vary per call only count as None / present)."""
    if "args" not in case:
        return tuple(call)
    return tuple(repr(v) if a.get("vary") != "call" else v is None
                 for a, v in zip(case["args"], call))


def oracle_run(path, case=None, stop_at_first=True, trace=False, before_stock=None):
    """Run the case file at `path` (its CASE dict unless `case` is given).

    Returns {"calls", "patterns", "specialized", "graphs_specialized",
    "rejected", "raised", "mismatches": [...], "first_bad_call", "cause",
    "stats", "spec_late", "stock_failed_calls", "stock_raised_calls",
    "stock_problems"}. Each mismatch has the call, its pattern, the
    problems and their cause (_cause). A mismatch of stock TorchScript ("stock",
    "off_only") does not stop the run (a later call may still show one of the
    pass); with stop_at_first the run stops at the first other one.
    first_bad_call is that call if there is one, else the first stock one;
    cause is "pass" or "unclear" if any call had such a mismatch, else the
    cause of the first stock one (or None).
    stats: the changes of torch_optspec.stats() over the pass-on calls.
    trace: print each call, what it changed in stats() and its differences.
    spec_late: graphs specialized during calls whose fixed part (_fixed_key)
    had already been seen LATE_AFTER times: a sign of specializing values that
    vary per call (format-2 cases with such values end with 8 calls of their
    first pattern).

    oneDNN Graph cases (fuser "onednn") run "on" and eager for every call
    first, then call before_stock(report) if given (report then holds the
    calls' on-vs-eager differences, each with cause "unclear": the stock
    copy's verdict is not known yet), then run "off" for those calls; stock
    torch's oneDNN Graph can kill the process, fuzz_run.py keeps that verdict.
    There a call where "on" equals eager but "off" does not is no mismatch:
    it counts in stock_failed_calls (stock_raised_calls if "off" raised;
    stock_problems: the first such differences). A call where "on" differs
    from eager gets its cause from all three comparisons as above ("stock":
    "off" fails the same way); "on vs off" alone (both within tolerance of
    eager) is "pass" as in the other cases. "off_only" does not occur there.
    """
    if case is None:
        case = oracle_import(path, "case").CASE
    exact = case["fuser"] == "none"
    # gradients through torch.jit.fork: fp32 tolerance (see the top of the file)
    exact_grad = exact and "torch.jit.fork" not in Path(path).read_text()
    report = {
        "seed": case["seed"], "calls": 0, "patterns": len({_fixed_key(case, p) for p in case["calls"]}),
        "specialized": False, "graphs_specialized": 0, "rejected": 0, "raised": 0,
        "mismatches": [], "first_bad_call": None, "cause": None, "stats": {}, "spec_late": 0,
        "stock_failed_calls": 0, "stock_raised_calls": 0, "stock_problems": [],
    }
    seen = {}
    state = {"first_stock": None}

    def run_on(k, pattern, args, kwargs, off=None):
        """The pass-on call (and the pass-off one if `off` is given, between
        the same stats reads as always). Returns (r_on, r_off, middle, after)."""
        before = _stats_flat()
        r_on = _run_once(on, args, case, True, kwargs)
        middle = _stats_flat()
        r_off = _run_once(off, args, case, False, kwargs) if off is not None else None
        after = _stats_flat()
        report["calls"] += 1
        spec = middle["graphs_specialized"] - before["graphs_specialized"]
        report["graphs_specialized"] += spec
        report["rejected"] += middle["graphs_rejected"] - before["graphs_rejected"]
        changed = {}
        for name in middle:
            delta = middle[name] - before.get(name, 0)
            if delta:
                changed[name] = delta
                report["stats"][name] = report["stats"].get(name, 0) + delta
        key = _fixed_key(case, pattern)
        if seen.get(key, 0) >= LATE_AFTER:
            report["spec_late"] += spec
        seen[key] = seen.get(key, 0) + 1
        return r_on, r_off, middle, after, changed

    def traced(k, pattern, changed, r_eager, problems, label=""):
        if not trace:
            return
        if changed is not None:
            print(f"call {k} {pattern}{label}: stats {changed}"
                  + (f" raised {r_eager['error']!r}" if r_eager["error"] else ""), flush=True)
        elif problems:
            print(f"call {k} {pattern}{label}:", flush=True)
        for p in problems:
            print("   ", p, flush=True)

    def record(k, pattern, problems, cause=None):
        """Adds a mismatch; True when the run stops here."""
        cause = cause or _cause(problems)
        report["mismatches"].append({"call": k, "pattern": pattern, "problems": problems,
                                     "cause": cause})
        if cause in ("stock", "off_only"):
            if state["first_stock"] is None:
                state["first_stock"] = (k, cause)
            return False
        if report["first_bad_call"] is None:
            report["first_bad_call"] = k
            report["cause"] = cause
        return stop_at_first

    with _FuserState(case["fuser"]):
        on, off, eager = oracle_targets(path, case)
        if case["fuser"] != "onednn":
            for k, pattern in enumerate(case["calls"]):
                args, kwargs = oracle_call_args(case, k, pattern)
                r_on, r_off, middle, after, changed = run_on(k, pattern, args, kwargs, off)
                r_eager = _run_once(eager, args, case, None, kwargs)
                report["raised"] += r_eager["error"] is not None
                problems = _compare(r_off, r_on, exact, "on vs off", exact_grad)
                problems += _compare(r_eager, r_on, exact, "on vs eager", exact_grad)
                problems += _compare(r_eager, r_off, exact, "off vs eager", exact_grad)
                if after != middle:
                    problems.append(f"the pass ran while disabled: stats {middle} -> {after}")
                traced(k, pattern, changed, r_eager, problems)
                if problems and record(k, pattern, problems):
                    break
        else:
            # 1. pass on and eager, every call (all of them: whether an
            # on-vs-eager difference is stock's is known only after step 3)
            runs = []
            for k, pattern in enumerate(case["calls"]):
                args, kwargs = oracle_call_args(case, k, pattern)
                r_on, _, _, _, changed = run_on(k, pattern, args, kwargs)
                r_eager = _run_once(eager, args, case, None, kwargs)
                report["raised"] += r_eager["error"] is not None
                on_eager = _compare(r_eager, r_on, exact, "on vs eager", exact_grad)
                traced(k, pattern, changed, r_eager, on_eager, " (pass on)")
                runs.append((k, pattern, args, kwargs, r_on, r_eager, on_eager))
            # 2. the verdict so far, before stock torch runs (it may not return)
            for k, pattern, _, _, _, _, on_eager in runs:
                if on_eager and record(k, pattern, on_eager, "unclear"):
                    break
            if before_stock is not None:
                before_stock(report)
            report["mismatches"], report["first_bad_call"], report["cause"] = [], None, None
            # 3. pass off (stock torch's oneDNN Graph), the same calls
            for k, pattern, args, kwargs, r_on, r_eager, on_eager in runs:
                middle = _stats_flat()
                r_off = _run_once(off, args, case, False, kwargs)
                after = _stats_flat()
                off_eager = _compare(r_eager, r_off, exact, "off vs eager", exact_grad)
                if off_eager:
                    report["stock_failed_calls"] += 1
                    report["stock_raised_calls"] += r_off["error"] is not None
                    if not report["stock_problems"]:
                        report["stock_problems"] = off_eager[:2]
                on_off = _compare(r_off, r_on, exact, "on vs off", exact_grad)
                # "off" failing alone is stock's own failure, counted above
                problems = on_off + on_eager + off_eager if on_eager or not off_eager else []
                if after != middle:
                    problems.append(f"the pass ran while disabled: stats {middle} -> {after}")
                traced(k, pattern, None, r_eager, problems or off_eager, " (pass off)")
                if problems and record(k, pattern, problems):
                    break
    if report["first_bad_call"] is None and state["first_stock"] is not None:
        report["first_bad_call"], report["cause"] = state["first_stock"]
    report["specialized"] = report["graphs_specialized"] > 0
    return report
# ---- end of oracle ----


def report_main(path) -> int:
    """Run the case in `path`, print the differences, return the exit code
    (1 while it fails). The `__main__` of committed regressions; with
    --trace on the command line, every call and its stats() changes."""
    def before_stock(report):
        # oneDNN Graph cases: printed before the pass-off copy runs (stock
        # torch's oneDNN Graph can kill the process)
        print("on vs eager:", "MISMATCH" if report["mismatches"] else "OK", flush=True)

    report = oracle_run(path, trace="--trace" in sys.argv[1:], before_stock=before_stock)
    for m in report["mismatches"]:
        print(f"call {m['call']} pattern {m['pattern']} ({m['cause']}):")
        for p in m["problems"]:
            print("   ", p)
    keys = ("calls", "patterns", "graphs_specialized", "rejected")
    if report["stock_failed_calls"]:
        keys += ("stock_failed_calls", "stock_raised_calls", "stock_problems")
    print("MISMATCH" if report["mismatches"] else "OK", {k: report[k] for k in keys})
    return 1 if report["mismatches"] else 0


if __name__ == "__main__" and "CASE" not in globals():
    # python tests/fuzz/fuzz_oracle.py <case file> [--trace]  (a file from
    # `python tests/fuzz/fuzz_gen.py <seed> <kinds> > case.py`); a reproducer
    # carries this file with its own __main__ and CASE, and skips this one.
    sys.exit(report_main(sys.argv[1]))
