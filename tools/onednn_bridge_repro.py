"""Stock torch 2.13, no torch_optspec: oneDNN Graph (torch.jit.enable_onednn_fusion)
fails on these small frozen modules: it raises, returns a wrong result or
kills the process. Each case is a few lines of ordinary PyTorch; the failures
are in oneDNN Graph's bridge (torch/csrc/jit/codegen/onednn/), which
torch_optspec's fuser-safety stage works around (csrc/passes/fuser_safety.cpp).

    python tools/onednn_bridge_repro.py              # stock: each case in its own process;
                                                     # exits 1 while any case fails
    python tools/onednn_bridge_repro.py --optspec    # the same with torch_optspec enabled
    python tools/onednn_bridge_repro.py --case NAME [--optspec]   # one case, in this process

A case passes when every call returns what eager PyTorch returns (same
dtype and shape, values within 1e-5).
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap

# name: (what stock does, module source, inputs of each call as Python source)
CASES = {
    "never_profiled_branch": (
        "bad optional access: the branch the profiling run skipped has no dtypes",
        """
        class M(torch.nn.Module):
            def forward(self, y, m: Optional[torch.Tensor] = None):
                y = y * 0.5
                if m is not None:
                    y = y + m * 2.0
                return y.relu()
        """,
        "[(x, None), (x, None), (x, x), (x, None)]"),
    "two_dtypes": (
        "bad optional access: a value profiled as float32 and as float64 has no dtype",
        """
        class M(torch.nn.Module):
            def forward(self, y):
                return torch.relu(y + y) * 2.0
        """,
        "[(x,), (x.double(),), (x,), (x.double(),)]"),
    "layer_norm_without_affine": (
        "vector::_M_range_check: the bridge drops the None weight and bias",
        """
        class M(torch.nn.Module):
            def forward(self, y):
                return F.layer_norm(y * 0.5, [4], None, None)
        """,
        "[(x,)] * 3"),
    "layer_norm_weight_only": (
        "could not add op to the graph: the bridge drops the None bias",
        """
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.randn(4))
            def forward(self, y):
                return F.layer_norm(y, [4], self.w, None) * 2.0
        """,
        "[(x,)] * 3"),
    "zero_dim_operand": (
        "partition compile failed: a 0-dim tensor operand in a fused partition",
        """
        class M(torch.nn.Module):
            def forward(self, y, s):
                return torch.relu(y) * s
        """,
        "[(x, x.sum())] * 3"),
    "constant_after_matmul": (
        "vector::_M_range_check: a constant operand right after a matmul",
        """
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.randn(4, 4))
                self.c = torch.nn.Parameter(torch.randn(4))
            def forward(self, y):
                return torch.matmul(y, self.w) + self.c
        """,
        "[(x,)] * 3"),
    "layer_norm_then_add": (
        "wrong result: layer_norm + add of a same-shape tensor, fused",
        """
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.randn(4))
                self.b = torch.nn.Parameter(torch.randn(4))
            def forward(self, y, o):
                return F.layer_norm(y, [4], self.w, self.b) + o
        """,
        "[(x, x * 2.0)] * 3"),
    "broadcast_operand_twice": (
        "segmentation fault: (a + v) + v with v broadcast, fused",
        """
        class M(torch.nn.Module):
            def forward(self, y, v):
                return (torch.relu(y) + v) + v
        """,
        "[(x, x[0, 0])] * 3"),
    "broadcast_and_constant": (
        "wrong result: a broadcast input and a constant in one partition",
        """
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.c = torch.nn.Parameter(torch.randn(4))
            def forward(self, y, v):
                return self.c * (F.gelu(y * 0.5) + v)
        """,
        "[(x, x[0, 0])] * 3"),
    "scalar_on_integer_tensor": (
        "wrong result: int64 * 0.5 computed as int64 * 0 (the scalar takes the tensor's dtype)",
        """
        class M(torch.nn.Module):
            def forward(self, n):
                return n * 0.5
        """,
        "[(torch.arange(6),)] * 3"),
    "scalar_on_0dim_tensor": (
        "wrong result: a 0-dim tensor times a scalar comes back with shape [1]",
        """
        class M(torch.nn.Module):
            def forward(self, y):
                return y.sum() * 2.0
        """,
        "[(x,)] * 3"),
    "use_after_in_place_update": (
        "bad optional access: after the bridge's mutation removal the value has no dtype",
        """
        class M(torch.nn.Module):
            def forward(self, y, o):
                y = torch.relu(y)
                y.add_(o)
                return y * 2.0
        """,
        "[(x, x)] * 3"),
    "elementwise_chain": (
        "wrong result: a chain of adds mixing same-shape and broadcast operands, fused",
        """
        class M(torch.nn.Module):
            def forward(self, y, a, v, b, w, c):
                return y * 0.5 + a + v + b + w + c
        """,
        "[(x, x * 2.0, x[0, 0], x * 3.0, x[0, 1], x[1, 0])] * 3"),
    "matmul_then_if_output": (
        "vector::_M_range_check: an operand made by a prim::If added right after a linear",
        """
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.randn(4, 4))
                self.b = torch.nn.Parameter(torch.randn(4))
            def forward(self, y, o: Optional[torch.Tensor] = None):
                z = F.linear(torch.relu(y), self.w, self.b)
                assert o is not None
                return z + o
        """,
        "[(x, x * 2.0)] * 3"),
    "read_in_if_block": (
        "LLGA subgraph should contain only one partition: a value read inside "
        "an If looks internal to its partition",
        """
        class M(torch.nn.Module):
            def forward(self, y, keep: bool):
                q = y.unsqueeze(0)
                p = torch.softmax(torch.matmul(q, q.transpose(-1, -2)) * 0.5, -1)
                o = torch.matmul(p, q)
                probs: Optional[torch.Tensor] = None
                if keep:
                    probs = p
                return o, probs
        """,
        "[(x, False), (x, False), (x, True)]"),
    "size_of_value_a_block_returns": (
        "Schema not found for node: DeferSizeCheck asks a block's return for its operator",
        """
        class M(torch.nn.Module):
            def forward(self, y, flag: bool):
                n = y.size()
                if flag:
                    z = y
                else:
                    z = torch.relu(y)
                return z * float(n[0])
        """,
        "[(x, True)] * 3"),
    "multihead_attention": (
        "bad optional access: torch.nn.MultiheadAttention's never-taken branches",
        None,  # torch.nn.MultiheadAttention(4, 2, batch_first=True), need_weights=True
        "[(x, x, x)] * 3"),
}

HEADER = """
import torch
import torch.nn.functional as F
from typing import Optional
"""


def build(name):
    _, source, _ = CASES[name]
    if source is None:
        torch.manual_seed(0)
        return torch.nn.MultiheadAttention(4, 2, batch_first=True).eval()
    path = os.path.join(tempfile.mkdtemp(), f"onednn_case_{name}.py")
    with open(path, "w") as f:  # TorchScript needs the source in a file
        f.write(HEADER + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"onednn_case_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module.M().eval()


def same(a, b):
    if isinstance(a, (tuple, list)):
        return all(same(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    return (a.dtype == b.dtype and a.shape == b.shape
            and torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-5))


def reason(e):
    """The line of a TorchScript error that says what failed (its message
    ends with a traceback, or with the whole graph)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("Schema not found", "LLGA subgraph")):
            return ln
    return lines[-1] if lines else type(e).__name__


def run_case(name, optspec):
    """0 when every call matches eager; 1 (with the reason printed) otherwise."""
    model = build(name)
    torch.jit.enable_onednn_fusion(True)
    if optspec:
        import torch_optspec
        torch_optspec.enable()
    torch._C._jit_set_num_profiled_runs(2 if name == "two_dtypes" else 1)
    scripted = torch.jit.freeze(torch.jit.script(model))
    torch.manual_seed(1)
    x = torch.randn(2, 3, 4)
    calls = eval(CASES[name][2], {"torch": torch, "x": x})
    with torch.no_grad():
        for k, args in enumerate(calls):
            try:
                got = scripted(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
            except Exception as e:  # noqa: BLE001 - the failure being reproduced
                print(f"call {k}: {type(e).__name__}: {reason(e)}")
                return 1
            want = model(*args)
            if not same(got, want):
                print(f"call {k}: wrong result")
                return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--optspec", action="store_true", help="with torch_optspec enabled")
    p.add_argument("--case", choices=sorted(CASES), help="run one case in this process")
    args = p.parse_args()
    if args.case:
        return run_case(args.case, args.optspec)
    label = "torch_optspec enabled" if args.optspec else "stock"
    failed = 0
    for name, (what, _, _) in CASES.items():
        cmd = [sys.executable, __file__, "--case", name] + (["--optspec"] if args.optspec else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            outcome = "runs, equal to eager"
        elif proc.returncode < 0:
            outcome = f"killed by signal {-proc.returncode}"
        else:
            outcome = (proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines() or ["?"])[-1]
        failed += proc.returncode != 0
        print(f"{name:28s} {outcome}" + ("" if args.optspec else f"   [{what}]"), flush=True)
    print(f"{failed} of {len(CASES)} cases fail ({label}, torch {torch.__version__})")
    return 1 if failed else 0


import torch  # noqa: E402  (after the docstring and the case table, for --help speed)

if __name__ == "__main__":
    sys.exit(main())
