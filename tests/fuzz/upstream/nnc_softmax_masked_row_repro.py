"""Stock torch 2.13, no torch_optspec: the interpreted NNC CPU fuser (the
official wheels have no LLVM) computes softmax over a row whose entries are
all large negative numbers (a fully masked attention row, -10000 added to
each score) as NaN, where eager returns the uniform-ish softmax: the fused
kernel does not subtract the row maximum before exp. Found while extending
the fuzzer (fuzz case 12000200 of a trial run); the fuzz oracle now never
masks the first key, as real masks do not (fuzz_oracle._make_value).

Run: python tests/fuzz/upstream/nnc_softmax_masked_row_repro.py  (exits 1 while torch has the bug)
"""
import sys

import torch


def f(s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return torch.softmax(s * 0.5 + m, -1)


def main() -> int:
    torch._C._jit_override_can_fuse_on_cpu(True)
    torch._C._jit_set_te_must_use_llvm_cpu(False)
    torch._C._jit_set_texpr_reductions_enabled(True)
    g = torch.jit.script(f)
    s = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    m = torch.zeros(2, 1, 3, 3)
    m[0, 0, 1] = -10000.0          # one row fully masked
    with torch.no_grad():
        for _ in range(4):         # profile, optimize, run the fused plan
            out = g(s, m)
    fused = str(torch.jit.last_executed_optimized_graph()).count("prim::TensorExprGroup_")
    ref = f(s, m)
    print(f"fusion groups {fused}; NaNs: eager {torch.isnan(ref).sum().item()}, "
          f"NNC {torch.isnan(out).sum().item()}")
    print("masked row, eager:", ref[0, 0, 1].tolist(), " NNC:", out[0, 0, 1].tolist())
    return 1 if torch.isnan(out).any() and not torch.isnan(ref).any() else 0


if __name__ == "__main__":
    sys.exit(main())
