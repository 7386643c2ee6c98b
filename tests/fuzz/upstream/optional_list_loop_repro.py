"""Stock torch 2.13, no torch_optspec: a `for` loop over a refined
Optional[List[Tensor]] followed by another refinement of the same argument
fails in the profiling executor with

    RuntimeError: isList() INTERNAL ASSERT FAILED at ".../ATen/core/ivalue_inl.h":2099,
    please report a bug to PyTorch. Expected GenericList but got None

from the first call on, for a list of two or more tensors (a one-element list
works; the legacy executor works). Found while extending the fuzzer
(tests/fuzz/fuzz_gen.py no longer writes a loop over an Optional list that is
not resolved first, see _KindsGen.st_list).

Run: python tests/fuzz/upstream/optional_list_loop_repro.py  (exits 1 while torch has the bug)
"""
import sys
from typing import List, Optional

import torch


def fn(y: torch.Tensor, hs: Optional[List[torch.Tensor]]) -> torch.Tensor:
    if hs is not None:
        for h in hs:
            y = y + h
    if hs is not None:
        y = y * len(hs)
    return y


def main() -> int:
    scripted = torch.jit.script(fn)
    args = (torch.zeros(2), [torch.ones(2), torch.ones(2)])
    print("eager:", fn(*args))
    try:
        print("scripted:", scripted(*args))
    except RuntimeError as e:
        print("scripted raised:", str(e).strip().splitlines()[-1])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
