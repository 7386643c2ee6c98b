"""torch_optspec.explain(): what the pass did to a model, and why.

    report = torch_optspec.explain(model, x, None)      # None: absent optional
    print(report)

explain() compiles two fresh copies of `model` (a torch.nn.Module, a
ScriptModule - frozen or loaded from a file - or a scripted function), runs
each through profiling and optimization with the example inputs, once with the
pass off ("before") and once with it on ("after"), and compares the optimized
plans: per Optional[Tensor] input, what the profile saw and what the input was
specialized to; the guard; prim::If / prim::unchecked_cast / None checks left;
fusion groups. When nothing was specialized it says why (pass disabled,
autodiff path, no Optional[Tensor] input, inconclusive profile, rejected
specialization). The model passed in is not run and its plans are untouched.

The calls run under the caller's grad mode (explain() shows the autodiff case
rather than hiding it) and under the caller's fuser settings (e.g.
torch.jit.enable_onednn_fusion(True)).

`summarize_graph()` is the IR census used here and by the benchmarks.
"""
import copy
import dataclasses
import io
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

import torch

from . import _C
from ._api import enabled as _enabled_block
from ._api import is_enabled, stats

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
GUARD_KIND = "torch_optspec::check_none_pattern"


@dataclasses.dataclass
class GraphSummary:
    """Counts over an optimized graph: all blocks except the slow path (block1)
    of a torch_optspec guard's prim::If, fusion subgraphs excluded. For a
    specialized plan that is the code a call matching the guard runs."""

    fusion_groups: Dict[str, int]
    prim_if: int  # model control flow: Ifs not guarding a fusion group or a specialization
    unchecked_cast: int
    none_checks: int  # aten::__is__ / aten::__isnot__
    guards: int  # torch_optspec::check_none_pattern
    guard_patterns: List[str]

    @property
    def fusion_total(self) -> int:
        return sum(self.fusion_groups.values())

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["fusion_total"] = self.fusion_total
        return d


def outlined_call(fast_block):
    """The prim::CallFunction of an outlined fast path (torch_optspec.
    set_fast_path): block0 of the versioning If then only calls a function.
    None when the fast path is inline. `_C._called_plan(call)` gives the
    function's optimized graph once it has been optimized."""
    calls = [n for n in fast_block.nodes() if n.kind() == "prim::CallFunction"]
    if len(calls) != 1 or any(n.kind() not in ("prim::Constant", "prim::CallFunction", "prim::TupleUnpack")
                              for n in fast_block.nodes()):
        return None
    return calls[0]


def summarize_graph(graph: torch._C.Graph) -> GraphSummary:
    kinds: Counter = Counter()
    ifs = 0
    patterns = []

    def walk(block):
        nonlocal ifs
        for node in block.nodes():
            kind = node.kind()
            kinds[kind] += 1
            if kind == "prim::If":
                cond = node.inputsAt(0).node().kind()
                if cond not in FUSER_GUARD_KINDS and cond != GUARD_KIND:
                    ifs += 1
            if kind == GUARD_KIND:
                patterns.append(str(getattr(node, "is")("pattern")) if node.hasAttribute("pattern") else "?")
            blocks = list(node.blocks())
            if kind == "prim::If" and node.inputsAt(0).node().kind() == GUARD_KIND:
                blocks = blocks[:1]  # the fast path; block1 is the unspecialized slow path
                call = outlined_call(blocks[0])
                outlined = _C._called_plan(call) if call is not None else None
                if outlined is not None:
                    walk(outlined.block())
                    continue
            for inner in blocks:
                walk(inner)

    walk(graph.block())
    return GraphSummary(
        fusion_groups={k: kinds[k] for k in FUSION_GROUP_KINDS if kinds[k]},
        prim_if=ifs,
        unchecked_cast=kinds["prim::unchecked_cast"],
        none_checks=kinds["aten::__is__"] + kinds["aten::__isnot__"],
        guards=kinds[GUARD_KIND],
        guard_patterns=patterns,
    )


def fresh_copy(obj):
    """A newly compiled copy of `obj` with its own (empty) execution plans.

    Modules go through torch.jit.save/load: scripting a second instance of a
    class would reuse the compiled methods, and with them their executors
    and plans.
    """
    if isinstance(obj, torch.jit.ScriptFunction):
        return torch._C._create_function_from_graph(
            obj.qualified_name.replace(".", "_") + "_explain", obj.graph.copy())
    if isinstance(obj, torch.jit.ScriptModule):
        buffer = io.BytesIO()
        torch.jit.save(obj, buffer)
        buffer.seek(0)
        return torch.jit.load(buffer)
    if isinstance(obj, torch.nn.Module):
        return fresh_copy(torch.jit.script(copy.deepcopy(obj)))
    if callable(obj):
        return fresh_copy(torch.jit.script(obj))
    raise TypeError(f"explain() expects a module or a function, got {type(obj).__name__}")


def _forward_graph(compiled) -> torch._C.Graph:
    return compiled.graph if isinstance(compiled, torch.jit.ScriptFunction) else compiled.forward.graph


def _describe_value(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, torch.Tensor):
        rg = ", requires_grad" if v.requires_grad else ""
        return f"Tensor{tuple(v.shape)} {str(v.dtype).replace('torch.', '')}{rg}"
    return type(v).__name__


def _stats_delta(before: dict, after: dict) -> dict:
    out = {}
    for k, v in after.items():
        if isinstance(v, dict):
            out[k] = {kk: vv - before[k][kk] for kk, vv in v.items()}
        else:
            out[k] = v - before[k]
    return out


def _parse_plan(description: str) -> Dict[str, str]:
    """'(a.1: None, b.1: skipped: unused)' -> {'a': 'None', 'b': 'skipped: unused'}."""
    body = description.strip()[1:-1]
    out = {}
    for part in body.split(", "):
        if ": " not in part:
            continue
        name, decision = part.split(": ", 1)
        out[name.split(".")[0]] = decision
    return out


@dataclasses.dataclass
class InputReport:
    name: str
    type: str
    example: str
    decision: str  # "None", "Tensor", "skipped: <reason>", "-" (not profiled)


@dataclasses.dataclass
class ExplainReport:
    pass_enabled: bool
    grad_enabled: bool
    autodiff: bool
    calls: int
    inputs: List[InputReport]
    before: GraphSummary
    after: GraphSummary
    fallback_plans: List[GraphSummary]
    stats: dict
    specialized: bool
    reasons: List[str]
    graph_before: str
    graph_after: str

    def __str__(self) -> str:
        lines = ["torch_optspec.explain"]
        lines.append(f"  pass: {'enabled' if self.pass_enabled else 'DISABLED'}; "
                     f"grad mode: {'on' if self.grad_enabled else 'off'}; "
                     f"executor path: {'autodiff (grad)' if self.autodiff else 'no-grad'}; "
                     f"calls: {self.calls}")
        lines.append("  Optional[Tensor] inputs:")
        optional = [i for i in self.inputs if i.type == "Optional[Tensor]"]
        if not optional:
            lines.append("    (none)")
        for i in optional:
            lines.append(f"    {i.name:<24} example: {i.example:<28} -> {i.decision}")
        if self.after.guards:
            lines.append(f"  guard: {GUARD_KIND} pattern={', '.join(self.after.guard_patterns)}"
                         "  (1 = must be None, 0 = must be a Tensor; else the fallback runs)")
        lines.append("  optimized plan            before  after")
        rows = [("prim::If (model control)", self.before.prim_if, self.after.prim_if),
                ("prim::unchecked_cast", self.before.unchecked_cast, self.after.unchecked_cast),
                ("aten::__is__/__isnot__", self.before.none_checks, self.after.none_checks),
                ("fusion groups", self.before.fusion_total, self.after.fusion_total)]
        kinds = sorted(set(self.before.fusion_groups) | set(self.after.fusion_groups))
        rows += [(f"  {k}", self.before.fusion_groups.get(k, 0), self.after.fusion_groups.get(k, 0))
                 for k in kinds]
        for name, b, a in rows:
            lines.append(f"    {name:<24} {b:>6}  {a:>5}")
        if self.fallback_plans:
            lines.append(f"  fallback plans compiled: {len(self.fallback_plans)}")
        lines.append("  result: " + ("specialized" if self.specialized else "nothing specialized"))
        for r in self.reasons:
            lines.append(f"    - {r}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("graph_before")
        d.pop("graph_after")
        return d


def _requires_grad_anywhere(compiled, values: Sequence[Any]) -> bool:
    if any(isinstance(v, torch.Tensor) and v.requires_grad for v in values):
        return True
    if isinstance(compiled, torch.nn.Module):
        return any(p.requires_grad for p in compiled.parameters())
    return False


def _run(compiled, args, kwargs, calls):
    profiled = None
    for i in range(calls):
        compiled(*args, **kwargs)
        if i == 0:
            profiled = torch.jit.last_executed_optimized_graph()
    return profiled, torch.jit.last_executed_optimized_graph()


def explain(module_or_function, *example_inputs, enabled: Optional[bool] = None,
            calls: int = 4, **example_kwargs) -> ExplainReport:
    """Compile fresh copies of `module_or_function`, run them `calls` times on
    the example inputs with the pass off and on, and report the difference.
    Four calls by default: the profiling run, the optimized plan, and for an
    outlined fast path (oneDNN) its own profiling run and optimization.

    enabled: None uses the pass state of this thread (so a disabled pass is
    reported as the reason nothing happened); True/False force it.
    """
    if calls < 2:
        raise ValueError("calls must be >= 2: one profiling run, then the optimized plan")
    state = is_enabled() if enabled is None else bool(enabled)
    grad = torch.is_grad_enabled()
    values = list(example_inputs) + list(example_kwargs.values())

    before_copy = fresh_copy(module_or_function)
    with _enabled_block(False):
        _, before_graph = _run(before_copy, example_inputs, example_kwargs, calls)

    after_copy = fresh_copy(module_or_function)
    stats_before = stats()
    with _enabled_block(state):
        profiled_graph, after_graph = _run(after_copy, example_inputs, example_kwargs, calls)
    delta = _stats_delta(stats_before, stats())

    # Per-input description: names and types from the compiled signature.
    graph = _forward_graph(after_copy)
    graph_inputs = list(graph.inputs())
    if not isinstance(after_copy, torch.jit.ScriptFunction):
        graph_inputs = graph_inputs[1:]  # self
    bound = list(example_inputs)
    names = [v.debugName().split(".")[0] for v in graph_inputs]
    for name in names[len(bound):]:
        bound.append(example_kwargs.get(name, "<default>"))
    plan = {}
    if state and profiled_graph is not None:
        try:
            plan = _parse_plan(_C._describe_profiled_plan(profiled_graph))
        except Exception:  # a graph without profiles (e.g. the autodiff path)
            plan = {}
    inputs = []
    for v, name, example in zip(graph_inputs, names, bound):
        t = v.type()
        is_opt = isinstance(t, torch._C.OptionalType) and isinstance(
            t.getElementType(), torch._C.TensorType)
        type_str = "Optional[Tensor]" if is_opt else str(t)
        example_str = "default (None)" if isinstance(example, str) and example == "<default>" \
            else _describe_value(example)
        decision = plan.get(name, "-") if is_opt else "-"
        if decision == "-" and is_opt:
            decision = "not examined" if delta["graphs_seen"] == 0 else "no decision"
        inputs.append(InputReport(name, type_str, example_str, decision))

    after = summarize_graph(after_graph)
    before = summarize_graph(before_graph)
    fallbacks = [summarize_graph(g) for g in _C._fallback_plans(after_graph)]
    specialized = after.guards > 0
    if not specialized:
        for i in inputs:
            if i.decision in ("None", "Tensor"):
                i.decision += " (profiled, not applied)"
    autodiff = grad and _requires_grad_anywhere(after_copy, values)

    reasons = []
    has_optional = any(i.type == "Optional[Tensor]" for i in inputs)
    if not state:
        reasons.append("the pass is disabled on this thread: call torch_optspec.enable() or "
                       "run the first calls inside `with torch_optspec.enabled():`")
    elif delta["graphs_seen"] == 0:
        if autodiff:
            reasons.append("the executor took the autodiff path (grad mode is on and a parameter "
                           "or an input requires grad); the pass runs on the no-grad path only: "
                           "use torch.no_grad()/torch.inference_mode(), or freeze the module")
        elif not torch._C._get_graph_executor_optimize():
            reasons.append("graph executor optimization is off (torch.jit.optimized_execution(False))")
        else:
            reasons.append(f"the pass did not run: no optimized plan after {calls} calls "
                           "(profiling executor off, or more profiling runs configured)")
    elif not has_optional:
        reasons.append("the graph has no Optional[Tensor] input")
    elif not specialized:
        if delta["graphs_rejected"]:
            reasons.append("the specialized graph failed verification and was dropped "
                           "(see PYTORCH_JIT_LOG_LEVEL=\">>specialize_optionals\")")
        for i in inputs:
            if i.type == "Optional[Tensor]" and i.decision.startswith("skipped"):
                reasons.append(f"{i.name}: {i.decision}")
        if not reasons:
            reasons.append("no input had a conclusive profile")
    if specialized:
        if after.prim_if:
            reasons.append(f"{after.prim_if} prim::If left in the specialized plan (before: "
                           f"{before.prim_if}): conditions that do not read a specialized input "
                           "directly, or that the cleanup did not fold")
        if after.fusion_total < before.fusion_total:
            reasons.append("fewer fusion groups than before: the specialized code is inside the "
                           "guard's prim::If block, and the oneDNN Graph fuser only partitions "
                           "top-level nodes" if "prim::oneDNNFusionGroup" in before.fusion_groups
                           else "fewer fusion groups than before")
    return ExplainReport(
        pass_enabled=state, grad_enabled=grad, autodiff=autodiff, calls=calls, inputs=inputs,
        before=before, after=after, fallback_plans=fallbacks, stats=delta,
        specialized=specialized, reasons=reasons,
        graph_before=str(before_graph), graph_after=str(after_graph))
