"""Stock torch 2.13, no torch_optspec: with the NNC CPU fuser on, softmax
over a dimension that is a graph input (`dim: int`, not a constant) fails in
the fused kernel's lowering with

    RuntimeError: std::get_if<int64_t>(&inputs[1]) INTERNAL ASSERT FAILED at
    ".../torch/csrc/jit/tensorexpr/operators/softmax.cpp":45

(fuzz cases 3000867 and 3001327 of the seed-3 run; pass on and pass off both
raise). A specialization that folds `dim` to a constant avoids it, which the
oracle reports as "off_only". The generator no longer writes
`torch.softmax(y, <int input>)` in NNC cases.

Run: python tests/fuzz/upstream/nnc_softmax_runtime_dim_repro.py  (exits 1 while torch has the bug)
"""
import sys

import torch


def f(y: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.softmax(y * 0.5 + 1.0, dim)


def main() -> int:
    torch._C._jit_override_can_fuse_on_cpu(True)
    torch._C._jit_set_te_must_use_llvm_cpu(False)
    torch._C._jit_set_texpr_reductions_enabled(True)
    g = torch.jit.script(f)
    y = torch.randn(2, 3, 4)
    try:
        with torch.no_grad():
            for _ in range(4):     # profile, optimize, run the fused plan
                out = g(y, -1)
    except RuntimeError as e:
        print("scripted raised:", str(e).strip().splitlines()[0][:200])
        return 1
    print("ok:", torch.equal(out, f(y, -1)) or torch.allclose(out, f(y, -1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
