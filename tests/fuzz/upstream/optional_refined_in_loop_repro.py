"""Stock torch 2.13, no torch_optspec: an Optional[int], Optional[float] or
Optional[List[Tensor]] argument refined by `if v is not None:`, used in the
body of a `for` loop inside that block, and refined again after it, loses
its value after the loop's first iteration. The second iteration reads None:

    int, float: RuntimeError: IValue is not a Scalar (or, where an int op reads
                it: 0 INTERNAL ASSERT FAILED at ".../ATen/core/ivalue.h":663 ... expected int)
    list:  RuntimeError: isList() INTERNAL ASSERT FAILED at ".../ATen/core/ivalue_inl.h":2099 ...
           Expected GenericList but got None

from the first call on, with or without grad, whenever the loop runs twice
or more (one iteration works), with the profiling executor (the default; also
with graph-executor optimization off); the legacy executor runs them. The If
of the first refinement outputs the refined value for the second one, and
that value is also used in the loop. Optional[Tensor] is not affected.

Met by the fuzzer (trial-run case 12000234: a loop over an Optional list;
seed-5 case 5002637: a loop using an Optional[int], grad on); the generator
no longer writes a loop that uses an Optional non-tensor argument refined
outside it (fuzz_gen._KindsGen.st_int, st_list).

Run: python tests/fuzz/upstream/optional_refined_in_loop_repro.py  (exits 1 while torch has the bug)
"""
import sys
from typing import List, Optional

import torch


def with_int(x: torch.Tensor, n: Optional[int]) -> torch.Tensor:
    y = x * 0.5
    if n is not None:
        for _ in range(2):
            y = y * n
    if n is not None:
        y = y + n
    return y


def with_float(x: torch.Tensor, s: Optional[float]) -> torch.Tensor:
    y = x * 0.5
    if s is not None:
        for _ in range(2):
            y = y * s
    if s is not None:
        y = y + s
    return y


def with_list(x: torch.Tensor, hs: Optional[List[torch.Tensor]]) -> torch.Tensor:
    y = x * 0.5
    if hs is not None:
        for h in hs:
            y = y + h
    if hs is not None:
        y = y * len(hs)
    return y


def with_tensor(x: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    y = x * 0.5
    if o is not None:
        for _ in range(2):
            y = y + o
    if o is not None:
        y = y * o
    return y


def main() -> int:
    failed = 0
    x = torch.randn(2, 3)
    for fn, value in ((with_int, 3), (with_float, 0.5), (with_list, [torch.ones(2, 3)] * 2),
                      (with_tensor, torch.ones(2, 3))):
        scripted = torch.jit.script(fn)
        try:
            with torch.no_grad():
                out = scripted(x, value)
            print(f"{fn.__name__}: ok, equal to eager: {torch.equal(out, fn(x, value))}")
        except RuntimeError as e:
            lines = [line for line in str(e).strip().splitlines() if line.strip()]
            print(f"{fn.__name__}: raised", lines[-1][:160])
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
