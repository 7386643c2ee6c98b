"""Stock torch 2.13, no torch_optspec: a scripted function compiled under grad
mode (the profiling executor's autodiff path) returns wrong gradients and then
fails in backward with an INTERNAL ASSERT (register_prim_ops.cpp). The same
function compiled under torch.no_grad() and then called with grad gives the
right gradients (the plan records autograd op by op).

torch_optspec therefore never lets a plan it compiled on the no-grad path send
a grad-mode call into a fallback function first compiled under grad: on a
None-pattern mismatch under grad mode the original body runs inline
(csrc/passes/version.cpp, buildSlowPath).

    python tools/autodiff_optional_bias_repro.py
"""
import os
import sys
import tempfile
import textwrap

import torch

SRC = textwrap.dedent('''
    import torch
    from typing import Optional

    def fn(x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> torch.Tensor:
        y = torch.tanh(x) * 2.0
        if a is not None:
            y = y * a
        y = torch.nn.functional.linear(y, torch.ones(4, 4) * 0.5, b)
        return y.sigmoid()
''')


def main():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "repro_fn.py"), "w") as f:
            f.write(SRC)
        sys.path.insert(0, d)
        import repro_fn

        fn = torch.jit.script(repro_fn.fn)
        torch.manual_seed(0)
        for step in range(4):
            x = torch.randn(2, 4, requires_grad=True)
            x_ref = x.detach().clone().requires_grad_(True)
            try:
                fn(x, None, None).sum().backward()
            except RuntimeError as e:
                print(f"call {step}: backward failed: {str(e).splitlines()[-1][:120]}")
                return 1
            repro_fn.fn(x_ref, None, None).sum().backward()
            diff = float((x.grad - x_ref.grad).abs().max())
            print(f"call {step}: max |grad - eager grad| = {diff:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
