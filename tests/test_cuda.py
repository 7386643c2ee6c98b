"""CUDA-ready tests, skipped without a CUDA device. On a GPU machine:

    .venv/bin/python -m pytest -m cuda

- the report's module with NNC on the GPU: with the pass, div + add(mask) +
  softmax form one prim::TensorExprGroup (stock TorchScript leaves the add
  out), and the outputs match eager;
- `python -m torch_optspec explain ... --device cuda` runs;
- `python -m bench.run --quick --device cuda` runs.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

import torch_optspec
from test_fusion_nnc import ExampleModule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUARD = "torch_optspec::check_none_pattern"

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


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


def test_cli_explain_device_cuda(tmp_path):
    path = str(tmp_path / "report.pt")
    torch.jit.save(torch.jit.script(ExampleModule(1024, 16).eval()), path)
    p = _run(["-m", "torch_optspec", "explain", path, "2x3x4x4", "2x1x1x4", "--device", "cuda"],
             timeout=600)
    assert p.returncode == 0, p.stderr
    assert "result: specialized" in p.stdout and "pattern=[0]" in p.stdout


def test_bench_quick_device_cuda(tmp_path):
    p = _run(["-m", "bench.run", "--quick", "--no-compile", "--device", "cuda", "--out",
              str(tmp_path)], timeout=1800)
    assert p.returncode == 0, p.stderr[-2000:]
    with open(tmp_path / "latest.json") as f:
        results = json.load(f)
    assert results["machine"]["device"] == "cuda" and results["machine"]["gpu"]
    assert results["cases"] and all(c["fuser"] in ("nnc", "none") for c in results["cases"])
    assert (tmp_path / "latest.md").exists()
