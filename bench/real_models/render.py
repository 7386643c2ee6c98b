"""results.md of the real-model suite, from the results dict of results.json
(no torch needed):

    python -m bench.real_models.render [build/bench-real/results.json]
"""
import json
import os
import sys
from typing import List, Optional

NAMES = {
    "eager": "eager",
    "stock": "TorchScript frozen, no fuser (baseline)",
    "stock_onednn": "TorchScript frozen + oneDNN Graph",
    "optspec": "+ torch_optspec, no fuser",
    "optspec_onednn": "+ torch_optspec + oneDNN Graph",
    "compile": "torch.compile (inductor)",
}
SHORT = {
    "eager": "eager", "stock": "stock", "stock_onednn": "stock + oneDNN",
    "optspec": "optspec", "optspec_onednn": "optspec + oneDNN", "compile": "torch.compile",
}
ORDER = ("eager", "stock", "stock_onednn", "optspec", "optspec_onednn", "compile")


def status(v: dict) -> str:
    f = v.get("failure")
    if not f:
        return "ok"
    if f.startswith(("did not finish", "fails:")):
        return f
    where = v.get("failed_in")
    return f"fails: {f}" + (f" (in {where.replace('_', ' ')})" if where and where != "first_calls" else "")


def cell_text(text: str, width: int = 90) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[:width - 3] + "..."


def ms(v: dict) -> str:
    return f"{v['median_s'] * 1e3:.1f}" if v.get("median_s") else "-"


def ratio_text(r: Optional[dict], spread: str = "minmax") -> str:
    if not r:
        return "-"
    if spread == "both":
        return (f"{r['median']:.3f} ({r['p25']:.3f}–{r['p75']:.3f}; "
                f"{r['min']:.3f}–{r['max']:.3f})")
    return f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})"


def fusion_text(v: dict) -> str:
    plan = v.get("plan") or v.get("plan_after_first_calls")
    if v.get("kind") != "jit" or not plan:
        return "-"
    groups = plan.get("fusion_groups", {})
    dnn = plan.get("onednn_nodes", {})
    parts = []
    if groups.get("prim::oneDNNFusionGroup") or dnn.get("prim::oneDNNFusionGuard"):
        parts.append(f"oneDNN {groups.get('prim::oneDNNFusionGroup', 0)} "
                     f"({dnn.get('prim::oneDNNFusionGuard', 0)} guards)")
    nnc = groups.get("prim::TensorExprGroup", 0) + groups.get("prim::TensorExprDynamicGroup", 0)
    if nnc:
        parts.append(f"NNC {nnc}")
    other = sum(n for k, n in groups.items() if k not in (
        "prim::oneDNNFusionGroup", "prim::TensorExprGroup", "prim::TensorExprDynamicGroup"))
    if other:
        parts.append(f"other {other}")
    text = ", ".join(parts) or "0"
    if not plan.get("complete", True):
        text += " (plan incomplete)"
    return text


def cpu_share_text(entry: dict) -> str:
    shares = [x for v in entry.get("variants", {}).values() for x in (v.get("cpu_share") or [])]
    if not shares:
        return "-"
    shares.sort()
    return f"{shares[len(shares) // 2]:.2f} ({shares[0]:.2f})"


def first_calls_text(v: dict):
    fc = v.get("first_calls_s") or []
    if len(fc) < 1:
        return "-", "-"
    if v.get("failure") and v.get("failed_in") == "first_calls":
        return f"{fc[0]:.2f}", f"- (call {len(fc) + 1} failed)"
    return f"{fc[0]:.2f}", f"{sum(fc):.2f}"


def model_lines(entry: dict, baseline: str = "stock") -> List[str]:
    """One line per variant, for the console."""
    if entry.get("error") and not entry.get("variants"):
        return [f"not measured: {entry['error']}"]
    ratios = entry.get("ratios_vs_" + baseline, {})
    out = []
    for n in ORDER:
        v = entry.get("variants", {}).get(n)
        if v is None:
            continue
        first, total = first_calls_text(v)
        out.append(f"{SHORT[n]:17s} {ms(v):>9s} ms  x{ratio_text(ratios.get(n)):22s} "
                   f"groups {fusion_text(v):16s} first {first:>6s} s / 8 calls {total:>7s} s  "
                   f"{status(v) if status(v) != 'ok' else ''}")
    return out


def markdown(results: dict) -> str:
    m = results["machine"]
    s = results["settings"]
    la0, la1 = results.get("loadavg_start", [0, 0, 0]), results.get("loadavg_end", [0, 0, 0])
    vers = m.get("versions", {})
    L = ["# torch_optspec real-model benchmark", ""]
    if results["mode"] == "quick":
        L += ["**Smoke run (`--quick`): few models, 3 rounds, short blocks, no torch.compile. "
              "Not a measurement to quote.**", ""]
    dirty = results.get("uncommitted") or []
    builds = sorted({(e.get("extension") or {}).get("sha256", "?") for e in results["models"] if e.get("extension")})
    L += [f"Mode: {results['mode']}; started {results['started']}; wall time {results.get('wall_s', 0):.0f} s; "
          f"commit {results['commit'][:10]}"
          + (f" with {len(dirty)} uncommitted file(s) in csrc/torch_optspec/bench (results.json lists them)"
             if dirty else "")
          + (f"; extension build sha256 {', '.join(b[:10] for b in builds)}"
             + (" (rebuilt during the run)" if len(builds) > 1 else "") if builds else "") + ".",
          f"{m['cpu']}, {m['cores']} cores; torch {m['torch']} ({s['threads']} threads), Python {m['python']}; "
          + ", ".join(f"{k} {vers[k]}" for k in ("torchvision", "torchaudio", "timm", "open_clip", "torch_optspec")
                      if k in vers) + ".",
          f"Load average (1/5/15 min) at start {la0[0]:.2f}/{la0[1]:.2f}/{la0[2]:.2f}, at end "
          f"{la1[0]:.2f}/{la1[1]:.2f}/{la1[2]:.2f} (the machine is shared).", "",
          f"Each model runs in a process of its own; its variants are timed interleaved: "
          f"{s['rounds']} rounds, each calling every variant for one block (~{s['block_s']} s, the same "
          f"number of calls for all variants), in rotating order. Time: median over rounds of the "
          f"per-call time. Ratio: median of the per-round ratios variant / stock (TorchScript "
          f"frozen, no fuser), with the range over the rounds (min–max; quartiles in results.json). "
          f"First calls: the first {s['first_calls']} calls of a freshly scripted and frozen copy "
          f"(torch.compile: of torch.compile(model)), limited to {s['first_calls_limit_s']:.0f} s "
          f"({s['compile_limit_s']:.0f} s for torch.compile).", "",
          "## Median ms per call; ratio vs stock TorchScript without a fuser (min–max over rounds)", ""]
    variants = [v for v in ORDER if v in s["variants"]]
    L += ["| model | " + " | ".join(SHORT[v] for v in variants) + " |",
          "|---|" + "---|" * len(variants)]
    for e in results["models"]:
        cells = []
        ratios = e.get("ratios_vs_stock", {})
        for n in variants:
            v = e.get("variants", {}).get(n)
            if v is None:
                cells.append("not run" if e.get("error") else "-")
            elif status(v) != "ok":
                cells.append(cell_text(status(v), 60))
            else:
                r = ratios.get(n)
                cells.append(f"{ms(v)}" + (f" ×{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})" if r else ""))
        L.append(f"| {e['model']} | " + " | ".join(cells) + " |")

    L += ["", "## Per variant", "",
          "Fusion groups: in the optimized plan after the timed calls (oneDNN Graph groups and "
          "their guards on the path the calls take; NNC TensorExprGroups). Max abs error: against "
          "the eager output, over every call (first calls and timed calls).", "",
          "| model | variant | ms | vs stock: median (p25–p75; min–max) | fusion groups | max abs err "
          "| 1st call (s) | first 8 calls (s) | status |",
          "|---|---|---|---|---|---|---|---|---|"]
    for e in results["models"]:
        ratios = e.get("ratios_vs_stock", {})
        if e.get("error") and not e.get("variants"):
            L.append(f"| {e['model']} | - | - | - | - | - | - | - | {cell_text(e['error'])} |")
            continue
        for n in variants:
            v = e.get("variants", {}).get(n)
            if v is None:
                continue
            err = v.get("max_abs_err") if status(v) == "ok" else None
            first, total = first_calls_text(v)
            L.append(f"| {e['model']} | {SHORT[n]} | {ms(v)} | {ratio_text(ratios.get(n), 'both')} | "
                     f"{fusion_text(v)} | {'-' if err is None else f'{err:.1e}'} | {first} | {total} | "
                     f"{cell_text(status(v))} |")

    L += ["", "## Models", "",
          "CPU share: the worker's CPU time per wall second and thread over its timing blocks (median "
          "and lowest block); near 1.00 when the blocks kept both threads busy; lower when other "
          "processes took a core, or when a plan left a thread idle.", "",
          "| model | what | inputs | TorchScript | calls per block | CPU share (lowest) | worker starts "
          "| wall (s) |", "|---|---|---|---|---|---|---|---|"]
    for e in results["models"]:
        L.append(f"| {e['model']} | {e.get('title', '')} | {e.get('inputs', '-')} | {e.get('scripting', '-')} | "
                 f"{e.get('calls_per_block', '-')} | {cpu_share_text(e)} | "
                 f"{len(e.get('worker_starts', [])) or '-'} | {e.get('model_wall_s', 0):.0f} |")
    notes = []
    for e in results["models"]:
        if e.get("error"):
            notes.append(f"{e['model']}: {e['error']}")
        for st in e.get("worker_starts", []):
            if st.get("failure"):
                ph = st.get("killed_in") or st.get("died_in") or {}
                notes.append(f"{e['model']}: worker stopped in {ph.get('phase')} of "
                             f"{ph.get('variant')}: {st['failure']}; started again without it")
    if notes:
        L += ["", "## Notes", ""] + [f"- {cell_text(n, 300)}" for n in notes]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else os.path.join("build", "bench-real", "results.json")
    with open(path) as f:
        results = json.load(f)
    out = os.path.join(os.path.dirname(path), "results.md")
    with open(out, "w") as f:
        f.write(markdown(results))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
