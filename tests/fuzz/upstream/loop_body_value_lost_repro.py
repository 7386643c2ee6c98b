"""Stock torch 2.13, no torch_optspec: a non-tensor value (int, float, list)
used in the body of a loop that runs twice or more loses its value after the
first iteration when the graph uses it again in certain places after the
loop; the next iteration (or the later use) reads None:

    int, float: RuntimeError: IValue is not a Scalar (or, where an int op reads
                it: 0 INTERNAL ASSERT FAILED at ".../ATen/core/ivalue.h":663 ... expected int)
    list:       RuntimeError: isList() INTERNAL ASSERT FAILED at ".../ATen/core/ivalue_inl.h":2099 ...
                Expected GenericList but got None

from the first call on, with or without grad, with the profiling executor
(the default); the legacy executor (`--legacy`) runs them all. With
graph-executor optimization off (`--noopt`) Optional[Tensor] fails the same
way (`optional_tensor`: Expected Tensor but got None). Seen with the later use being another loop's trip count (a plain
`int` argument, `plain_int` below) and with an Optional argument refined by
`if v is not None:` around the loop and refined again after it (the If then
outputs the refined value: `optional_*` below). Optional[Tensor] (on the
default path) and a later use in arithmetic (`y + n` after the loop) are not
affected.

Met by the fuzzer: trial-run case 12000234 (a loop over an Optional list),
seed-5 case 5002637 (a loop using an Optional[int], grad on), seed-6 case
6002553 (an Optional[int] resolved to 2, used in one loop, trip count of the
next). The generator no longer writes a loop using an Optional non-tensor
argument refined outside it (fuzz_gen._KindsGen.st_int, st_list); the other
forms stay: they are rare and both scripted copies fail (cause "stock").

Run: python tests/fuzz/upstream/loop_body_value_lost_repro.py [--legacy | --noopt]
(exits 1 while torch has the bug)
"""
import sys
from typing import List, Optional

import torch


def plain_int(x: torch.Tensor, n: int) -> torch.Tensor:
    y = x * 0.5
    for _ in range(2):
        y = y * n
    for _ in range(n):
        y = y + 1.0
    return y


def optional_int(x: torch.Tensor, n: Optional[int]) -> torch.Tensor:
    y = x * 0.5
    if n is not None:
        for _ in range(2):
            y = y * n
    if n is not None:
        y = y + n
    return y


def optional_float(x: torch.Tensor, s: Optional[float]) -> torch.Tensor:
    y = x * 0.5
    if s is not None:
        for _ in range(2):
            y = y * s
    if s is not None:
        y = y + s
    return y


def optional_list(x: torch.Tensor, hs: Optional[List[torch.Tensor]]) -> torch.Tensor:
    y = x * 0.5
    if hs is not None:
        for h in hs:
            y = y + h
    if hs is not None:
        y = y * len(hs)
    return y


def optional_tensor(x: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:
    y = x * 0.5
    if o is not None:
        for _ in range(2):
            y = y + o
    if o is not None:
        y = y * o
    return y


def later_use_in_arithmetic(x: torch.Tensor, n: int) -> torch.Tensor:
    y = x * 0.5
    for _ in range(2):
        y = y * n
    return y + n


def main() -> int:
    if "--legacy" in sys.argv[1:]:
        torch._C._jit_set_profiling_executor(False)
    if "--noopt" in sys.argv[1:]:
        torch._C._set_graph_executor_optimize(False)
    failed = 0
    x = torch.randn(2, 3)
    for fn, value in ((plain_int, 1), (optional_int, 3), (optional_float, 0.5),
                      (optional_list, [torch.ones(2, 3)] * 2), (optional_tensor, torch.ones(2, 3)),
                      (later_use_in_arithmetic, 3)):
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
