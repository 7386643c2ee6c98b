"""Stock torch 2.13, no torch_optspec: with the NNC CPU fuser on, a fusible
op whose str argument is computed at run time (here gelu's `approximate`,
chosen from an input) fails in the fused kernel with

    RuntimeError: UNSUPPORTED DTYPE: str

(trial-run case 11000046; pass on and pass off both raise). A specialization
that folds the str to a constant avoids it, which the oracle would report as
"off_only"; the generator writes this gelu only in cases without NNC.

Run: python tests/fuzz/upstream/nnc_runtime_str_repro.py  (exits 1 while torch has the bug)
"""
import sys

import torch
import torch.nn.functional as F


def f(y: torch.Tensor, mode: str) -> torch.Tensor:
    return F.gelu(y * 0.5 + 1.0, approximate="tanh" if mode == "max" else "none") * 2.0


def main() -> int:
    torch._C._jit_override_can_fuse_on_cpu(True)
    torch._C._jit_set_te_must_use_llvm_cpu(False)
    torch._C._jit_set_texpr_reductions_enabled(True)
    g = torch.jit.script(f)
    y = torch.randn(2, 3, 4)
    try:
        with torch.no_grad():
            for _ in range(4):     # profile, optimize, run the fused plan
                out = g(y, "sum")
    except RuntimeError as e:
        print("scripted raised:", str(e).strip().splitlines()[0][:200])
        return 1
    print("ok:", torch.allclose(out, f(y, "sum")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
