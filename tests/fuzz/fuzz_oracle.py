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
# (in-place updates the caller must see), whether the call raised, and with
# grad on, the gradient of x. Without a fuser everything must be bit-exact
# (NaNs equal); with the NNC or oneDNN fuser values use fp32 tolerances.
#
# oneDNN Graph cases (fuzz_gen.py mode "onednn"): stock torch's oneDNN Graph
# fails on many of them by itself (it raises, or computes another result), so
# "off" is not a reference there: "on" must equal eager, "on" is compared to
# "off" only on the calls where "off" equals eager, and the calls where "off"
# does not are counted apart (stock_failed_calls, stock_raised_calls).
#
# This file is also pasted verbatim into the standalone reproducers written by
# fuzz_run.py, so it imports only torch, torch_optspec and the standard library.
import contextlib
import importlib.util
import itertools
import sys
import warnings

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


def _run_once(target, args, case, mode):
    """Call target on fresh clones of args. Returns a dict with the flattened
    outputs, the inputs afterwards, the aliasing of outputs to inputs, the
    error (if it raised) and x's gradient (grad cases)."""
    inputs = [a.clone() if a is not None else None for a in args]
    if case["grad"]:
        inputs[0].requires_grad_(True)
    grad_ctx = torch.enable_grad() if case["grad"] else torch.no_grad()
    def mode_ctx():
        if mode is None:
            return _Nothing()
        if mode and case["fuser"] == "onednn":
            # forked tasks compile on other threads, which follow the global
            # switch: a user enabling the pass for oneDNN Graph enables it
            # there too
            return _GloballyEnabled()
        return torch_optspec.enabled(mode)

    result = {"error": None, "outputs": None, "inputs": inputs, "alias": None, "grad": None}
    try:
        with grad_ctx, mode_ctx(), warnings.catch_warnings():
            # eager torch.jit.fork/wait warn that they are deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            out = target(*inputs)
        leaves = _flatten(out, [])
        result["outputs"] = leaves
        result["alias"] = [
            next((i for i, a in enumerate(inputs) if a is not None and v is a), -1)
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


class _GloballyEnabled:
    """torch_optspec.enable() for the duration (the oracle never enables the
    pass globally otherwise), and enabled on this thread."""
    def __enter__(self):
        torch_optspec.enable()
        self._thread = torch_optspec.enabled(True)
        self._thread.__enter__()
        return self

    def __exit__(self, *exc):
        self._thread.__exit__(*exc)
        torch_optspec.disable()
        return False


class _Nothing:
    def __init__(self, *a):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _compare(ref, got, exact, label):
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
    for k, (a, b) in enumerate(zip(ref["inputs"], got["inputs"])):
        d = _diff(a, b, exact) if (a is not None or b is not None) else None
        if d:
            problems.append(f"{label}: argument {k} after the call (in-place update): {d}")
    if (ref["grad"] is None) != (got["grad"] is None):
        problems.append(f"{label}: x.grad {_describe(got['grad'])} vs {_describe(ref['grad'])}")
    elif ref["grad"] is not None:
        d = _diff(ref["grad"], got["grad"], exact)
        if d:
            problems.append(f"{label}: x.grad: {d}")
    return problems


def _stats_flat():
    s = torch_optspec.stats()
    return {k: v for k, v in s.items() if not isinstance(v, dict)}


def oracle_run(path, case=None, stop_at_first=True, before_stock=None):
    """Run the case file at `path` (its CASE dict unless `case` is given).

    Returns {"calls", "patterns", "specialized", "graphs_specialized",
    "rejected", "raised", "mismatches": [...], "first_bad_call",
    "stock_failed_calls", "stock_raised_calls", "stock_problems"}.

    oneDNN Graph cases run "on" and eager for every call first, then call
    before_stock(report) (the verdict on the pass is known by then: stock
    torch's oneDNN Graph can kill the process, fuzz_run.py keeps that verdict),
    then run "off".
    """
    if case is None:
        case = oracle_import(path, "case").CASE
    exact = case["fuser"] == "none"
    onednn = case["fuser"] == "onednn"
    report = {
        "seed": case["seed"], "calls": 0, "patterns": len({tuple(p) for p in case["calls"]}),
        "specialized": False, "graphs_specialized": 0, "rejected": 0, "raised": 0,
        "mismatches": [], "first_bad_call": None,
        "stock_failed_calls": 0, "stock_raised_calls": 0, "stock_problems": [],
        "pattern_set": sorted({"".join(map(str, p)) for p in case["calls"]}),
    }

    def record(k, pattern, problems):
        if problems:
            report["mismatches"].append({"call": k, "pattern": pattern, "problems": problems})
            if report["first_bad_call"] is None:
                report["first_bad_call"] = k
        return bool(problems) and stop_at_first

    with _FuserState(case["fuser"]):
        on, off, eager = oracle_targets(path, case)
        if not onednn:
            for k, pattern in enumerate(case["calls"]):
                args = oracle_inputs(case, k, pattern)
                before = _stats_flat()
                r_on = _run_once(on, args, case, True)
                middle = _stats_flat()
                r_off = _run_once(off, args, case, False)
                after = _stats_flat()
                r_eager = _run_once(eager, args, case, None)
                report["calls"] += 1
                report["raised"] += r_eager["error"] is not None
                report["graphs_specialized"] += middle["graphs_specialized"] - before["graphs_specialized"]
                report["rejected"] += middle["graphs_rejected"] - before["graphs_rejected"]
                problems = _compare(r_off, r_on, exact, "on vs off")
                problems += _compare(r_eager, r_on, exact, "on vs eager")
                problems += _compare(r_eager, r_off, exact, "off vs eager")
                if after != middle:
                    problems.append(f"the pass ran while disabled: stats {middle} -> {after}")
                if record(k, pattern, problems):
                    break
        else:
            runs = []
            for k, pattern in enumerate(case["calls"]):
                args = oracle_inputs(case, k, pattern)
                before = _stats_flat()
                r_on = _run_once(on, args, case, True)
                middle = _stats_flat()
                r_eager = _run_once(eager, args, case, None)
                report["calls"] += 1
                report["raised"] += r_eager["error"] is not None
                report["graphs_specialized"] += middle["graphs_specialized"] - before["graphs_specialized"]
                report["rejected"] += middle["graphs_rejected"] - before["graphs_rejected"]
                runs.append((k, pattern, args, r_on, r_eager))
                if record(k, pattern, _compare(r_eager, r_on, exact, "on vs eager")):
                    break
            if before_stock is not None:
                before_stock(report)
            for k, pattern, args, r_on, r_eager in runs:
                middle = _stats_flat()
                r_off = _run_once(off, args, case, False)
                after = _stats_flat()
                problems = []
                stock = _compare(r_eager, r_off, exact, "off vs eager")
                if stock:
                    report["stock_failed_calls"] += 1
                    report["stock_raised_calls"] += r_off["error"] is not None
                    if not report["stock_problems"]:
                        report["stock_problems"] = stock[:2]
                else:
                    problems += _compare(r_off, r_on, exact, "on vs off")
                if after != middle:
                    problems.append(f"the pass ran while disabled: stats {middle} -> {after}")
                if record(k, pattern, problems):
                    break
    report["specialized"] = report["graphs_specialized"] > 0
    return report
# ---- end of oracle ----


def report_main(path) -> int:
    """Run the case in `path`, print the differences, return the exit code
    (1 while it fails). The `__main__` of committed regressions."""
    def before_stock(report):
        # printed before the pass-off copy runs: stock torch's oneDNN Graph
        # can kill the process
        print("on vs eager:", "MISMATCH" if report["mismatches"] else "OK", flush=True)

    report = oracle_run(path, before_stock=before_stock)
    for m in report["mismatches"]:
        print(f"call {m['call']} pattern {m['pattern']}:")
        for p in m["problems"]:
            print("   ", p)
    print("MISMATCH" if report["mismatches"] else "OK", {
        k: report[k] for k in ("calls", "patterns", "graphs_specialized", "rejected")})
    return 1 if report["mismatches"] else 0
