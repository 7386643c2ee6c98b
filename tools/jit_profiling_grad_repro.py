"""Stock torch, no torch_optspec: the first call of a scripted module (the
profiling run) with an input that requires grad returns a value different
from eager; later calls agree. Found by the fuzzer (case 1003979), where it
shows as "off vs eager"; the module is that case's, loaded from
tests/fuzz/regressions/case_1003979.py (which imports torch_optspec only when
run as a script).

    python tools/jit_profiling_grad_repro.py       # exits 1 while the bug is there
"""
import importlib.util
import sys
from pathlib import Path

import torch

CASE_FILE = Path(__file__).resolve().parents[1] / "tests" / "fuzz" / "regressions" / "case_1003979.py"


def load_case():
    """The fuzz case as a module (TorchScript reads its source from the file)."""
    spec = importlib.util.spec_from_file_location("case_1003979", CASE_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    Model = load_case().Model
    torch.manual_seed(0)
    eager, scripted = Model(), torch.jit.script(Model())
    worst = []
    for k in range(3):
        x = torch.randn(2, 3, 4, requires_grad=True)
        o0, o2 = torch.randn(2, 3, 4), torch.randn(4)
        diff = (eager(x, o0, None, o2, None)[0] - scripted(x, o0, None, o2, None)[0]).abs().max().item()
        print(f"call {k}: max abs difference from eager {diff:g}")
        worst.append(diff)
    print(f"torch {torch.__version__}")
    sys.exit(1 if max(worst) > 0 else 0)
