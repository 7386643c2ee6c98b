"""The CUDA check's benchmark (`make gpu-check`, tools/gpu_check.sh):

    python -m bench.cuda --out DIR            # on a GPU: NNC on CUDA (fuser1)
    python -m bench.cuda --device cpu --quick --out DIR
                                              # the same code on tiny shapes with
                                              # NNC on the CPU (tests/test_bench_cuda.py)

Three parts, each variant compiled fresh and measured interleaved with the
others in one process (ratios: medians of per-round ratios, with their
min..max over rounds):

1. The report's module (docs/report.md) at the report's sizes, inputs
   [128, 16, 64, 64] and mask [128, 1, 1, 64], fp32 and fp16, mask given and
   None, under torch.no_grad(): eager, stock TorchScript, TorchScript with
   torch_optspec, the hand twin (Final[bool] use_mask, mask typed Tensor).
   For each: the NNC fusion groups of the plan's taken path (the point: div,
   add and softmax in one group), max |error| vs eager, time.
2. The same module with inputs that require grad (the report's own run):
   forward + backward, grad enabled. stock; the runtime pass (the autodiff
   path: a DifferentiableGraph is formed before any pass a plugin can set
   runs, so the Optional branch stays); the specialize() artifact (guarded);
   the twin. Fusion groups are read inside each DifferentiableGraph's own
   forward executor (get_debug_state -> plan -> code ->
   differentiable_op_executor_states), where NNC fuses on this path.
3. The BERT port (bench/models/bert.py) b8 s128, fp32 and fp16, mask given and
   None, no grad: eager, stock, optspec, twin; fusion groups on the taken path
   and time.

Writes DIR/cuda.json and DIR/cuda.md.
"""
import argparse
import json
import os
import statistics
import sys
import time
from typing import Final, Optional

import torch
import torch.utils.benchmark as tbench
from torch import Tensor, nn

import torch_optspec
from torch_optspec import fresh_copy
from torch_optspec.census import GUARD_OP, effective_plan, fast_path, guard_nodes

from .models.bert import BertConfigLite, BertModel, SpecializedBertModel, make_inputs, random_weights
from .run import machine_info

FUSION_KINDS = ("prim::TensorExprGroup", "prim::CudaFusionGroup", "prim::FusionGroup")


class ReportModule(nn.Module):
    """The report's module, unmodified (docs/report.md)."""

    def __init__(self, hidden_size, scale_factor):
        super().__init__()
        self.scale = int(hidden_size / scale_factor)

    def forward(self, inputs: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        tmp = inputs / self.scale
        if mask is not None:
            tmp = tmp + mask
        return torch.nn.functional.softmax(tmp, dim=-1)


class ReportTwin(nn.Module):
    """The report's own workaround: a Final[bool] flag and a mask typed
    Tensor, written for one deployment."""
    use_mask: Final[bool]

    def __init__(self, hidden_size, scale_factor, use_mask):
        super().__init__()
        self.scale = int(hidden_size / scale_factor)
        self.use_mask = use_mask

    def forward(self, inputs: Tensor, mask: Tensor = torch.empty(0)) -> Tensor:
        tmp = inputs / self.scale
        if self.use_mask:
            tmp = tmp + mask
        return torch.nn.functional.softmax(tmp, dim=-1)


# ------------------------------------------------------------------ setup ---

def set_nnc(device: str) -> None:
    """NNC (fuser1) on `device` only, reductions (softmax) on."""
    torch.jit.enable_onednn_fusion(False)
    torch._C._jit_set_texpr_fuser_enabled(True)
    torch._C._jit_set_texpr_reductions_enabled(True)
    torch._C._jit_override_can_fuse_on_gpu(device == "cuda")
    torch._C._jit_override_can_fuse_on_cpu(device == "cpu")
    if device == "cpu":  # no LLVM in the wheels: interpreted kernels
        torch._C._jit_set_te_must_use_llvm_cpu(False)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def groups_in(block, taken_only: bool = True, out=None):
    """Sorted op kinds of each fusion group in `block` and its nested blocks;
    with taken_only, under a torch_optspec guard only the fast path (the
    branch a matching call runs)."""
    out = [] if out is None else out
    for node in block.nodes():
        if node.kind() in FUSION_KINDS:
            out.append(sorted(n.kind() for n in node.g("Subgraph").nodes()
                              if n.kind() not in ("prim::Constant", "prim::ListConstruct")))
            continue
        blocks = list(node.blocks())
        if taken_only and node.kind() == "prim::If" and node.inputsAt(0).node().kind() == GUARD_OP:
            blocks = blocks[:1]
        for b in blocks:
            groups_in(b, taken_only, out)
    return out


def plan_groups(graph):
    """Fusion groups on the path a matching call takes: the plan itself, or
    the fast path under a torch_optspec guard (inline, or the outlined
    function's plan); None when that fast path is not compiled yet."""
    plan = effective_plan(graph)
    if not guard_nodes(plan):
        return groups_in(plan)
    fast = fast_path(graph)
    return None if fast is None else groups_in(fast)


def autodiff_forward_groups(module) -> list:
    """NNC groups inside the forward executors of the DifferentiableGraphs of
    `module`'s last plan: where NNC fuses on the autodiff path."""
    state = module.get_debug_state()
    out = []
    for plan in state.execution_plans.values():
        for sub in plan.code.differentiable_op_executor_states():
            for subplan in sub.execution_plans.values():
                out += groups_in(subplan.graph, taken_only=False)
    return out


def count_nodes(graph, kind: str) -> int:
    n = 0
    for node in graph.nodes():
        n += node.kind() == kind
        for b in node.blocks():
            n += count_nodes(b, kind)
    return n


def max_err(a, b) -> float:
    if isinstance(a, (tuple, list)):
        return max(max_err(x, y) for x, y in zip(a, b))
    return float((a.float() - b.float()).abs().max())


def time_variants(variants: dict, rounds: int, block_s: float, with_pass=("optspec",)) -> dict:
    """Seconds per call of each variant: blocks of n calls, the variants in a
    rotating order within each round, each block under its variant's pass
    state (functions the pass emits compile lazily under the calling
    thread's state). torch.utils.benchmark synchronizes CUDA."""
    def block(name, n):
        with torch_optspec.enabled(name in with_pass):
            return tbench.Timer(stmt="fn()", globals={"fn": variants[name]}).timeit(n).mean

    names = list(variants)
    per_call = max(block(name, 1) for name in names)
    number = max(1, int(block_s / max(per_call, 1e-7)))
    samples = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            samples[n].append(block(n, number))
    return {"calls_per_block": number, "samples_s": samples}


def ratio(samples: dict, a: str, b: str):
    if a not in samples or b not in samples:
        return None
    per_round = [x / y for x, y in zip(samples[a], samples[b])]
    return {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}


# ------------------------------------------------------------------ parts ---

def warm_up(calls: dict, reference, row: dict, device: str, warm_calls: int, count_groups: bool):
    """Each variant's first calls under its own pass state; then its plan's
    fusion groups (the op lists, or their number with count_groups) and
    prim::If count, and its max error against `reference`. No grad."""
    for vname, fn in calls.items():
        with torch_optspec.enabled(vname == "optspec"):
            for _ in range(warm_calls):
                out = fn()
            sync(device)
            if vname != "eager":
                g = torch.jit.last_executed_optimized_graph()
                groups = plan_groups(g)
                row["groups"][vname] = (None if groups is None else len(groups)) if count_groups \
                    else groups
                row["plans"][vname] = {"prim_if": count_nodes(g, "prim::If")}
        row["max_abs_err"][vname] = max_err(out, reference)


def report_rows(device, dtypes, shape, rounds, block_s, warm_calls):
    rows = []
    torch.manual_seed(0)
    for dtype in dtypes:
        x = torch.randn(*shape, device=device, dtype=dtype)
        mask_full = torch.randn(shape[0], 1, 1, shape[3], device=device, dtype=dtype)
        for masked in (True, False):
            mask = mask_full if masked else None
            name = f"report {'x'.join(map(str, shape))} {str(dtype).split('.')[-1]} mask={'yes' if masked else 'None'}"
            eager = ReportModule(1024, 16)
            # fresh_copy: scripted instances of one class share compiled
            # methods, and with them their plans
            stock = fresh_copy(ReportModule(1024, 16))
            optspec = fresh_copy(ReportModule(1024, 16))
            twin = fresh_copy(ReportTwin(1024, 16, masked))
            args = (x, mask) if masked else (x,)
            row = {"name": name, "part": "report no-grad", "plans": {}, "groups": {}, "max_abs_err": {}}
            with torch.no_grad():
                reference = eager(*args)
                calls = {"eager": lambda: eager(*args), "stock": lambda: stock(*args),
                         "optspec": lambda: optspec(*args), "twin": lambda: twin(*args)}
                warm_up(calls, reference, row, device, warm_calls, count_groups=False)
                t = time_variants(calls, rounds, block_s)
            row.update(t)
            row["ratio_optspec_vs_stock"] = ratio(t["samples_s"], "optspec", "stock")
            row["ratio_optspec_vs_twin"] = ratio(t["samples_s"], "optspec", "twin")
            row["ratio_twin_vs_stock"] = ratio(t["samples_s"], "twin", "stock")
            full = sorted(["aten::div", "aten::add", "aten::softmax"])
            row["div_add_softmax_one_group"] = {v: full in g for v, g in row["groups"].items()}
            rows.append(row)
            print(f"  {name}: groups {row['groups']}", flush=True)
    return rows


def report_grad_rows(device, dtype, shape, rounds, block_s, warm_calls):
    """Inputs requiring grad, forward + backward (the report's own run)."""
    torch.manual_seed(0)
    x0 = torch.randn(*shape, device=device, dtype=dtype)
    m0 = torch.randn(shape[0], 1, 1, shape[3], device=device, dtype=dtype)
    weights = torch.randn(*shape, device=device, dtype=dtype)
    x = x0.clone().requires_grad_()
    mask = m0.clone().requires_grad_()
    name = f"report grad {'x'.join(map(str, shape))} {str(dtype).split('.')[-1]} mask=yes"
    eager = ReportModule(1024, 16)
    variants = {
        "eager": eager,
        "stock": fresh_copy(ReportModule(1024, 16)),
        "optspec": fresh_copy(ReportModule(1024, 16)),
        "artifact": torch_optspec.specialize(fresh_copy(ReportModule(1024, 16)), x, mask),
        "twin": fresh_copy(ReportTwin(1024, 16, True)),
    }

    def step(model):
        x.grad = None
        mask.grad = None
        y = model(x, mask)
        (y * weights).sum().backward()
        return y

    ref_y = step(eager).detach()
    ref_gx, ref_gm = x.grad.clone(), mask.grad.clone()
    row = {"name": name, "part": "report autodiff", "groups_forward_executor": {},
           "differentiable_graphs": {}, "guarded_if_in_plan": {}, "max_abs_err": {}}
    for vname, model in variants.items():
        with torch_optspec.enabled(vname == "optspec"):
            for _ in range(warm_calls):
                y = step(model)
            sync(device)
            if vname != "eager":
                row["groups_forward_executor"][vname] = autodiff_forward_groups(model)
                g = torch.jit.last_executed_optimized_graph()
                row["differentiable_graphs"][vname] = count_nodes(g, "prim::DifferentiableGraph")
                row["guarded_if_in_plan"][vname] = count_nodes(g, "prim::If")
        row["max_abs_err"][vname] = max(max_err(y.detach(), ref_y), max_err(x.grad, ref_gx),
                                        max_err(mask.grad, ref_gm))
    calls = {n: (lambda m=m: step(m)) for n, m in variants.items()}
    t = time_variants(calls, rounds, block_s)
    row.update(t)
    for a in ("optspec", "artifact", "twin"):
        row[f"ratio_{a}_vs_stock"] = ratio(t["samples_s"], a, "stock")
    row["ratio_artifact_vs_twin"] = ratio(t["samples_s"], "artifact", "twin")
    print(f"  {name}: forward-executor groups {row['groups_forward_executor']}", flush=True)
    return [row]


def bert_rows(device, dtypes, layers, hidden, heads, batch, seq, rounds, block_s, warm_calls):
    rows = []
    for dtype in dtypes:
        config = BertConfigLite(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers,
                                num_attention_heads=heads, intermediate_size=4 * hidden,
                                max_position_embeddings=max(512, seq))
        inputs = make_inputs(batch, seq, config.vocab_size)
        ids = inputs["input_ids"].to(device)
        mask = inputs["attention_mask"].to(device)
        for masked in (True, False):
            model = random_weights(BertModel(config)).eval()
            twin_model = SpecializedBertModel(config, use_mask=masked).eval()
            twin_model.load_state_dict(model.state_dict())
            model = model.to(device=device, dtype=dtype)
            twin_model = twin_model.to(device=device, dtype=dtype)
            args = (ids, mask) if masked else (ids,)
            name = (f"bert L{layers} h{hidden} b{batch} s{seq} {str(dtype).split('.')[-1]} "
                    f"mask={'yes' if masked else 'None'}")
            stock = torch.jit.freeze(torch.jit.script(model))
            optspec = torch.jit.freeze(torch.jit.script(model))
            twin = torch.jit.freeze(torch.jit.script(twin_model))
            calls = {"eager": lambda: model(*args), "stock": lambda: stock(*args),
                     "optspec": lambda: optspec(*args), "twin": lambda: twin(*args)}
            row = {"name": name, "part": "bert no-grad", "groups": {}, "plans": {}, "max_abs_err": {}}
            with torch.no_grad():
                reference = model(*args)
                warm_up(calls, reference, row, device, warm_calls, count_groups=True)
                t = time_variants(calls, rounds, block_s)
            row.update(t)
            for a, b in (("optspec", "stock"), ("optspec", "twin"), ("twin", "stock"),
                         ("optspec", "eager")):
                row[f"ratio_{a}_vs_{b}"] = ratio(t["samples_s"], a, b)
            rows.append(row)
            print(f"  {name}: groups {row['groups']} prim::If {row['plans']}", flush=True)
    return rows


# ------------------------------------------------------------------ report ---

def fmt(r) -> str:
    if r is None:
        return "-"
    return f"{r['median']:.3f} ({r['min']:.2f}..{r['max']:.2f})"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# CUDA check",
        "",
        f"{m.get('gpu') or m['device']}; torch {m['torch']}, Python {m['python']}; "
        f"{results['when']}; {results['seconds']:.0f} s. Written by `python -m bench.cuda` "
        "(`make gpu-check`). Ratios: median of per-round time ratios (min..max over rounds); "
        "< 1 means the first variant is faster.",
        "",
        "## The report's module, no grad (NNC)",
        "",
        "| row | div+add+softmax in one group (stock / optspec / twin) | optspec/stock | "
        "optspec/twin | twin/stock | max err optspec |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        if r["part"] != "report no-grad":
            continue
        one = r["div_add_softmax_one_group"]
        lines.append(f"| {r['name']} | {one.get('stock')} / {one.get('optspec')} / {one.get('twin')} | "
                     f"{fmt(r['ratio_optspec_vs_stock'])} | {fmt(r['ratio_optspec_vs_twin'])} | "
                     f"{fmt(r['ratio_twin_vs_stock'])} | {r['max_abs_err']['optspec']:.2e} |")
    lines += ["", "Fusion groups of each plan's taken path:", ""]
    for r in results["rows"]:
        if r["part"] == "report no-grad":
            lines.append(f"- {r['name']}: " + "; ".join(f"{k} {v}" for k, v in r["groups"].items()))
    lines += ["", "## The report's module, inputs requiring grad (forward + backward)", "",
              "| row | optspec/stock | artifact/stock | twin/stock | artifact/twin | max err (artifact) |",
              "|---|---|---|---|---|---|"]
    for r in results["rows"]:
        if r["part"] != "report autodiff":
            continue
        lines.append(f"| {r['name']} | {fmt(r['ratio_optspec_vs_stock'])} | "
                     f"{fmt(r['ratio_artifact_vs_stock'])} | {fmt(r['ratio_twin_vs_stock'])} | "
                     f"{fmt(r['ratio_artifact_vs_twin'])} | {r['max_abs_err']['artifact']:.2e} |")
        lines += ["", "Fusion groups inside the DifferentiableGraphs' forward executors:", ""]
        for k, v in r["groups_forward_executor"].items():
            lines.append(f"- {k}: {v} (DifferentiableGraphs: {r['differentiable_graphs'][k]}, "
                         f"prim::If in the plan: {r['guarded_if_in_plan'][k]})")
    lines += ["", "## The BERT port, no grad (NNC)", "",
              "| row | groups stock / optspec / twin | prim::If stock / optspec / twin | optspec/stock | "
              "optspec/twin | optspec/eager | max err optspec |",
              "|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        if r["part"] != "bert no-grad":
            continue
        g, p = r["groups"], r["plans"]
        lines.append(f"| {r['name']} | {g['stock']} / {g['optspec']} / {g['twin']} | "
                     f"{p['stock']['prim_if']} / {p['optspec']['prim_if']} / {p['twin']['prim_if']} | "
                     f"{fmt(r['ratio_optspec_vs_stock'])} | {fmt(r['ratio_optspec_vs_twin'])} | "
                     f"{fmt(r['ratio_optspec_vs_eager'])} | {r['max_abs_err']['optspec']:.2e} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="torch_optspec's CUDA check benchmark")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few rounds")
    parser.add_argument("--out", default=os.path.join("build", "gpu-check"))
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"bench.cuda: no CUDA device (torch {torch.__version__}, "
              f"CUDA build: {torch.version.cuda or 'no'})", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    set_nnc(args.device)
    t0 = time.time()
    if args.quick:
        shape, dtypes, rounds, block_s = (2, 3, 4, 8), [torch.float32], 3, 0.02
        bert = dict(layers=1, hidden=32, heads=2, batch=2, seq=8)
    else:
        shape, rounds, block_s = (128, 16, 64, 64), 15, 0.2
        dtypes = [torch.float32, torch.float16]
        bert = dict(layers=12, hidden=768, heads=12, batch=8, seq=128)
    if args.device == "cpu":
        dtypes = [torch.float32]  # NNC's CPU interpreter: fp32 only here
    machine = machine_info()
    machine["device"] = args.device
    machine["gpu"] = torch.cuda.get_device_name() if args.device == "cuda" else None
    rows = []
    print("the report's module, no grad", flush=True)
    rows += report_rows(args.device, dtypes, shape, rounds, block_s, warm_calls=8)
    print("the report's module, autodiff", flush=True)
    rows += report_grad_rows(args.device, torch.float32, shape, rounds, block_s, warm_calls=8)
    print("the BERT port", flush=True)
    rows += bert_rows(args.device, dtypes, rounds=rounds, block_s=block_s, warm_calls=8, **bert)
    results = {"machine": machine, "when": time.strftime("%Y-%m-%d %H:%M"),
               "seconds": time.time() - t0, "quick": args.quick, "rows": rows}
    with open(os.path.join(args.out, "cuda.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "cuda.md"), "w") as f:
        f.write(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
