"""CUDA tests (`make gpu-check` runs them: pytest -m cuda); the ones
parametrized by device also run here on the CPU, with NNC interpreted and
tiny shapes, so their logic is checked on every machine.

- the report's module (docs/report.md) with NNC: with the pass, div +
  add(mask) + softmax form one fusion group, as in the hand twin (stock
  TorchScript leaves the add out); on CUDA at the report's sizes, fp32 and
  fp16, mask given and None; outputs match eager;
- the same with inputs requiring grad (the report's own run): the runtime
  pass cannot reach the Optional branch on the autodiff path (its groups are
  stock's), the specialize() artifact fuses like the twin, inside the
  DifferentiableGraph's forward executor; gradients match eager;
- `python -m torch_optspec explain ... --device cuda` runs;
- `python -m bench.run --quick --device cuda` and `python -m bench.cuda
  --quick` run (the latter also on the CPU).
"""
import json
import os
import subprocess
import sys

import pytest
import torch

import torch_optspec
from torch_optspec import census
from test_fusion_nnc import ExampleModule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUARD = census.GUARD_OP

CUDA = [pytest.mark.cuda,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", marks=CUDA, id="cuda")]


@pytest.fixture
def nnc_gpu():
    """NNC (TensorExpr) fusion on the GPU only, reductions (softmax) on."""
    old = (torch._C._jit_texpr_fuser_enabled(), torch._C._jit_can_fuse_on_gpu(),
           torch._C._jit_can_fuse_on_cpu(), torch._C._jit_texpr_reductions_enabled())
    torch._C._jit_set_texpr_fuser_enabled(True)
    torch._C._jit_override_can_fuse_on_gpu(True)
    torch._C._jit_override_can_fuse_on_cpu(False)
    torch._C._jit_set_texpr_reductions_enabled(True)
    yield
    torch._C._jit_set_texpr_fuser_enabled(old[0])
    torch._C._jit_override_can_fuse_on_gpu(old[1])
    torch._C._jit_override_can_fuse_on_cpu(old[2])
    torch._C._jit_set_texpr_reductions_enabled(old[3])


def fusion_groups(block, out=None):
    """Op kinds of each prim::TensorExprGroup on the path a call matching the
    guard runs (block1 of the guard's If, the fallback, left out)."""
    out = [] if out is None else out
    for node in block.nodes():
        if node.kind() == "prim::TensorExprGroup":
            out.append(sorted(n.kind() for n in node.g("Subgraph").nodes()
                              if n.kind() != "prim::Constant"))
        blocks = list(node.blocks())
        if node.kind() == "prim::If" and node.inputsAt(0).node().kind() == GUARD:
            blocks = blocks[:1]
        for b in blocks:
            fusion_groups(b, out)
    return out


def compiled_plan(with_pass: bool, x, mask):
    m = torch.jit.script(ExampleModule(1024, 16).eval())
    torch_optspec.reset_plans(m)  # scripted instances share compiled methods
    with torch.no_grad(), torch_optspec.enabled(with_pass):
        for _ in range(4):
            out = m(x, mask)
        torch.cuda.synchronize()
        return torch.jit.last_executed_optimized_graph(), out


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_report_module_fuses_div_add_softmax_on_cuda(nnc_gpu):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4, device="cuda")
    mask = torch.randn(2, 1, 1, 4, device="cuda")
    full = ["aten::add", "aten::div", "aten::softmax"]

    stock, _ = compiled_plan(False, x, mask)
    assert GUARD not in str(stock)
    assert full not in fusion_groups(stock.block()), "stock TorchScript fuses across the If?"

    torch_optspec.set_fast_path("inline")
    g, out = compiled_plan(True, x, mask)
    assert GUARD + "[pattern=[0]]" in str(g)
    groups = fusion_groups(g.block())
    assert groups == [full], groups
    with torch.no_grad():
        expected = ExampleModule(1024, 16)(x, mask)
    torch.testing.assert_close(out, expected)
    assert out.is_cuda


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, **kw)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cli_explain_device_cuda(tmp_path):
    path = str(tmp_path / "report.pt")
    torch.jit.save(torch.jit.script(ExampleModule(1024, 16).eval()), path)
    p = _run(["-m", "torch_optspec", "explain", path, "2x3x4x4", "2x1x1x4", "--device", "cuda"],
             timeout=600)
    assert p.returncode == 0, p.stderr
    assert "result: specialized" in p.stdout and "pattern=[0]" in p.stdout


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bench_quick_device_cuda(tmp_path):
    p = _run(["-m", "bench.run", "--quick", "--no-compile", "--device", "cuda", "--out",
              str(tmp_path)], timeout=1800)
    assert p.returncode == 0, p.stderr[-2000:]
    with open(tmp_path / "latest.json") as f:
        results = json.load(f)
    assert results["machine"]["device"] == "cuda" and results["machine"]["gpu"]
    assert results["cases"] and all(c["fuser"] in ("nnc", "none") for c in results["cases"])
    assert (tmp_path / "latest.md").exists()


# ---- the report's module at the report's sizes, NNC on the device --------------

from bench.cuda import (ReportModule, ReportTwin, autodiff_forward_groups,  # noqa: E402
                        plan_groups, set_nnc)
from torch_optspec import fresh_copy  # noqa: E402

FULL = ["aten::add", "aten::div", "aten::softmax"]


@pytest.fixture
def nnc_on():
    """NNC on the device under test only (bench.cuda.set_nnc), restored after."""
    old = (torch._C._jit_texpr_fuser_enabled(), torch._C._jit_can_fuse_on_gpu(),
           torch._C._jit_can_fuse_on_cpu(), torch._C._jit_texpr_reductions_enabled(),
           torch._C._jit_get_te_must_use_llvm_cpu())
    yield set_nnc
    torch._C._jit_set_texpr_fuser_enabled(old[0])
    torch._C._jit_override_can_fuse_on_gpu(old[1])
    torch._C._jit_override_can_fuse_on_cpu(old[2])
    torch._C._jit_set_texpr_reductions_enabled(old[3])
    torch._C._jit_set_te_must_use_llvm_cpu(old[4])


def report_inputs(device, dtype):
    """The report's sizes on CUDA; tiny ones for NNC's CPU interpreter."""
    shape = (128, 16, 64, 64) if device == "cuda" else (2, 3, 4, 8)
    torch.manual_seed(0)
    x = torch.randn(*shape, device=device, dtype=dtype)
    mask = torch.randn(shape[0], 1, 1, shape[3], device=device, dtype=dtype)
    return x, mask


def tolerances(dtype):
    return dict(rtol=1e-2, atol=2e-3) if dtype == torch.float16 else {}


@pytest.mark.parametrize("masked", [True, False], ids=["mask", "None"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("device", DEVICES)
def test_report_sizes_fuse_like_the_twin(nnc_on, device, dtype, masked):
    if device == "cpu" and dtype == torch.float16:
        pytest.skip("NNC's CPU interpreter: fp32 only")
    nnc_on(device)
    x, mask = report_inputs(device, dtype)
    args = (x, mask) if masked else (x,)
    groups, outs = {}, {}
    with torch.no_grad():
        expected = ReportModule(1024, 16)(*args)
        for name, model in (("stock", fresh_copy(ReportModule(1024, 16))),
                            ("optspec", fresh_copy(ReportModule(1024, 16))),
                            ("twin", fresh_copy(ReportTwin(1024, 16, masked)))):
            with torch_optspec.enabled(name == "optspec"):
                for _ in range(8):
                    outs[name] = model(*args)
                groups[name] = plan_groups(torch.jit.last_executed_optimized_graph())
    want = [FULL] if masked else [["aten::div", "aten::softmax"]]
    assert groups["twin"] == want, groups
    assert groups["optspec"] == want, groups
    assert groups["stock"] != want, groups  # the prim::If splits stock's groups
    for name, out in outs.items():
        torch.testing.assert_close(out, expected, **tolerances(dtype), msg=name)
        assert out.device.type == device and out.dtype == dtype


@pytest.mark.parametrize("device", DEVICES)
def test_report_autodiff_path(nnc_on, device):
    """Inputs requiring grad, grad enabled (the report's own run): NNC fuses
    inside each DifferentiableGraph's forward executor. The runtime pass does
    not run before the DifferentiableGraphs are formed (its groups are
    stock's); the specialize() artifact, guarded or strict, fuses div + add +
    softmax like the twin. Outputs and gradients match eager."""
    nnc_on(device)
    x0, m0 = report_inputs(device, torch.float32)
    weights = torch.randn_like(x0)

    def run(model, with_pass):
        x, m = x0.clone().requires_grad_(), m0.clone().requires_grad_()
        with torch_optspec.enabled(with_pass):
            y = model(x, m)
        (y * weights).sum().backward()
        return y.detach(), x.grad, m.grad

    expected = run(ReportModule(1024, 16), False)
    variants = {
        "stock": (fresh_copy(ReportModule(1024, 16)), False),
        "optspec": (fresh_copy(ReportModule(1024, 16)), True),
        "artifact": (torch_optspec.specialize(fresh_copy(ReportModule(1024, 16)), x0, m0), False),
        "artifact_strict": (torch_optspec.specialize(fresh_copy(ReportModule(1024, 16)), x0, m0,
                                                     strict=True), False),
        "twin": (fresh_copy(ReportTwin(1024, 16, True)), False),
    }
    groups = {}
    for name, (model, with_pass) in variants.items():
        for _ in range(8):
            got = run(model, with_pass)
        groups[name] = autodiff_forward_groups(model)
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, msg=name)
    assert FULL in groups["twin"], groups
    assert FULL in groups["artifact"] and FULL in groups["artifact_strict"], groups
    assert FULL not in groups["stock"], groups
    assert groups["optspec"] == groups["stock"], groups
    assert torch_optspec.stats()["graphs_specialized"] == 0


@pytest.mark.parametrize("device", DEVICES)
def test_bench_cuda_quick(tmp_path, device):
    """bench.cuda, the benchmark of `make gpu-check`, end to end on tiny
    shapes: every part runs, results are written, the report rows show the
    fusion the tests above assert."""
    p = _run(["-m", "bench.cuda", "--quick", "--device", device, "--out", str(tmp_path)],
             timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    with open(tmp_path / "cuda.json") as f:
        results = json.load(f)
    parts = {r["part"] for r in results["rows"]}
    assert parts == {"report no-grad", "report autodiff", "bert no-grad"}, parts
    masked = [r for r in results["rows"] if r["part"] == "report no-grad" and "mask=yes" in r["name"]]
    assert masked and all(r["div_add_softmax_one_group"] == {"stock": False, "optspec": True,
                                                              "twin": True} for r in masked), masked
    for r in results["rows"]:
        tol = 5e-2 if "float16" in r["name"] else 1e-4
        assert all(e <= tol for e in r["max_abs_err"].values()), (r["name"], r["max_abs_err"])
        assert r["ratio_optspec_vs_stock"]["min"] > 0
    assert "## The BERT port" in (tmp_path / "cuda.md").read_text()


def test_gpu_check_stops_cleanly_without_a_gpu(tmp_path):
    """`make gpu-check` on a machine without a GPU (or with a CPU torch):
    one line saying what is missing, exit 2, no traceback, nothing built."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    p = subprocess.run(["bash", os.path.join(ROOT, "tools", "gpu_check.sh")], cwd=ROOT,
                       env=dict(os.environ, PYTHON=sys.executable, GPU_CHECK_OUT=str(tmp_path)),
                       capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gpu-check: "), lines
    assert ("no GPU" in lines[0]) or ("CPU build" in lines[0]), lines
    assert not (tmp_path / "cmake").exists()
