"""torch_optspec.specialize(): ahead-of-time specialization that needs no
torch_optspec where the result runs (C++: torch_optspec::specialize)."""
import dataclasses
from typing import List, Union

import torch

from . import _C


@dataclasses.dataclass
class SpecializedArgument:
    name: str
    type: str
    decision: str  # "none", "tensor", "value", "present", "skip"
    reason: str  # when skipped: "-" (nothing to specialize), "unused", "undefined_tensor"
    specialized_for: str  # e.g. "None", "a Tensor", "a Tensor (dim 4)", "True", "3"
    check: str  # the stock conditions checked, e.g. "mask is not None"


@dataclasses.dataclass
class SpecializeReport:
    """What specialize() baked in (the `optspec_report` attribute of its
    result; not saved by torch.jit.save, which keeps the code only)."""

    method: str
    strict: bool
    specialized: bool  # False: nothing to specialize; the result is a plain copy
    reason: str
    arguments: List[SpecializedArgument]
    cleanup_rounds: int
    residual_checks: int
    text: str

    @classmethod
    def from_dict(cls, d: dict) -> "SpecializeReport":
        d = dict(d)
        d["arguments"] = [SpecializedArgument(**a) for a in d["arguments"]]
        return cls(**d)

    def specialized_arguments(self) -> dict:
        """{name: what it was specialized for} ("None", "a Tensor", "True", ...)
        for the arguments baked in."""
        return {a.name: a.specialized_for for a in self.arguments if a.decision != "skip"}

    def __str__(self) -> str:
        return self.text


def specialize(model: Union[torch.jit.ScriptModule, torch.jit.ScriptFunction], *example_args,
               strict: bool = False, **example_kwargs) -> torch.jit.ScriptModule:
    """A new ScriptModule whose forward is specialized for the arguments of
    `model(*example_args, **example_kwargs)`: each `Optional[Tensor]` argument
    given as None becomes None, each given as a Tensor a Tensor, the branches
    on them are folded away (the methods forward calls are inlined first), and
    the result is checked with stock TorchScript operations only, so
    `torch.jit.save` writes a model that runs specialized in any PyTorch or
    LibTorch, without torch_optspec.

    - strict=False (guarded): a call with other None-ness runs the original
      code and gives its result.
    - strict=True: such a call raises a RuntimeError naming the argument and
      what it was specialized for; the specialized code is the top-level graph
      (what oneDNN Graph needs: freeze, then specialize).

    `model` is not modified. A scripted module is copied (parameters
    included; a module that is not frozen keeps them as trainable parameters);
    a frozen one stays frozen. A ScriptFunction gives a ScriptModule whose
    forward is the function (what torch.jit.save writes for a function, and
    what torch.jit.load gives back anyway). The examples are only looked at
    (None or not), not run. Arguments with defaults may be left out; they are
    specialized for their default (`mask=None` by default -> None).

    What was baked in: `result.optspec_report` (a SpecializeReport; print it).
    """
    if not isinstance(strict, bool):
        raise TypeError(f"torch_optspec.specialize(): 'strict' must be bool, not {type(strict).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        cpp, report = _C._specialize_module(model._c, tuple(example_args), dict(example_kwargs), strict)
    elif isinstance(model, torch.jit.ScriptFunction):
        cpp, report = _C._specialize_function(model, tuple(example_args), dict(example_kwargs), strict)
    elif isinstance(model, torch.nn.Module):
        raise TypeError(
            "torch_optspec.specialize() takes a scripted model: "
            f"torch_optspec.specialize(torch.jit.script(model), ...), not a {type(model).__name__}")
    else:
        raise TypeError("torch_optspec.specialize() takes a torch.jit.ScriptModule or ScriptFunction, "
                        f"got {type(model).__name__}")
    out = torch.jit._recursive.wrap_cpp_module(cpp)
    # ScriptModules allow Python attributes (not saved).
    out.optspec_report = SpecializeReport.from_dict(report)
    return out
