"""Rendering of the benchmark results: latest.md and latest.png from the
results dict that bench/run.py writes to latest.json. Needs no torch and no
torch_optspec (matplotlib for the chart), so results can be re-rendered
anywhere:

    python -m bench.render [--out bench/results]     # same as python -m bench.run --render-only
"""
import argparse
import json
import os
import sys
from typing import List, Optional

RESULTS = os.path.join(os.path.dirname(__file__), "results")
JIT_VARIANTS = ("stock", "optspec", "twin")
AOT_VARIANTS = ("aot", "aot_strict")  # torch_optspec.specialize (BERT rows)
# compiled without a fuser, for rows where stock and the twin fail under it
NOFUSER_VARIANTS = ("stock_nofuser", "twin_nofuser")


def targets(results: dict) -> List[str]:
    lines = []
    for c in results["cases"]:
        ratio = c["ratio_optspec_vs_twin"]
        if ratio is None and c.get("ratio_optspec_vs_twin_nofuser") is not None:
            lines.append(
                f"- RUNS under {c['fuser']} where stock and the twin fail: {c['name']}: optspec "
                f"{c['median_s']['optspec'] * 1e3:.2f} ms, optspec/stock-no-fuser "
                f"{c['ratio_optspec_vs_stock_nofuser']:.3f}, optspec/twin-no-fuser "
                f"{c['ratio_optspec_vs_twin_nofuser']:.3f}")
            continue
        if ratio is None:
            lines.append(f"- NOT MEASURED optspec/twin: {c['name']} (failed: {c['failures']})")
            continue
        fo, ft = c["plans"]["optspec"]["fusion_total"], c["plans"]["twin"]["fusion_total"]
        io, it = c["plans"]["optspec"]["prim_if"], c["plans"]["twin"]["prim_if"]
        ok = ratio <= 1.02 and fo == ft
        why = []
        if fo != ft:
            why.append(f"fusion groups {fo} vs twin {ft}")
        if io > it:
            why.append(f"{io} prim::If left vs {it} in the twin: checks on non-Tensor "
                       "arguments (flags), which the pass does not specialize")
        if ratio > 1.02:
            samples = c["samples_s"]
            per_round = [o / t for o, t in zip(samples["optspec"], samples["twin"])]
            why.append(f"time ratio {ratio:.3f}; per-round ratios {min(per_round):.2f}"
                       f"..{max(per_round):.2f}")
            if fo == ft and io <= it:
                why.append("same plan shape as the twin: within the timing noise")
        lines.append(f"- {'MET' if ok else 'MISSED'} optspec/twin <= 1.02 with equal fusion groups: "
                     f"{c['name']}" + (f" ({'; '.join(why)})" if why else f" (ratio {ratio:.3f})"))
    for g in results["guard_overhead"]:
        ok = g["guard_overhead_s"] < 1e-6
        lines.append(f"- {'MET' if ok else 'MISSED'} guard overhead < 1 us with {g['k']} Optional "
                     f"inputs: {g['guard_overhead_s'] * 1e9:.0f} ns")
    for f in results["first_call"]:
        ok = f["ratio_optspec_vs_stock"] <= 1.25
        lines.append(f"- {'MET' if ok else 'MISSED'} first-call latency <= 1.25x stock: {f['name']}: "
                     f"{f['ratio_optspec_vs_stock']:.2f}x")
    return lines


def aot_table(results: dict) -> List[str]:
    """Rows of the ahead-of-time variants next to optspec and twin (empty when
    none ran)."""
    cases = [c for c in results["cases"] if c.get("aot_plans")]
    if not cases:
        return []
    L = ["", "## Ahead of time: torch_optspec.specialize (frozen, then specialized; run with "
         "the pass off)", "",
         "| config | fuser | optspec | twin | aot | aot strict | aot/twin | aot strict/twin "
         "| fusion groups o/t/a/as | prim::If o/t/a/as |", "|---|---|---|---|---|---|---|---|---|---|"]
    names = ("optspec", "twin") + AOT_VARIANTS

    def ms(t, k):
        return f"{t[k] * 1e3:.2f}" if k in t else "fails"

    def ratio(r):
        return f"{r:.3f}" if r is not None else "-"

    for c in cases:
        t = c["median_s"]
        plans = dict(c["plans"], **c["aot_plans"])

        def per_plan(key):
            return "/".join(str(plans[k][key]) if plans.get(k) else "x" for k in names)

        L.append(f"| {c['name']} | {c['fuser']} | {ms(t, 'optspec')} | {ms(t, 'twin')} | "
                 f"{ms(t, 'aot')} | {ms(t, 'aot_strict')} | {ratio(c.get('ratio_aot_vs_twin'))} | "
                 f"{ratio(c.get('ratio_aot_strict_vs_twin'))} | {per_plan('fusion_total')} | "
                 f"{per_plan('prim_if')} |")
    return L


def write_markdown(results: dict, path: str) -> None:
    m = results["machine"]
    L = ["# torch_optspec benchmark", "",
         f"Mode: {results['mode']}; device {m.get('device', 'cpu')}"
         + (f" ({m['gpu']})" if m.get("gpu") else "") + f"; wall time {results['wall_s']:.0f} s; "
         f"{m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
         f"Python {m['python']}; load average at start {m['loadavg_start'][0]:.2f}, "
         f"at end {m['loadavg_end'][0]:.2f} (the machine is shared).", "",
         "Median time per call (ms); ratios are medians of per-round paired ratios. "
         "Fusion groups / model prim::If left in the optimized plan: stock, optspec, twin.", "",
         "| config | fuser | eager | stock | optspec | twin | compile | optspec/stock | optspec/twin "
         "| fusion groups s/o/t | prim::If s/o/t | max err |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def ms(t, k):
        return f"{t[k] * 1e3:.2f}" if k in t else "fails"

    def ratio(r):
        return f"{r:.3f}" if r is not None else "-"

    def per_plan(p, key):
        return "/".join(str(p[k][key]) if p[k] else "x" for k in JIT_VARIANTS)

    for c in results["cases"]:
        t = c["median_s"]
        err = max([v for k, v in c["max_abs_err_vs_eager"].items() if k != "eager"] or [0.0])
        comp = ms(t, "compile") if "compile" in t else "-"
        L.append(f"| {c['name']} | {c['fuser']} | {ms(t, 'eager')} | {ms(t, 'stock')} | "
                 f"{ms(t, 'optspec')} | {ms(t, 'twin')} | {comp} | "
                 f"{ratio(c['ratio_optspec_vs_stock'])} | {ratio(c['ratio_optspec_vs_twin'])} | "
                 f"{per_plan(c['plans'], 'fusion_total')} | {per_plan(c['plans'], 'prim_if')} | {err:.1e} |")
    nofuser = [c for c in results["cases"] if c.get("plans_nofuser")]
    if nofuser:
        L += ["", "## Against plans compiled without a fuser", "",
              "Rows where stock and the twin fail under the row's fuser: optspec (with it) "
              "against stock and the twin compiled without a fuser (ms per call).", "",
              "| config | fuser | optspec | stock, no fuser | twin, no fuser | optspec/stock-no-fuser "
              "| optspec/twin-no-fuser | fusion groups optspec | stock fails | twin fails |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for c in nofuser:
            t = c["median_s"]
            fails = c.get("failures", {})
            opt = c["plans"]["optspec"]
            L.append(f"| {c['name']} | {c['fuser']} | {ms(t, 'optspec')} | {ms(t, 'stock_nofuser')} | "
                     f"{ms(t, 'twin_nofuser')} | {ratio(c.get('ratio_optspec_vs_stock_nofuser'))} | "
                     f"{ratio(c.get('ratio_optspec_vs_twin_nofuser'))} | "
                     f"{opt['fusion_total'] if opt else 'x'} | "
                     f"{'fails' if 'stock' in fails else 'runs'} | {'fails' if 'twin' in fails else 'runs'} |")
    L += ["", "## First-call latency (profiling + optimization + first optimized run)", "",
          "| config | calls | stock (s) | optspec (s) | optspec/stock |", "|---|---|---|---|---|"]
    for f in results["first_call"]:
        L.append(f"| {f['name']} | {f['calls']} | {f['median_s']['stock']:.3f} | "
                 f"{f['median_s']['optspec']:.3f} | {f['ratio_optspec_vs_stock']:.2f} |")
    L += ["", "## Guard overhead (tiny graph, all Optional inputs None, no fuser)", "",
          "| Optional inputs | stock (us) | optspec (us) | twin, no checks (us) | guard = optspec - twin (ns) "
          "| spread over rounds (ns) |", "|---|---|---|---|---|---|"]
    for g in results["guard_overhead"]:
        t = g["median_s"]
        lo, hi = g["guard_overhead_spread_s"]
        L.append(f"| {g['k']} | {t['stock'] * 1e6:.2f} | {t['optspec'] * 1e6:.2f} | {t['twin'] * 1e6:.2f} | "
                 f"{g['guard_overhead_s'] * 1e9:.0f} | {lo * 1e9:.0f} .. {hi * 1e9:.0f} |")
    L += ["", "## NNC fusion groups on tiny shapes (interpreted kernels: counts only)", "",
          "| config | TensorExprGroups s/o/t | prim::If s/o/t |", "|---|---|---|"]
    for r in results["nnc"]:
        p = r["plans"]
        L.append(f"| {r['name']} | {p['stock']['fusion_total']}/{p['optspec']['fusion_total']}/"
                 f"{p['twin']['fusion_total']} | {p['stock']['prim_if']}/{p['optspec']['prim_if']}/"
                 f"{p['twin']['prim_if']} |")
    L += aot_table(results)
    L += ["", "## Targets", ""] + targets(results)
    notes = sorted({c["note"] for c in results["cases"] if c["note"]})
    notes += [f"{c['name']}: {k} failed: {v}" for c in results["cases"] for k, v in c["failures"].items()]
    if notes:
        L += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    L += ["", f"![chart]({os.path.splitext(os.path.basename(path))[0]}.png)", ""]
    with open(path, "w") as f:
        f.write("\n".join(L))


FUSER_NAMES = {"onednn": "oneDNN Graph (frozen)", "nnc": "NNC", "none": "no fuser"}


def chart_title(results: dict) -> str:
    m = results["machine"]
    fusers = sorted({c["fuser"] for c in results["cases"]},
                    key=lambda f: -sum(c["fuser"] == f for c in results["cases"]))
    fuser_text = "; ".join(
        FUSER_NAMES.get(f, f) + (" for " + ", ".join(sorted({c["family"] for c in results["cases"]
                                                              if c["fuser"] == f})))
        for f in fusers)
    device = m.get("device", "cpu")
    where = f"{m.get('gpu')}" if device == "cuda" and m.get("gpu") else \
        f"{m['cores']} cores, {m['cpu']}"
    return (f"torch_optspec benchmark ({results['mode']} run): {where}\n"
            f"torch {m['torch']} ({m['torch_threads']} threads), device {device}\n"
            f"fuser: {fuser_text}")


def per_round_speedups(case: dict, variant: str) -> List[float]:
    """stock / variant for each timing round (the paired ratios, inverted)."""
    samples = case.get("samples_s", {})
    if variant not in samples or "stock" not in samples:
        return []
    return [s / v for s, v in zip(samples["stock"], samples[variant])]


def write_chart(results: dict, path: str) -> Optional[dict]:
    """Horizontal bars: speed-up over scripted stock of optspec and of the
    hand-specialized twin, with the per-round spread (min..max of the paired
    per-round ratios) as error bars; cells that failed say "fails". Returns
    what was drawn (title, failed cells, bars), or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -r requirements-bench.txt): no chart")
        return None
    cases = results["cases"]
    names = [f"{c['name']} [{c['fuser']}]" for c in cases]
    fig, ax = plt.subplots(figsize=(12, 0.5 * len(names) + 2.2))
    h = 0.38
    series = (("optspec", "ratio_optspec_vs_stock", "optspec speed-up over stock", -h / 2, "C0"),
              ("twin", "ratio_twin_vs_stock", "hand-specialized speed-up over stock", h / 2, "C1"))
    drawn = {"title": chart_title(results), "fails": [], "bars": {}, "spread": {}}
    xmax = 1.0
    for variant, key, label, offset, color in series:
        ys, vals, lo, hi = [], [], [], []
        for i, c in enumerate(cases):
            ratio = c.get(key)
            if ratio is None:  # stock or this variant failed (e.g. oneDNN's bad optional access)
                failures = c.get("failures", {})
                failed = [v for v in ("stock", variant) if v in failures]
                why = sorted({failures[v] for v in failed})
                label_text = f"fails: {' and '.join(failed) or variant}"
                if variant not in failed:
                    label_text += f" ({variant} runs, no ratio)"
                if why:
                    label_text += f": {'; '.join(why)}"
                ax.text(0.01, i + offset, label_text, va="center", ha="left", fontsize=7,
                        color="firebrick", transform=ax.get_yaxis_transform(),
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
                drawn["fails"].append((c["name"], variant, label_text))
                continue
            speedup = 1 / ratio
            rounds = per_round_speedups(c, variant) or [speedup]
            ys.append(i + offset)
            vals.append(speedup)
            lo.append(max(0.0, speedup - min(rounds)))
            hi.append(max(0.0, max(rounds) - speedup))
            drawn["spread"].setdefault(variant, []).append((min(rounds), max(rounds)))
            xmax = max(xmax, max(rounds))
        ax.barh(ys, vals, h, xerr=[lo, hi], color=color, label=label,
                error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"})
        for y, v in zip(ys, vals):
            ax.text(0.01, y, f"{v:.2f}x", va="center", ha="left", fontsize=6, color="white",
                    transform=ax.get_yaxis_transform())
        drawn["bars"][variant] = vals
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlim(0, xmax * 1.12)
    ax.set_yticks(list(range(len(names))))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up over scripted stock (median of paired per-round ratios; "
                  "error bars: min..max over rounds)", fontsize=8)
    ax.set_title(drawn["title"], fontsize=9, pad=20)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def render(results: dict, out: str, stem: str = "latest") -> None:
    write_markdown(results, os.path.join(out, f"{stem}.md"))
    write_chart(results, os.path.join(out, f"{stem}.png"))


def render_dir(out: str) -> None:
    """Re-write OUT/latest.md and OUT/latest.png from OUT/latest.json."""
    with open(os.path.join(out, "latest.json")) as f:
        results = json.load(f)
    render(results, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.render",
                                     description="re-write latest.md and latest.png from latest.json")
    parser.add_argument("--out", default=RESULTS, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    render_dir(args.out)
    print(f"rendered {args.out}/latest.{{md,png}} from latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
