"""Programs for the reliability tests (docs/reliability.md): import source
text as a module (TorchScript needs the source of classes), independent
copies of scripted modules, Optional arguments by None-pattern, bit-exact
comparison of nested outputs.

No test using these runs the interpreted NNC CPU fuser: it is not
thread-safe in stock torch (tools/nnc_thread_race.py).
"""
import importlib.util
import io
import itertools
import sys

import torch

from torch_optspec import census

GUARD = census.GUARD_OP
_COUNTER = itertools.count()


def import_source(tmp_path, source):
    """Import Python source from a file (torch.jit.script needs the source of
    module classes)."""
    name = f"optspec_reliability_{next(_COUNTER)}"
    path = tmp_path / f"{name}.py"
    path.write_text("import torch\nfrom typing import List, Optional, Tuple\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fresh_copy(scripted):
    """An independent copy of a scripted module (own graph executors)."""
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    buf.seek(0)
    return torch.jit.load(buf)


def optional_args(pattern, shapes, seed):
    g = torch.Generator().manual_seed(seed)
    return [None if none else torch.randn(shape, generator=g) for none, shape in zip(pattern, shapes)]


def clones(opts):
    return [o.clone() if o is not None else None for o in opts]


def assert_same(a, b):
    """Bit-exact equality of nested outputs (None, tensors, tuples)."""
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif a is None or b is None:
        assert a is None and b is None, (a, b)
    else:
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def specialized_in(graph) -> bool:
    return GUARD in str(graph)


def bailout_depth() -> int:
    # set_fusion_strategy returns the previous strategy: read it, put it back.
    strategy = torch.jit.set_fusion_strategy([("STATIC", 2), ("DYNAMIC", 10)])
    torch.jit.set_fusion_strategy(strategy)
    return sum(depth for _, depth in strategy)


# A module with 4 Optional inputs: a given one, a None check with both
# branches, an Optional bias, an in-place update the caller sees; it returns
# `a` itself.
FOUR = """
class Four(torch.nn.Module):
    def forward(self, x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor],
                c: Optional[torch.Tensor], d: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        y = x * 2.0
        if a is not None:
            y = y + a
        if b is None:
            y = y - 1.0
        else:
            y = y * b
        y = torch.nn.functional.linear(y, torch.ones(4, 4) * 0.25, c)
        if d is not None:
            d.add_(1.0)
            y = y + d
        return y, a
"""
FOUR_SHAPES = [[4], [3, 4], [4], [3, 4]]
