"""The real-model suite: python -m bench.real_models [--quick] [--only NAME[,NAME]] [--list]

Runs each model (bench/real_models/models.py) in a worker process of its own
(bench/real_models/worker.py), under per-phase time limits (harness.py), and
writes build/bench-real/results.{json,md} after every model.
"""
import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from . import harness, render
from .models import MODELS, QUICK, by_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(ROOT, "build", "bench-real")
VARIANT_ORDER = ("eager", "stock", "stock_onednn", "optspec", "optspec_onednn", "compile")
BASELINE = "stock"


def git(*cmd) -> str:
    try:
        return subprocess.run(["git", "-C", ROOT, *cmd], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict:
    import torch  # the parent only reads versions; the workers do the work
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    versions = {}
    for pkg in ("torch", "torchvision", "torchaudio", "timm", "open_clip", "torch_optspec"):
        try:
            versions[pkg] = importlib.import_module(pkg).__version__
        except Exception as e:  # noqa: BLE001
            versions[pkg] = f"not available ({harness.first_line(e)})"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "torch": torch.__version__, "versions": versions,
            "mkldnn": torch.backends.mkldnn.is_available(), "executable": sys.executable}


def aggregate(spec, outcome: dict) -> dict:
    """One model's entry of results.json: the worker's result (or what is
    known without one), each variant's status, ratios vs the baseline."""
    res = outcome["result"]
    entry = {"model": spec.name, "title": spec.title, "error": outcome["error"],
             "worker_starts": outcome["starts"], "skipped": outcome["skipped"]}
    if res is None:
        entry["variants"] = {n: {"failure": t, "samples_s": [], "median_s": None}
                             for n, t in outcome["skipped"].items()}
        entry["ratios_vs_" + BASELINE] = {}
        return entry
    entry.update({k: v for k, v in res.items() if k != "variants"})
    entry["variants"] = res["variants"]
    base = res["variants"].get(BASELINE, {}).get("samples_s") or []
    entry["ratios_vs_" + BASELINE] = {
        n: harness.ratio_stats(v.get("samples_s") or [], base) for n, v in res["variants"].items()}
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.real_models", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: models {', '.join(QUICK)}, 3 rounds, short blocks, no torch.compile")
    p.add_argument("--only", action="append", default=[],
                   help="run only these models (comma-separated or repeated; see --list)")
    p.add_argument("--list", action="store_true", help="list the models and exit")
    p.add_argument("--rounds", type=int, help="timing rounds (default 5, --quick 3)")
    p.add_argument("--block-s", type=float, help="seconds per timing block (default 1.0, --quick 0.3)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads in each worker (default 2)")
    p.add_argument("--first-calls-limit", type=float, default=180.0,
                   help="seconds a JIT variant's first 8 calls (script, freeze, calls) may take (default 180)")
    p.add_argument("--compile-limit", type=float, default=420.0,
                   help="seconds torch.compile's first 8 calls may take (default 420)")
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    p.add_argument("--variants", help="comma-separated subset of " + ",".join(VARIANT_ORDER)
                   + " (the baseline, stock, is always run)")
    p.add_argument("--out", default=DEFAULT_OUT, help="results directory (default build/bench-real)")
    a = p.parse_args(argv)

    specs = by_name()
    if a.list:
        for s in MODELS:
            print(f"{s.name:18s} {s.title}")
        return 0
    names = [n for arg in a.only for n in arg.split(",") if n] or (QUICK if a.quick else [s.name for s in MODELS])
    unknown = [n for n in names if n not in specs]
    if unknown:
        p.error(f"unknown model(s) {unknown}; --list shows them")
    rounds = a.rounds or (3 if a.quick else 5)
    block_s = a.block_s or (0.3 if a.quick else 1.0)
    with_compile = not (a.no_compile or a.quick)
    variants = [v for v in VARIANT_ORDER if with_compile or v != "compile"]
    if a.variants:
        wanted = set(a.variants.split(",")) | {BASELINE}
        if wanted - set(VARIANT_ORDER):
            p.error(f"unknown variant(s) {sorted(wanted - set(VARIANT_ORDER))}")
        variants = [v for v in variants if v in wanted]
    os.makedirs(a.out, exist_ok=True)
    logs = os.path.join(a.out, "logs")
    os.makedirs(logs, exist_ok=True)

    t_start = time.monotonic()
    results = {
        "suite": "bench.real_models", "mode": "quick" if a.quick else "full",
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        # uncommitted changes that the numbers depend on (the extension is built in place)
        "uncommitted": git("status", "--porcelain", "--", "csrc", "torch_optspec", "bench",
                           "CMakeLists.txt", "setup.py").splitlines(),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "settings": {"rounds": rounds, "block_s": block_s, "threads": a.threads, "variants": variants,
                     "baseline": BASELINE, "first_calls_limit_s": a.first_calls_limit,
                     "compile_limit_s": a.compile_limit, "first_calls": 8},
        "machine": machine(), "loadavg_start": os.getloadavg(), "models": [],
    }
    print(f"real-model suite ({results['mode']}): {', '.join(names)}; {rounds} rounds of ~{block_s} s "
          f"blocks; torch {results['machine']['torch']}, {a.threads} threads", flush=True)

    def write():
        results["loadavg_end"] = os.getloadavg()
        results["wall_s"] = time.monotonic() - t_start
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
        with open(os.path.join(a.out, "results.md"), "w") as f:
            f.write(render.markdown(results))

    for name in names:
        spec = specs[name]
        missing = [m for m in spec.packages if importlib.util.find_spec(m) is None]
        t_model = time.monotonic()
        print(f"[{t_model - t_start:6.0f}s] {name}: {spec.title}", flush=True)
        if missing:
            results["models"].append({"model": name, "title": spec.title, "variants": {},
                                      "error": f"not run: {', '.join(missing)} not installed "
                                               "(pip install -r requirements-real.txt)"})
            print(f"         not run: {missing} not installed", flush=True)
            write()
            continue
        log_path = os.path.join(logs, f"{name}.log")
        if os.path.exists(log_path):
            os.remove(log_path)
        # a cold inductor cache for each worker: compile's first calls compile
        cache = tempfile.mkdtemp(prefix=f"inductor-{name}-")
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache, OMP_NUM_THREADS=str(a.threads),
                   PYTHONPATH=os.pathsep.join([ROOT] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]))

        def argv_for(skip):
            return [sys.executable, "-m", "bench.real_models.worker", "--model", name,
                    "--variants", ",".join(variants), "--skip", json.dumps(skip),
                    "--rounds", str(rounds), "--block-s", str(block_s), "--threads", str(a.threads),
                    "--first-calls-limit", str(a.first_calls_limit), "--compile-limit", str(a.compile_limit)]

        def progress(ev):
            if ev.get("ev") == "end" and ev.get("phase") == "first_calls":
                print(f"         first calls done: {ev['variant']} "
                      f"({time.monotonic() - t_model:.0f}s into the model)", flush=True)

        def stopped(variant, text):
            print(f"         {variant or 'the model'}: {text}"
                  + ("; worker started again without it" if variant else ""), flush=True)

        try:
            outcome = harness.supervise(argv_for, variants, log_path, env=env, cwd=ROOT,
                                        on_event=progress, on_stop=stopped)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        entry = aggregate(spec, outcome)
        entry["model_wall_s"] = time.monotonic() - t_model
        results["models"].append(entry)
        write()
        for line in render.model_lines(entry, BASELINE):
            print("         " + line, flush=True)
    write()
    print(f"wrote {a.out}/results.{{md,json}} in {time.monotonic() - t_start:.0f} s "
          f"(load average {results['loadavg_start'][0]:.2f} -> {results['loadavg_end'][0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
