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

Cause (read in torch/csrc/jit/runtime/interpreter/, and shown by `minimal_ir`
below): the interpreter emits a node with one output whose one use is the
next node as part of that node's expression (CanEmitInline; prim::Loop and
prim::If are not excluded), so in

    %s0 : int = prim::Loop(%b, %true, %z)   # body: prim::Loop(%a, ...), uses %a
    %s1 : int = prim::Loop(%a, %true, %s0)

%s1's trip count %a is loaded first and %s0's loop is emitted after it. Load
or move is decided by counting uses in emission order (CodeImpl::emitUse),
so the use of %a in %s0's body is counted last and becomes a MOVE: the second
iteration finds the register empty. torch_optspec's plans put a no-op after every loop nest
(csrc/passes/emission_barriers.cpp), which keeps the loop from being emitted
inline; the first (profiling) call of a function is stock's and still fails.

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


MINIMAL_IR = """
graph(%a : int, %b : int):
  %true : bool = prim::Constant[value=1]()
  %one : int = prim::Constant[value=1]()
  %z : int = prim::Constant[value=0]()
  %s0 : int = prim::Loop(%b, %true, %z)
    block0(%i : int, %c : int):
      %d : int = prim::Loop(%a, %true, %c)
        block0(%j : int, %e : int):
          %f : int = aten::add(%e, %one)
          -> (%true, %f)
      -> (%true, %d)
  %s1 : int = prim::Loop(%a, %true, %s0)
    block0(%i1 : int, %c1 : int):
      %g : int = aten::add(%c1, %one)
      -> (%true, %g)
  return (%s1)
"""


def minimal_ir(a: int, b: int) -> int:
    """The graph above as a function: a * b + a (a=1, b=2: 3)."""
    graph = torch._C.parse_ir(MINIMAL_IR)
    return torch._C._create_function_from_graph("minimal_ir", graph)(a, b)


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
    try:
        print(f"minimal_ir: ok, {minimal_ir(1, 2)} (expected 3)")
    except RuntimeError as e:
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        print("minimal_ir: raised", lines[-1][:160])
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
