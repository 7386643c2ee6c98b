"""One model of the real-model suite, all variants, in one process:

    python -m bench.real_models.worker --model NAME --event-fd N [--skip JSON] ...

Run by the supervisor (bench.real_models.harness.supervise), which enforces
the per-phase time limits announced on the event pipe and restarts this
process without a variant that ran out of time or crashed it.

Variants (VARIANTS): eager; the scripted model frozen, stock or with
torch_optspec, without a fuser or with oneDNN Graph; torch.compile. Each JIT
variant is its own freshly scripted copy (torch_optspec.fresh_copy: scripted
instances of one class share compiled methods and plans), frozen, and every
call of it (its first calls, its timing blocks) runs under its own pass
state (torch_optspec.enabled(...)) and its own fuser setting (the oneDNN
switch is process-global): plans compiled later (a fallback, an outlined
fast path) see the same state as the first ones.
"""
import argparse
import json
import os
import statistics
import sys
import time
from typing import Dict, List, Optional

import torch

import torch_optspec
from torch_optspec import census

from ..run import max_diff, set_fuser
from .harness import first_line, rotate
from .models import find

# name -> (kind, with the pass, fuser)
VARIANTS: Dict[str, tuple] = {
    "eager": ("eager", False, "none"),
    "stock": ("jit", False, "none"),
    "stock_onednn": ("jit", False, "onednn"),
    "optspec": ("jit", True, "none"),
    "optspec_onednn": ("jit", True, "onednn"),
    "compile": ("compile", False, "none"),
}
BASELINE = "stock"
FIRST_CALLS = 8
FIRST_CALLS_ORDER = ("eager", "optspec_onednn", "stock_onednn", "stock", "optspec", "compile")


class Events:
    def __init__(self, fd: Optional[int]):
        self.f = os.fdopen(fd, "w", buffering=1) if fd is not None else None

    def send(self, **ev) -> None:
        if self.f is not None:
            self.f.write(json.dumps(ev, default=str) + "\n")
            self.f.flush()


def onednn_nodes(graph) -> Dict[str, int]:
    """oneDNN Graph groups and their guards on the path a matching call runs
    (the top-level graph and an outlined fast path or learned plan)."""
    graphs = [graph]
    try:
        inner = census.effective_plan(graph)
        if inner is not graph:
            graphs.append(inner)
        if census.guard_nodes(inner):
            fast = census.fast_path(inner)
            if fast is not None:
                graphs.append(fast)
    except Exception:  # noqa: BLE001 - a census question, not a result
        pass
    counts = {"prim::oneDNNFusionGroup": 0, "prim::oneDNNFusionGuard": 0}
    seen = set()
    for g in graphs:
        if id(g) in seen:
            continue
        seen.add(id(g))
        for n in census.nodes(g, recurse_subgraphs=False):
            if n.kind() in counts:
                counts[n.kind()] += 1
    return counts


def extension_info() -> dict:
    """Which build of the extension this process loaded (the checkout's is
    rebuilt in place during development): each torch_optspec shared library
    mapped into the process (the binding _C and libtorch_optspec, which holds
    the passes), its mtime and sha256 prefix. Called at the worker's start,
    right after the import."""
    import hashlib
    pkg = os.path.dirname(os.path.realpath(torch_optspec.__file__)) + os.sep
    paths = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split(maxsplit=5)
                path = fields[5].strip() if len(fields) == 6 else ""
                if path.startswith(pkg) and ".so" in os.path.basename(path):
                    paths.add(path)
    except OSError:
        pass
    c_path = getattr(torch_optspec._C, "__file__", None)
    if c_path:
        paths.add(os.path.realpath(c_path))
    libs = {}
    for path in sorted(paths):
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()[:16]
            libs[os.path.basename(path)] = {
                "path": path, "sha256": digest,
                "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(path)))}
        except OSError as e:
            libs[os.path.basename(path)] = {"path": path, "error": str(e)}
    key = "+".join(v.get("sha256", "?")[:8] for _, v in sorted(libs.items()))
    return {"libraries": libs, "sha256": key, "version": torch_optspec.__version__}


def plan_summary() -> dict:
    g = torch.jit.last_executed_optimized_graph()
    s = census.summarize_graph(g).as_dict()
    s["onednn_nodes"] = onednn_nodes(g)
    s.pop("fusion_group_ops", None)
    return s


class Variant:
    def __init__(self, name: str):
        self.name = name
        self.kind, self.with_pass, self.fuser = VARIANTS[name]
        self.fn = None
        self.failure: Optional[str] = None
        self.failure_full: Optional[str] = None
        self.failed_in: Optional[str] = None
        self.first_calls_s: List[float] = []
        self.build_s: Dict[str, float] = {}
        self.errors: List[float] = []
        self.samples: List[float] = []
        self.cpu_share: List[float] = []
        self.plan_warm: Optional[dict] = None
        self.plan: Optional[dict] = None

    def state(self):
        """This variant's fuser and pass state, for any call of it."""
        set_fuser(self.fuser)
        return torch_optspec.enabled(self.with_pass)

    def fail(self, where: str, e: BaseException) -> None:
        self.failure, self.failed_in = first_line(e), where
        self.failure_full = f"{type(e).__name__}: {e}"[:4000]
        self.fn = None
        self.samples = []
        self.cpu_share = []

    def as_dict(self) -> dict:
        return {"kind": self.kind, "with_pass": self.with_pass, "fuser": self.fuser,
                "failure": self.failure, "failed_in": self.failed_in,
                "failure_full": self.failure_full,
                "first_calls_s": self.first_calls_s, "build_s": self.build_s,
                "max_abs_err": max(self.errors) if self.errors else None,
                "errors_checked": len(self.errors),
                "samples_s": self.samples, "cpu_share": self.cpu_share, "median_s": statistics.median(self.samples) if self.samples else None,
                "plan_after_first_calls": self.plan_warm, "plan": self.plan}


def build(v: Variant, module: torch.nn.Module):
    """The callable of a variant (timed into v.build_s)."""
    if v.kind == "eager":
        return module
    if v.kind == "compile":
        t0 = time.perf_counter()
        fn = torch.compile(module)
        v.build_s["compile_wrap"] = time.perf_counter() - t0
        return fn
    with v.state():
        t0 = time.perf_counter()
        scripted = torch.jit.script(module)
        t1 = time.perf_counter()
        # own class types, methods and executors: no plan shared with the
        # other variants (or with a scripted module an earlier variant made)
        fresh = torch_optspec.fresh_copy(scripted)
        t2 = time.perf_counter()
        frozen = torch.jit.freeze(fresh.eval())
        t3 = time.perf_counter()
    v.build_s.update(script=t1 - t0, fresh_copy=t2 - t1, freeze=t3 - t2)
    return frozen


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.real_models.worker")
    p.add_argument("--model", required=True)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--skip", default="{}", help="JSON {variant: failure text}: not run")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--block-s", type=float, default=1.0, help="target seconds per timing block")
    p.add_argument("--min-calls", type=int, default=1, help="calls per timing block, at least")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--first-calls-limit", type=float, default=180.0)
    p.add_argument("--compile-limit", type=float, default=420.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--event-fd", type=int)
    a = p.parse_args(argv)
    ev = Events(a.event_fd)
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch_optspec.disable()
    skip = json.loads(a.skip)
    spec = find(a.model)
    if spec is None:
        raise SystemExit(f"unknown model {a.model!r}")
    loadavg_start = os.getloadavg()
    extension = extension_info()

    ev.send(ev="begin", variant=None, phase="build_model", limit_s=300)
    t0 = time.perf_counter()
    built = spec.build()
    build_model_s = time.perf_counter() - t0
    ev.send(ev="end", variant=None, phase="build_model")
    module, args = built.module, built.args

    names = [n for n in a.variants.split(",") if n]
    variants = {n: Variant(n) for n in names}
    with torch.no_grad():
        # the reference: eager, called once before anything is timed
        ev.send(ev="begin", variant=None, phase="reference", limit_s=300)
        set_fuser("none")
        with torch_optspec.enabled(False):
            reference = module(*args)
        ev.send(ev="end", variant=None, phase="reference")

        # One throwaway scripted copy, run three times without the pass or a
        # fuser, before any first call is timed: the process's one-time costs
        # (the first TorchScript compilation and profiling run, operator
        # lookups, kernels) would otherwise land on whichever JIT variant
        # comes first. It is what the baseline does: if it hangs or crashes
        # the baseline is the variant skipped (and the warm-up with it).
        jit_warmup = None
        if BASELINE in variants and BASELINE not in skip:
            ev.send(ev="begin", variant=BASELINE, phase="jit_warmup", limit_s=a.first_calls_limit)
            t0 = time.perf_counter()
            try:
                with torch_optspec.enabled(False):
                    w = torch.jit.freeze(torch_optspec.fresh_copy(torch.jit.script(module)).eval())
                    for _ in range(3):
                        w(*args)
                    del w
                jit_warmup = {"s": time.perf_counter() - t0, "error": None}
            except Exception as e:  # noqa: BLE001 - the variants report it
                jit_warmup = {"s": time.perf_counter() - t0, "error": first_line(e)}
            ev.send(ev="end", variant=BASELINE, phase="jit_warmup")

        # first calls, one variant after the other, each under its limit; the
        # oneDNN variants (the slow first calls, the ones most likely to run
        # out of time) right after eager, so that a restart without one of
        # them redoes little; torch.compile last
        for n in sorted(variants, key=lambda n: FIRST_CALLS_ORDER.index(n)):
            v = variants[n]
            if n in skip:
                v.failure, v.failed_in = skip[n], "first_calls"
                continue
            limit = a.compile_limit if v.kind == "compile" else a.first_calls_limit
            ev.send(ev="begin", variant=n, phase="first_calls", limit_s=limit)
            try:
                fn = build(v, module)
                for _ in range(FIRST_CALLS):
                    with v.state():
                        t = time.perf_counter()
                        out = fn(*args)
                        v.first_calls_s.append(time.perf_counter() - t)
                    v.errors.append(max_diff(out, reference))
                    del out
                if v.kind == "jit":
                    v.plan_warm = plan_summary()
                v.fn = fn
            except Exception as e:  # noqa: BLE001 - every failure is a result
                v.fail("first_calls", e)
            ev.send(ev="end", variant=n, phase="first_calls")

        live = [n for n, v in variants.items() if v.fn is not None]
        # calls per block: one number for all, from the slowest variant's
        # steady calls (the last two of its first calls)
        per_call = max([min(variants[n].first_calls_s[-2:]) for n in live] or [1.0])
        number = max(a.min_calls, int(round(a.block_s / max(per_call, 1e-6))))
        orders = []
        for r in range(a.rounds):
            order = rotate(live, r)
            orders.append(order)
            for n in order:
                v = variants[n]
                if v.fn is None:  # failed in an earlier round
                    continue
                limit = max(60.0, 30 * number * min(v.first_calls_s[-2:]))
                ev.send(ev="begin", variant=n, phase="timing", limit_s=limit)
                try:
                    outs = []
                    with v.state():
                        c = time.process_time()
                        t = time.perf_counter()
                        for _ in range(number):
                            outs.append(v.fn(*args))
                        dt = time.perf_counter() - t
                        dc = time.process_time() - c
                    v.samples.append(dt / number)
                    # CPU time of this process per wall second and thread:
                    # near 1 when the block had its cores, lower when other
                    # processes took them (the machine is shared)
                    v.cpu_share.append(dc / (dt * a.threads))
                    v.errors += [max_diff(o, reference) for o in outs]
                    del outs
                except Exception as e:  # noqa: BLE001
                    v.fail("timing", e)
                ev.send(ev="end", variant=n, phase="timing")

        # the optimized plan each JIT variant runs now (after all its calls)
        for n, v in variants.items():
            if v.kind == "jit" and v.fn is not None:
                ev.send(ev="begin", variant=n, phase="plan", limit_s=120)
                try:
                    with v.state():
                        v.fn(*args)
                        v.plan = plan_summary()
                except Exception as e:  # noqa: BLE001
                    v.fail("plan", e)
                ev.send(ev="end", variant=n, phase="plan")
    set_fuser("none")

    result = {
        "model": spec.name, "title": spec.title, "inputs": built.inputs,
        "scripting": built.scripting, "build_model_s": build_model_s,
        "jit_warmup": jit_warmup,
        "rounds": a.rounds, "calls_per_block": number, "block_s": a.block_s, "orders": orders,
        "first_calls": FIRST_CALLS, "threads": torch.get_num_threads(),
        "limits_s": {"first_calls": a.first_calls_limit, "compile": a.compile_limit},
        "variants": {n: v.as_dict() for n, v in variants.items()},
        "loadavg_start": loadavg_start, "loadavg_end": os.getloadavg(),
        "wall_s": time.perf_counter() - t_start, "stats": torch_optspec.stats(),
        "extension": extension,
    }
    ev.send(ev="result", result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
