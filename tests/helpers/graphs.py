"""Helpers to run scripted code through the profiling executor and inspect
the plans it compiled."""
from typing import Callable, Iterable, List

import torch

import torch_optspec
from torch_optspec.census import GUARD_OP as GUARD
from torch_optspec.census import guard_pattern, nodes, outlined_call  # noqa: F401


def script_fresh(obj):
    """torch.jit.script with fresh executors. Scripted instances of one
    class share their compiled methods, and so their executors and plans:
    drop whatever an earlier test compiled."""
    scripted = torch.jit.script(obj)
    torch_optspec.reset_plans(scripted)
    return scripted


def run_and_get_plan(fn: Callable, *args, calls: int = 4) -> torch._C.Graph:
    """Call `fn` `calls` times and return the optimized graph the executor
    last ran. One profiling run, then the optimized plan; an outlined fast
    path needs one more call for its own profiling run and one to run
    optimized."""
    with torch.no_grad():
        for _ in range(calls):
            fn(*args)
    return torch.jit.last_executed_optimized_graph()


def all_plans(graph: torch._C.Graph) -> List[torch._C.Graph]:
    """`graph` and the optimized graphs of the fallback functions it calls."""
    return [graph] + torch_optspec.census.fallback_plans(graph)


def count(block_owner, kind: str, recurse_subgraphs: bool = False) -> int:
    return sum(1 for n in nodes(block_owner, recurse_subgraphs) if n.kind() == kind)


def guard_node(graph: torch._C.Graph):
    guards = [n for n in graph.nodes() if n.kind() == GUARD]
    return guards[0] if guards else None


def guard_patterns(graph: torch._C.Graph) -> List[List[int]]:
    """The guard patterns of `graph` and of the fallback plans it calls."""
    return [guard_pattern(n) for plan in all_plans(graph) for n in plan.nodes()
            if n.kind() == GUARD]


def guard_fast_block(graph: torch._C.Graph):
    """block0 of the versioning prim::If that the top-level guard feeds, as
    it stands: an outlined fast path's call is not followed, unlike
    torch_optspec.census.fast_path."""
    guard = guard_node(graph)
    assert guard is not None, f"no {GUARD} in\n{graph}"
    (use,) = guard.output().uses()
    assert use.user.kind() == "prim::If"
    return next(use.user.blocks())


def block_text(block) -> str:
    """A block printed like a graph body (torch._C.Block has no str)."""
    return "".join(str(n) for n in block.nodes()) + str(block.returnNode())


def fast_graph(graph: torch._C.Graph):
    """What the fast path runs: block0 of the versioning If when inlined, or
    the optimized graph of the function it calls when outlined."""
    plan = torch_optspec.census.fast_path(graph)
    assert plan is not None, "the outlined fast path has not been optimized yet"
    return plan


def none_checks(block_owner) -> List[torch._C.Node]:
    """None checks left anywhere in `block_owner`: is/isnot nodes, branches on
    them, and casts other than the fast path's refinement."""
    found = []
    for n in nodes(block_owner, recurse_subgraphs=False):
        if n.kind() in ("aten::__is__", "aten::__isnot__"):
            found.append(n)
        elif n.kind() == "prim::unchecked_cast" and not is_refinement(n):
            found.append(n)
    return found


def fusion_groups(block_owner, kind: str = "prim::TensorExprGroup") -> List[List[str]]:
    """For each fusion group: the sorted node kinds it holds."""
    groups = []
    for n in nodes(block_owner, recurse_subgraphs=False):
        if n.kind() == kind:
            groups.append(sorted(m.kind() for m in n.g("Subgraph").nodes()
                                 if m.kind() != "prim::Constant"))
    return groups


# Nodes through which None-ness flows into a branch condition.
NONE_FLOW = {
    "aten::__is__", "aten::__isnot__", "aten::__not__", "aten::__and__",
    "aten::__or__", "prim::profile", "prim::unchecked_cast",
}


def depends_on(value, source) -> bool:
    """Whether `value` is `source` or derived from it through NONE_FLOW nodes
    (a None check on it), as opposed to, e.g., a fuser's type check."""
    seen = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if v.unique() in seen:
            continue
        seen.add(v.unique())
        if v.unique() == source.unique():
            return True
        if v.node().kind() in NONE_FLOW:
            stack.extend(v.node().inputs())
    return False


def is_refinement(node) -> bool:
    """The fast path's own refinement: `%x.refined = prim::unchecked_cast(%x)`
    at the top of block0 of the versioning If."""
    owner = node.owningBlock().owningNode()
    return (
        node.kind() == "prim::unchecked_cast"
        and owner is not None
        and owner.kind() == "prim::If"
        and owner.input().node().kind() == GUARD
    )


def checks_on(block_owner, graph_input) -> List[torch._C.Node]:
    """prim::If nodes whose condition, and prim::unchecked_cast nodes whose
    operand, is computed from `graph_input` (the fast path's refinement
    excluded)."""
    found = []
    for n in nodes(block_owner, recurse_subgraphs=False):
        if n.kind() == "prim::If" and depends_on(n.input(), graph_input):
            if n.input().node().kind() != GUARD:
                found.append(n)
        elif n.kind() == "prim::unchecked_cast" and not is_refinement(n):
            if depends_on(n.input(), graph_input):
                found.append(n)
    return found
