"""Per-call cost of torch_optspec's checks on a tiny scripted function, against
its hand twin (same signature, no checks), resolved to tens of nanoseconds:
many calls per sample, variants interleaved, medians and quartiles of the
paired per-sample differences.

    python -m bench.guard_cost [--rounds 31] [--number 20000]
    python -m bench.guard_cost --cpp BUILD/bench/cpp/guard_cost   # timed from C++

From Python every call also pays the ScriptFunction call (~10 us and noisy);
--cpp times the same functions from C++ (bench/cpp/guard_cost.cpp, built
with -DTORCH_OPTSPEC_BUILD_BENCH=ON), which resolves tens of nanoseconds.

Cases, each with 8 specialized arguments:
  tensors8   8 Optional[Tensor] inputs, all None (one tensor guard)
  mixed8     4 Optional[Tensor] (None) + 2 bool flags + 2 Optional[int]
             (a value site, then the learned plan's tensor guard)
"""
import argparse
import json
import statistics
import time

import torch

import torch_optspec

SOURCES = {
    "tensors8": (
        "def f(x: Tensor, " + ", ".join(f"a{i}: Optional[Tensor]" for i in range(8)) + ") -> Tensor:\n"
        + "".join(f"    if a{i} is not None:\n        x = x + a{i}\n" for i in range(8))
        + "    return x\n",
        "def f(x: Tensor, " + ", ".join(f"a{i}: Optional[Tensor]" for i in range(8)) + ") -> Tensor:\n"
        "    return x\n",
        lambda x: (x,) + (None,) * 8),
    "mixed8": (
        "def f(x: Tensor, a0: Optional[Tensor], a1: Optional[Tensor], a2: Optional[Tensor],"
        " a3: Optional[Tensor], b0: bool, b1: bool, n0: Optional[int], n1: Optional[int]) -> Tensor:\n"
        + "".join(f"    if a{i} is not None:\n        x = x + a{i}\n" for i in range(4))
        + "    if b0:\n        x = x * 2.0\n    if b1:\n        x = x * 3.0\n"
        + "    if n0 is not None:\n        x = x + n0\n    if n1 is not None:\n        x = x - n1\n"
        + "    return x\n",
        "def f(x: Tensor, a0: Optional[Tensor], a1: Optional[Tensor], a2: Optional[Tensor],"
        " a3: Optional[Tensor], b0: bool, b1: bool, n0: Optional[int], n1: Optional[int]) -> Tensor:\n"
        "    return x\n",
        lambda x: (x, None, None, None, None, False, False, None, None)),
}


def compiled(src: str, with_pass: bool):
    fn = torch.jit.CompilationUnit(src).f
    return fn, with_pass


def time_block(fn, args, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn(*args)
    return (time.perf_counter() - t0) / number


def measure(rounds: int, number: int) -> dict:
    torch.set_num_threads(1)
    x = torch.zeros(1)
    out = {}
    for name, (checked, plain, make_args) in SOURCES.items():
        args = make_args(x)
        fns = {}
        for variant, src, on in (("stock", checked, False), ("optspec", checked, True),
                                 ("twin", plain, False)):
            fn = torch.jit.CompilationUnit(src).f
            with torch_optspec.enabled(on), torch.no_grad():
                for _ in range(12):  # profiling, plan, value learning, learned plan
                    fn(*args)
            fns[variant] = fn
        samples = {v: [] for v in fns}
        order = list(fns)
        with torch.no_grad():
            for r in range(rounds):
                for v in order[r % 3:] + order[:r % 3]:
                    samples[v].append(time_block(fns[v], args, number))
        diffs = sorted(o - t for o, t in zip(samples["optspec"], samples["twin"]))
        q = statistics.quantiles(diffs, n=4)
        out[name] = {
            "per_call_ns": {v: statistics.median(s) * 1e9 for v, s in samples.items()},
            "optspec_minus_twin_ns": statistics.median(diffs) * 1e9,
            "optspec_minus_twin_iqr_ns": [q[0] * 1e9, q[2] * 1e9],
            "stock_minus_twin_ns": statistics.median(
                [s - t for s, t in zip(samples["stock"], samples["twin"])]) * 1e9,
        }
    return out


def save_modules(name: str, out_dir: str) -> None:
    """stock.pt / optspec.pt / twin.pt: modules whose forward is the case's
    function (with checks; the twin without)."""
    import os
    checked, plain, _ = SOURCES[name]
    for variant, src in (("stock", checked), ("optspec", checked), ("twin", plain)):
        body = src.replace("def f(x: Tensor,", "def forward(self, x: Tensor,")
        code = ("import torch\nfrom torch import Tensor\nfrom typing import Optional\n"
                "class M(torch.nn.Module):\n" + "".join("    " + line + "\n" for line in body.splitlines()))
        path = os.path.join(out_dir, f"{variant}_src.py")
        with open(path, "w") as f:
            f.write(code)
        ns = {}
        exec(compile(code, path, "exec"), ns)
        torch.jit.save(torch.jit.script(ns["M"]()), os.path.join(out_dir, f"{variant}.pt"))


def run_cpp(binary: str, rounds: int, number: int) -> None:
    import subprocess
    import tempfile
    for name in SOURCES:
        with tempfile.TemporaryDirectory() as d:
            save_modules(name, d)
            out = subprocess.run([binary, d, name, str(rounds), str(number)], check=True,
                                 capture_output=True, text=True).stdout
        print(f"{name}:\n  " + out.strip().replace("\n", "\n  "))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=31, help="samples per variant (default 31)")
    p.add_argument("--number", type=int, default=20000, help="calls per sample (default 20000)")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--cpp", metavar="GUARD_COST_BINARY",
                   help="time from C++ with this binary (bench/cpp/guard_cost)")
    args = p.parse_args()
    if args.cpp:
        run_cpp(args.cpp, args.rounds, args.number)
        return
    res = measure(args.rounds, args.number)
    for name, r in res.items():
        ns = r["per_call_ns"]
        print(f"{name:<9} stock {ns['stock']:7.0f} ns  optspec {ns['optspec']:7.0f} ns  "
              f"twin {ns['twin']:7.0f} ns  optspec-twin {r['optspec_minus_twin_ns']:6.0f} ns "
              f"(IQR {r['optspec_minus_twin_iqr_ns'][0]:.0f}..{r['optspec_minus_twin_iqr_ns'][1]:.0f})"
              f"  stock-twin {r['stock_minus_twin_ns']:6.0f} ns")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
