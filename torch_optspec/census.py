"""The IR census: what is left in an optimized TorchScript graph.

One place for the questions explain(), the benchmark, the demo and the tests
ask of a plan: where the torch_optspec guard is, which block is the fast
path (inline or outlined), how many model branches, casts and None checks
remain, which fusion groups formed.
"""
import dataclasses
from collections import Counter
from typing import Dict, Iterable, List, Optional

import torch

from . import _C

# The qualified names of the guard operator (the check in front of a
# specialized plan) and of the value site's check op (value_site.cpp: its If
# calls the value-specialized plan in block0), as the library defines them.
GUARD_OP: str = _C.GUARD_KIND
VALUE_CHECK_OP: str = _C.VALUE_SITE_KIND
# Old names, kept for code written against 0.2.
GUARD_KIND: str = GUARD_OP
VALUE_SITE_KIND: str = VALUE_CHECK_OP

# Node kinds that are fusion groups (one compiled kernel each).
FUSION_GROUP_KINDS = (
    "prim::oneDNNFusionGroup",
    "prim::TensorExprGroup",
    "prim::TensorExprDynamicGroup",
    "prim::FusionGroup",
    "prim::CudaFusionGroup",
)
# Conditions of the prim::If nodes that fusers insert around their groups
# (type checks with a fallback); such an If is not control flow of the model.
FUSER_GUARD_KINDS = (
    "prim::TypeCheck",
    "prim::RequiresGradCheck",
    "prim::TensorExprDynamicGuard",
    "prim::oneDNNFusionGuard",
)


def nodes(block_owner, recurse_subgraphs: bool = True) -> Iterable[torch._C.Node]:
    """Every node of a graph or block, nested blocks and (optionally) the
    subgraphs of fusion groups included."""
    for n in block_owner.nodes():
        yield n
        for b in n.blocks():
            yield from nodes(b, recurse_subgraphs)
        if recurse_subgraphs and n.hasAttribute("Subgraph"):
            yield from nodes(n.g("Subgraph"), recurse_subgraphs)


def guard_nodes(graph: torch._C.Graph) -> List[torch._C.Node]:
    """The torch_optspec guards at the top level of `graph` (inside a value
    site's generic branch too)."""
    found = []
    for n in graph.nodes():
        if n.kind() == GUARD_OP:
            found.append(n)
        elif n.kind() == VALUE_CHECK_OP:
            site_if = guarded_if(n)
            if site_if is not None:
                found += [m for m in list(site_if.blocks())[1].nodes() if m.kind() == GUARD_OP]
    return found


def value_site_plan(graph: torch._C.Graph) -> Optional[torch._C.Graph]:
    """The optimized plan a value site calls once it has learned the values
    (None while learning, or before that plan was optimized)."""
    for n in graph.nodes():
        if n.kind() == VALUE_CHECK_OP:
            site_if = guarded_if(n)
            call = outlined_call(next(site_if.blocks())) if site_if is not None else None
            return _C._called_plan(call) if call is not None else None
    return None


def effective_plan(graph: torch._C.Graph) -> torch._C.Graph:
    """The plan a call that matches every check runs: the value-specialized
    plan of a value site when it is compiled, else `graph`."""
    seen = 0
    while seen < 8:
        inner = value_site_plan(graph)
        if inner is None:
            return graph
        graph, seen = inner, seen + 1
    return graph


def guard_pattern(node: torch._C.Node) -> List[int]:
    """The `pattern` attribute of a guard (1: must be None, 0: a Tensor)."""
    if node.kindOf("pattern") == "ival":  # a graph read by torch._C.parse_ir
        return list(node.ival("pattern"))
    return list(getattr(node, "is")("pattern"))  # `is` is a Python keyword


def guarded_if(guard: torch._C.Node) -> Optional[torch._C.Node]:
    """The versioning prim::If that a guard feeds."""
    for use in guard.output().uses():
        if use.user.kind() == "prim::If":
            return use.user
    return None


def outlined_call(fast_block) -> Optional[torch._C.Node]:
    """The prim::CallFunction of an outlined fast path (set_fast_path):
    block0 of the versioning If then only calls a function. None when the
    fast path is inline. `_C._called_plan(call)` gives the function's
    optimized graph once it has been optimized."""
    calls = [n for n in fast_block.nodes() if n.kind() == "prim::CallFunction"]
    if len(calls) != 1 or any(n.kind() not in ("prim::Constant", "prim::CallFunction", "prim::TupleUnpack")
                              for n in fast_block.nodes()):
        return None
    return calls[0]


def fast_path(graph: torch._C.Graph):
    """What a call matching the guard runs: block0 of the versioning If, or
    the optimized graph of the outlined function (None if not optimized yet).
    Raises if `graph` has no guard."""
    graph = effective_plan(graph)
    guards = guard_nodes(graph)
    if not guards:
        raise ValueError(f"no {GUARD_OP} in the graph")
    block0 = next(guarded_if(guards[0]).blocks())
    call = outlined_call(block0)
    return block0 if call is None else _C._called_plan(call)


def fallback_plans(graph: torch._C.Graph) -> List[torch._C.Graph]:
    """The optimized graphs of the functions `graph` calls through the
    executor's fallback mechanism (other None-patterns, an outlined fast
    path), recursively, for those optimized so far."""
    return list(_C._fallback_plans(graph))


@dataclasses.dataclass
class GraphSummary:
    """Counts over an optimized graph: all blocks except the slow path (block1)
    of a torch_optspec guard's prim::If, fusion subgraphs excluded. For a
    specialized plan that is the code a call matching the guard runs."""

    fusion_groups: Dict[str, int]
    prim_if: int  # model control flow: Ifs not guarding a fusion group or a specialization
    unchecked_cast: int
    none_checks: int  # aten::__is__ / aten::__isnot__
    guards: int  # torch_optspec guards on the counted path, nested ones included
    guard_patterns: List[str]
    fusion_group_ops: List[List[str]] = dataclasses.field(default_factory=list)
    # Outlined plans on the counted path that are not compiled yet (a fast
    # path or a value-specialized plan before its first calls): their code
    # is not counted, so the counts describe an incomplete plan.
    pending: int = 0
    # How many guards a call that matches them all passes through: guards
    # nested in a guard's fast path (an inner function specialized in its
    # turn) add to `guards` but are checks on one path, not other
    # specializations.
    guard_depth: int = 0

    @property
    def complete(self) -> bool:
        return self.pending == 0

    @property
    def fusion_total(self) -> int:
        return sum(self.fusion_groups.values())

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["fusion_total"] = self.fusion_total
        d["complete"] = self.complete
        return d


def summarize_graph(graph: torch._C.Graph) -> GraphSummary:
    kinds: Counter = Counter()
    ifs = 0
    patterns = []
    group_ops = []
    pending = 0
    depth = 0

    def walk(block, level=0):
        nonlocal ifs, pending, depth
        for node in block.nodes():
            kind = node.kind()
            kinds[kind] += 1
            if kind in FUSION_GROUP_KINDS and node.hasAttribute("Subgraph"):
                group_ops.append([n.kind().split("::")[-1] for n in node.g("Subgraph").nodes()
                                  if n.kind() not in ("prim::Constant", "prim::ListConstruct")])
            if kind == "prim::If":
                cond = node.inputsAt(0).node().kind()
                if cond not in FUSER_GUARD_KINDS and cond not in (GUARD_OP, VALUE_CHECK_OP):
                    ifs += 1
            if kind == GUARD_OP:
                patterns.append(str(guard_pattern(node)) if node.hasAttribute("pattern") else "?")
            blocks = list(node.blocks())
            if kind == "prim::If" and node.inputsAt(0).node().kind() == VALUE_CHECK_OP:
                # Learned: the value-specialized plan runs; else the generic branch.
                call = outlined_call(blocks[0])
                learned = _C._called_plan(call) if call is not None else None
                # (still learning, no call yet: the generic branch is what runs)
                pending += call is not None and learned is None
                walk(learned.block() if learned is not None else blocks[1], level)
                continue
            if kind == "prim::If" and node.inputsAt(0).node().kind() == GUARD_OP:
                depth = max(depth, level + 1)
                blocks = blocks[:1]  # the fast path; block1 is the unspecialized slow path
                call = outlined_call(blocks[0])
                outlined = _C._called_plan(call) if call is not None else None
                if outlined is not None:
                    walk(outlined.block(), level + 1)
                    continue
                pending += call is not None
                walk(blocks[0], level + 1)
                continue
            for inner in blocks:
                walk(inner, level)

    walk(graph.block())
    return GraphSummary(
        fusion_groups={k: kinds[k] for k in FUSION_GROUP_KINDS if kinds[k]},
        prim_if=ifs,
        unchecked_cast=kinds["prim::unchecked_cast"],
        none_checks=kinds["aten::__is__"] + kinds["aten::__isnot__"],
        guards=kinds[GUARD_OP],
        guard_patterns=patterns,
        pending=pending,
        guard_depth=depth,
        fusion_group_ops=group_ops,
    )
