"""oneDNN Graph (the real CPU fuser) only partitions the top-level block of a
graph, so with it enabled the fast path is outlined into a function of its
own ("auto" mode), and fuses exactly like the hand-specialized module.

Runs in a subprocess: torch.jit.enable_onednn_fusion registers a pre-pass for
the life of the process."""
import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import json
    from typing import Optional
    import torch
    import torch_optspec

    class Attn(torch.nn.Module):
        def forward(self, q, k, v, mask: Optional[torch.Tensor] = None):
            s = torch.matmul(q, k.transpose(-1, -2)) / 8.0
            if mask is not None:
                s = s + mask
            return torch.matmul(torch.softmax(s, dim=-1), v)

    class AttnHand(torch.nn.Module):
        def forward(self, q, k, v, mask):
            s = torch.matmul(q, k.transpose(-1, -2)) / 8.0
            s = s + mask
            return torch.matmul(torch.softmax(s, dim=-1), v)

    def groups(g):
        plans = [g] + list(torch_optspec._C._fallback_plans(g))
        return sum(len(p.findAllNodes("prim::oneDNNFusionGroup")) for p in plans)

    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))
    mask = torch.randn(1, 1, 1, 16)
    before = torch_optspec._C._outlines_now()
    torch.jit.enable_onednn_fusion(True)
    out = {"outlines_before": before, "outlines_after": torch_optspec._C._outlines_now()}
    ref = Attn()(q, k, v, mask)
    for name, cls, on in [("stock", Attn, False), ("optspec", Attn, True), ("hand", AttnHand, False)]:
        m = torch.jit.freeze(torch.jit.script(cls()).eval())
        with torch_optspec.enabled(on), torch.no_grad():
            for _ in range(4):
                y = m(q, k, v, mask)
            g = torch.jit.last_executed_optimized_graph()
        out[name] = groups(g)
        out[name + "_err"] = float((y - ref).abs().max())
    print(json.dumps(out))
''')


def test_onednn_fuses_the_outlined_fast_path_like_the_hand_specialized_twin(tmp_path):
    script = tmp_path / "onednn_case.py"  # TorchScript needs the source in a file
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["outlines_before"] is False and r["outlines_after"] is True
    assert r["hand"] >= 1
    assert r["optspec"] == r["hand"], r
    assert r["stock"] != r["hand"], r  # stock is split by the branch on mask
    for name in ("stock", "optspec", "hand"):
        assert r[name + "_err"] < 1e-5, r
