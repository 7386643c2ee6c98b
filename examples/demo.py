"""make demo: the module from the original report, scripted unmodified, with
and without torch_optspec.

Part 1 (NNC, the TensorExpr fuser, on CPU): the optimized plans side by side.
Part 2: time per call, variants interleaved in one process.

NNC on CPU has no LLVM in the official wheels: it fuses but interprets its
kernels, so part 1 uses tiny tensors and shows structure, not speed. Part 2a
times the report's module with no CPU fuser (the guard's cost, the branch's
removal); part 2b uses the real CPU fuser, oneDNN Graph, on a frozen
attention block (the same idiom with the matmuls around it) at BERT-base
size (sequence 512), against the hand-specialized module.
"""
import statistics
import time
from typing import List, Optional

import torch
import torch.utils.benchmark as benchmark

import torch_optspec
import torch_optspec.fusers
from torch_optspec.census import GUARD_OP as GUARD
from torch_optspec.census import fast_path  # block0 of the guard's If, or the outlined plan

FUSION_KINDS = ("prim::TensorExprGroup", "prim::oneDNNFusionGroup")
FUSER_CHECKS = ("prim::TypeCheck", "prim::oneDNNFusionGuard", "prim::TensorExprDynamicGuard")


class ExampleModule(torch.nn.Module):
    """Verbatim from the report (with the type hints TorchScript needs)."""

    def __init__(self, hidden_size, scale_factor):
        super().__init__()
        self.scale = int(hidden_size / scale_factor)

    def forward(self, inputs: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        tmp = inputs / self.scale
        if mask is not None:
            tmp = tmp + mask
        outputs = torch.nn.functional.softmax(tmp, dim=-1)
        return outputs


class Attention(torch.nn.Module):
    def forward(self, q, k, v, mask: Optional[torch.Tensor] = None):
        s = torch.matmul(q, k.transpose(-1, -2)) / 8.0
        if mask is not None:
            s = s + mask
        return torch.matmul(torch.softmax(s, dim=-1), v)


class AttentionHand(torch.nn.Module):
    """The hand-specialized workaround: no Optional, mask always given."""

    def forward(self, q, k, v, mask):
        s = torch.matmul(q, k.transpose(-1, -2)) / 8.0
        s = s + mask
        return torch.matmul(torch.softmax(s, dim=-1), v)


# ---- plan inspection ----------------------------------------------------------

def walk(block):
    for n in block.nodes():
        yield n
        for b in n.blocks():
            yield from walk(b)


def model_ifs(graph) -> int:
    """prim::If nodes that are the model's control flow (not a fuser's type
    check, not torch_optspec's guard)."""
    return sum(1 for n in walk(graph) if n.kind() == "prim::If"
               and n.input().node().kind() not in FUSER_CHECKS + (GUARD,))


def groups(graph) -> List[str]:
    out = []
    for n in walk(graph):
        if n.kind() in FUSION_KINDS:
            ops = [m.kind().split("::")[1] for m in n.g("Subgraph").nodes()
                   if m.kind() != "prim::Constant"]
            out.append("[" + " ".join(ops) + "]")
    return out


def compile_and_summarize(module, args, on: bool, calls: int = 4):
    torch_optspec.reset_plans(module)
    with torch_optspec.enabled(on), torch.no_grad():
        for _ in range(calls):
            module(*args)
        top = torch.jit.last_executed_optimized_graph()
    guard = [n for n in top.nodes() if n.kind() == GUARD]
    pattern = list(getattr(guard[0], "is")("pattern")) if guard else None
    runs = fast_path(top) if guard else top
    return {"guard": pattern, "ifs": model_ifs(runs), "groups": groups(runs)}


def side_by_side(title, left, right):
    print(f"\n{title}")
    print(f"  {'':22}{'stock TorchScript':34}{'+ torch_optspec':34}")
    rows = [
        ("guard (None-pattern)", str(left["guard"]), str(right["guard"])),
        ("prim::If on the model", str(left["ifs"]), str(right["ifs"])),
        ("fusion groups", str(len(left["groups"])), str(len(right["groups"]))),
    ]
    for i in range(max(len(left["groups"]), len(right["groups"]))):
        rows.append((f"  group {i}",
                     left["groups"][i] if i < len(left["groups"]) else "-",
                     right["groups"][i] if i < len(right["groups"]) else "-"))
    for name, a, b in rows:
        print(f"  {name:22}{a:34}{b:34}")


def time_variants(variants, args, min_run_time=0.3, rounds=5, num_threads=None):
    """Median time per call in µs, variants interleaved round by round."""
    num_threads = num_threads or torch.get_num_threads()
    samples = {name: [] for name in variants}
    with torch.no_grad():
        for _ in range(rounds):
            for name, fn in variants.items():
                t = benchmark.Timer("fn(*args)", globals={"fn": fn, "args": args},
                                    num_threads=num_threads)
                samples[name].append(t.blocked_autorange(min_run_time=min_run_time).median * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def print_times(title, times, reference):
    print(f"\n{title}")
    print(f"  {'variant':30}{'µs/call':>12}   vs {reference}")
    for name, t in times.items():
        print(f"  {name:30}{t:12.1f}   {t / times[reference]:.2f}x")


def compiled(module, args, on):
    """`module` with fresh plans compiled for `args`, the pass on or off."""
    torch_optspec.reset_plans(module)
    with torch_optspec.enabled(on), torch.no_grad():
        for _ in range(4):
            module(*args)
    return module


def main():
    torch.manual_seed(0)
    started = time.perf_counter()
    print("torch", torch.__version__, "| torch_optspec", torch_optspec.__version__,
          "| threads", torch.get_num_threads())

    # ---- Part 1: the report's module, NNC on CPU ------------------------------
    nnc = torch_optspec.fusers.nnc_cpu()
    nnc.__enter__()
    x, mask = torch.randn(2, 3, 4, 4), torch.randn(2, 1, 1, 4)
    stock = torch.jit.script(ExampleModule(1024, 16))
    for arg, label in ((mask, "mask given"), (None, "mask=None")):
        left = compile_and_summarize(stock, (x, arg), on=False)
        right = compile_and_summarize(stock, (x, arg), on=True)
        side_by_side(f"Report's module, NNC on CPU, {label}, input {tuple(x.shape)}", left, right)

    # ---- Part 2a: timing, the report's module without a CPU fuser ------------
    # NNC's CPU kernels are interpreted in these wheels (part 1 shows what it
    # fuses, not how fast), so this table times the module with no fuser:
    # the cost of the guard and the gain from dropping the branch. One thread:
    # a 96-element tensor gains nothing from more.
    nnc.__exit__(None, None, None)
    torch._C._jit_override_can_fuse_on_cpu(False)
    args = (x, mask)
    times = {"eager": time_variants({"eager": ExampleModule(1024, 16)}, args, num_threads=1)["eager"]}
    for name, on in (("scripted (stock)", False), ("scripted + torch_optspec", True)):
        # scripted instances of one class share plans: compile, then time
        times[name] = time_variants({name: compiled(stock, args, on)}, args, num_threads=1)[name]
    print_times("Report's module, no CPU fuser, mask given", times, "scripted (stock)")

    # ---- Part 2b: timing, attention block, oneDNN Graph on frozen modules ------
    torch.jit.enable_onednn_fusion(True)
    q, k, v = (torch.randn(8, 12, 512, 64) for _ in range(3))
    amask = torch.randn(8, 1, 1, 512)
    args = (q, k, v, amask)
    variants = {}
    for name, cls, on in (("scripted (stock)", Attention, False),
                          ("scripted + torch_optspec", Attention, True),
                          ("hand-specialized", AttentionHand, False)):
        m = torch.jit.freeze(torch.jit.script(cls()).eval())
        summary = compile_and_summarize(m, args, on)
        variants[name] = m
        print(f"  {name:28} oneDNN fusion groups: {len(summary['groups'])} {' '.join(summary['groups'])}")
    times = time_variants(variants, args)
    print_times("Attention block (8x12x512x64, mask given), oneDNN Graph, frozen", times, "hand-specialized")
    print(f"\ndemo ran in {time.perf_counter() - started:.0f} s; counters: {torch_optspec.stats()}")


if __name__ == "__main__":
    main()
