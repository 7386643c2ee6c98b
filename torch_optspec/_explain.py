"""torch_optspec.explain(): what the pass did to a model, and why.

    report = torch_optspec.explain(model, x, None)      # None: absent optional
    report = torch_optspec.explain(model, x, example_kwargs={"mask": m})
    print(report)

explain() compiles two in-memory copies of `model` (a torch.nn.Module, a
ScriptModule - frozen or not, loaded from a file or not - or a scripted
function), runs each through profiling and optimization with the example
inputs, once with the pass off ("before") and once with it on ("after"), and
compares the optimized plans. The copies are made with Module::clone (new
class types, so new compiled methods and empty plans): nothing is saved or
loaded, so models that do not survive torch.jit.save/load work too, and the
model passed in is neither run nor changed.

What the pass decided is read from the pass itself: the registered pre-pass
logs each result (outcome, reason, the decision per input) on the thread
whose call triggered the optimization, and explain() reads that log, so
compilations on other threads never mix in.

The calls run under the caller's grad mode (explain() shows the autodiff case
rather than hiding it) and under the caller's fuser settings (e.g.
torch.jit.enable_onednn_fusion(True)).
"""
import copy
import dataclasses
from typing import Any, Dict, List, Optional, Sequence

import torch

from . import _C
from ._api import enabled as _enabled_block
from ._api import is_enabled
from .census import GUARD_OP, GraphSummary, fallback_plans, summarize_graph
from .census import outlined_call  # noqa: F401  (re-exported for older callers)

_SKIP_TEXT = {
    "unused": "skipped: unused",
    "not_profiled": "skipped: not profiled",
    "mixed": "skipped: saw None and Tensor",
    "undefined_tensor": "skipped: saw an undefined Tensor",
}


def fresh_copy(obj):
    """An independent compiled copy of `obj` (a ScriptModule, a
    ScriptFunction, an nn.Module or a function, scripted first), with its own
    empty execution plans: for comparing the pass on and off (A/B) in one
    process.

    Scripting a second instance of a class would reuse its compiled methods,
    and with them their executors and plans (whichever state compiled them
    first wins); Module::clone gives the copy new class types and new
    methods; parameters and buffers are copied.
    """
    if isinstance(obj, torch.jit.ScriptFunction):
        return torch._C._create_function_from_graph(
            obj.qualified_name.replace(".", "_") + "_explain", obj.graph.copy())
    if isinstance(obj, torch.jit.ScriptModule):
        return torch.jit._recursive.wrap_cpp_module(_C._clone_module(obj._c))
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
    if isinstance(v, (bool, int, float, str)):
        return repr(v)
    if isinstance(v, torch.Tensor):
        rg = ", requires_grad" if v.requires_grad else ""
        return f"Tensor{tuple(v.shape)} {str(v.dtype).replace('torch.', '')}{rg}"
    return type(v).__name__


def _profiling_executor_on() -> bool:
    old = torch._C._jit_set_profiling_executor(True)
    torch._C._jit_set_profiling_executor(old)
    return bool(old)


@dataclasses.dataclass
class InputReport:
    name: str
    type: str
    example: str
    decision: str  # "None", "Tensor", "skipped: <reason>", "-" (not an Optional[Tensor])


@dataclasses.dataclass
class ExplainReport:
    pass_enabled: bool
    grad_enabled: bool
    autodiff: bool
    calls: int
    inputs: List[InputReport]
    before: Optional[GraphSummary]  # None when stock TorchScript failed (before_error)
    after: GraphSummary
    fallback_plans: List[GraphSummary]
    results: List[dict]  # what the pass logged, one entry per graph it optimized
    specialized: bool
    reasons: List[str]
    graph_before: str
    graph_after: str
    # The first line of the error stock TorchScript (the pass off) raised on
    # the example, or None: oneDNN Graph fails on many models by itself.
    before_error: Optional[str] = None

    def __str__(self) -> str:
        lines = ["torch_optspec.explain"]
        lines.append(f"  pass: {'enabled' if self.pass_enabled else 'DISABLED'}; "
                     f"grad mode: {'on' if self.grad_enabled else 'off'}; "
                     f"executor path: {'autodiff (grad)' if self.autodiff else 'no-grad'}; "
                     f"calls: {self.calls}")
        lines.append("  arguments (what was fixed):")
        shown = [i for i in self.inputs if i.type == "Optional[Tensor]" or i.decision != "-"]
        if not shown:
            lines.append("    (none to specialize)")
        for i in shown:
            lines.append(f"    {i.name:<24} {i.type:<18} example: {i.example:<26} -> {i.decision}")
        if self.after.guards:
            lines.append(f"  guard: {GUARD_OP} pattern={', '.join(self.after.guard_patterns)}"
                         "  (1 = must be None, 0 = must be a Tensor; else the fallback runs)")
        if self.before_error is not None:
            lines.append(f"  stock TorchScript (the pass off) fails on this example: {self.before_error}")
            lines.append("  (only the pass's side is shown)")
        lines.append("  optimized plan            before  after")

        def counts(summary):  # one column: "fails" where stock failed
            if summary is None:
                return lambda get: "fails"
            return lambda get: get(summary)
        before, after = counts(self.before), counts(self.after)
        kinds = sorted(set(self.before.fusion_groups if self.before else {})
                       | set(self.after.fusion_groups))
        rows = [("prim::If (model control)", lambda g: g.prim_if),
                ("prim::unchecked_cast", lambda g: g.unchecked_cast),
                ("aten::__is__/__isnot__", lambda g: g.none_checks),
                ("fusion groups", lambda g: g.fusion_total)]
        rows += [(f"  {k}", lambda g, k=k: g.fusion_groups.get(k, 0)) for k in kinds]
        for name, get in rows:
            lines.append(f"    {name:<24} {before(get):>6}  {after(get):>5}")
        if self.after.pending:
            lines.append(f"  not compiled yet: {self.after.pending} outlined plan(s) on the fast path "
                         "(counted as empty above); run more calls")
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
    for _ in range(calls):
        compiled(*args, **kwargs)
    return torch.jit.last_executed_optimized_graph()


def _decision_text(entry: dict) -> str:
    kind = entry["kind"]
    if kind == "none":
        return "None"
    if kind == "tensor":
        props = [entry[k] if k != "dim" else f"dim={entry[k]}" for k in ("dtype", "dim", "device")
                 if k in entry]
        return "Tensor" + (" " + " ".join(str(p) for p in props) if props else "")
    if kind == "value":
        return f"= {entry['value']}"
    if kind == "present":
        return "present"
    return _SKIP_TEXT.get(entry["reason"], "-")


def _decisions(results: List[dict], n_inputs: int) -> Dict[int, str]:
    """Per graph input, what the pass fixed: from the forward graph's result
    (tensors), then from the value-specialized plan's (values), and the value
    site's own record for the inputs it found varying or is still learning."""
    decisions: Dict[int, str] = {}
    forward = results[0]
    for i, e in enumerate(forward["inputs"]):
        if e["kind"] != "skip" or e["reason"] != "-":
            decisions[i] = _decision_text(e)
    site = forward.get("value_site", -1)
    if site is not None and site >= 0:
        info = _C._value_site(site)
        for k, i in enumerate(info["inputs"]):
            if info["state"] == "learning":
                decisions[i] = f"learning its value ({info['observed']} calls seen)"
            elif k < len(info["varying"]) and info["varying"][k]:
                decisions[i] = "skipped: varies between calls"
        for r in results[1:]:  # the plan the site's fallback compiled
            if len(r["inputs"]) == n_inputs and r["outcome"] == "specialized":
                for i, e in enumerate(r["inputs"]):
                    if e["kind"] != "skip":
                        decisions[i] = _decision_text(e)
                break
    return decisions


def explain(module_or_function, *example_inputs, example_kwargs: Optional[Dict[str, Any]] = None,
            calls: int = 8, enabled: Optional[bool] = None) -> ExplainReport:
    """Compile in-memory copies of `module_or_function`, run them `calls`
    times on the example inputs with the pass off and on, and report the
    difference. Eight calls by default: the profiling run, the optimized
    plan, three calls a value site learns bool/int values on, the profiling
    run and optimization of the value-specialized plan (and, for an outlined
    fast path, its own profiling run and optimization).

    example_inputs: the positional arguments of forward (None for an absent
    optional). example_kwargs: its keyword arguments, as a dict (any names,
    `enabled` and `calls` included). enabled: None uses the pass state of
    this thread (so a disabled pass is reported as the reason nothing
    happened); True/False force it.
    """
    if not isinstance(calls, int) or calls < 2:
        raise ValueError("calls must be an int >= 2: one profiling run, then the optimized plan")
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"enabled must be None, True or False, got {enabled!r}")
    kwargs = dict(example_kwargs or {})
    state = is_enabled() if enabled is None else enabled
    grad = torch.is_grad_enabled()
    values = list(example_inputs) + list(kwargs.values())

    before_copy = fresh_copy(module_or_function)
    before_graph, before_error = None, None
    try:
        with _enabled_block(False):
            before_graph = _run(before_copy, example_inputs, kwargs, calls)
    except Exception as e:  # stock TorchScript's own failure: report the pass's side
        before_error = (str(e).strip().splitlines() or [type(e).__name__])[-1]

    after_copy = fresh_copy(module_or_function)
    _C._take_results()  # drop what this thread logged before
    with _enabled_block(state):
        after_graph = _run(after_copy, example_inputs, kwargs, calls)
    results = _C._take_results()

    # The forward graph's result: the first graph optimized (an outlined fast
    # path or a fallback is optimized later, as a function of its own).
    graph = _forward_graph(after_copy)
    graph_inputs = list(graph.inputs())
    forward = results[0] if results else None
    decisions = {}
    if forward is not None and len(forward["inputs"]) == len(graph_inputs):
        decisions = _decisions(results, len(graph_inputs))
    offset = 0 if isinstance(after_copy, torch.jit.ScriptFunction) else 1  # self
    names = [v.debugName().split(".")[0] for v in graph_inputs[offset:]]
    bound = list(example_inputs)
    for name in names[len(bound):]:
        bound.append(kwargs.get(name, "<default>"))
    inputs = []
    for k, (v, name, example) in enumerate(zip(graph_inputs[offset:], names, bound)):
        t = v.type()
        is_opt = isinstance(t, torch._C.OptionalType) and isinstance(t.getElementType(), torch._C.TensorType)
        example_str = "default (None)" if isinstance(example, str) and example == "<default>" \
            else _describe_value(example)
        decision = decisions.get(k + offset, "not examined" if is_opt else "-")
        inputs.append(InputReport(name, "Optional[Tensor]" if is_opt else str(t), example_str, decision))

    after = summarize_graph(after_graph)
    before = summarize_graph(before_graph) if before_graph is not None else None
    fallbacks = [summarize_graph(g) for g in fallback_plans(after_graph)]
    specialized = forward is not None and (
        forward["outcome"] == "specialized" or any(r["outcome"] == "specialized" for r in results[1:]))
    autodiff = grad and _requires_grad_anywhere(after_copy, values)

    reasons = []
    has_optional = any(i.type == "Optional[Tensor]" for i in inputs)
    if not state:
        reasons.append("the pass is disabled on this thread: call torch_optspec.enable() or "
                       "run the first calls inside `with torch_optspec.enabled():`")
    elif autodiff:
        reasons.append("the executor took the autodiff path (grad mode is on and a parameter "
                       "or an input requires grad); the pass runs on the no-grad path only: "
                       "use torch.no_grad()/torch.inference_mode(), or freeze the module")
    elif not _profiling_executor_on():
        reasons.append("the legacy (non-profiling) executor is in use "
                       "(torch._C._jit_set_profiling_executor(False)): it records no profiles, "
                       "so the pass has nothing to specialize from")
    elif forward is None:
        if not torch._C._get_graph_executor_optimize():
            reasons.append("graph executor optimization is off (torch.jit.optimized_execution(False))")
        else:
            reasons.append(f"the pass did not run: no optimized plan after {calls} calls "
                           "(more profiling runs configured?)")
    elif not has_optional:
        reasons.append("the graph has no Optional[Tensor] input")
    elif forward["outcome"] == "rejected":
        reasons.append("the specialized graph failed verification and was dropped: "
                       f"{forward['reason']} (see PYTORCH_JIT_LOG_LEVEL=\">specialize_inputs\")")
    elif not specialized:
        reasons.extend(f"{i.name}: {i.decision}" for i in inputs
                       if i.type == "Optional[Tensor]" and i.decision.startswith("skipped"))
        if not reasons:
            reasons.append(forward["reason"] or "no input had a conclusive profile")
    if specialized:
        if after.prim_if:
            reasons.append(f"{after.prim_if} prim::If left in the specialized plan (before: "
                           f"{before.prim_if if before else 'fails'}): conditions that do not read "
                           "a specialized input directly, or that the cleanup did not fold")
        if before is not None and after.fusion_total < before.fusion_total:
            reasons.append("fewer fusion groups than before")
    return ExplainReport(
        pass_enabled=state, grad_enabled=grad, autodiff=autodiff, calls=calls, inputs=inputs,
        before=before, after=after, fallback_plans=fallbacks, results=list(results),
        specialized=specialized, reasons=reasons,
        graph_before=str(before_graph) if before_graph is not None else "",
        graph_after=str(after_graph), before_error=before_error)
