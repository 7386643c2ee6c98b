"""Random TorchScript programs with Optional[Tensor] inputs, and (with
`kinds`) the other argument kinds a deployment fixes: Optional[bool/int/float/
str/Tuple[Tensor, Tensor]/List[Tensor]], bool/int/float flags, masks of
several dtypes and ranks (_KindsGen below; CASE format 2).

generate_case(seed) returns the source text of a self-contained Python module
(a "case") that defines a scriptable function `fn` or module class `Model`,
the helpers they call, and a dict CASE describing how to call it:

    CASE = {
        "seed": ..., "kind": "function" | "module",
        "roles": ["act", "vec", ...],   # one per Optional input, fixes its shape
        "fuser": "none" | "nnc" | "onednn",
        "grad": False,                  # True: run with x.requires_grad
        "calls": [[1, 0, 1], ...],      # None-patterns, 1 = pass None
    }

generate_case(seed, mode="onednn") makes a oneDNN Graph case instead (issue
10; Optional[Tensor] inputs only, this format plus "mode": "onednn"): a frozen
module run with oneDNN Graph, whose statements add the ops oneDNN fuses
(matmul, linear, softmax, gelu, add/mul/div with scalars, constants and 0-dim
values, layer_norm with and without weight/bias, a masked attention) to the
Optional idioms below (fuzz_oracle.py compares it to eager with fp32
tolerances, and counts stock torch's own oneDNN failures apart).

The programs use the idioms real code uses around Optional[Tensor]: `is not
None` guards, `if x is None: x = default`, ternaries, asserts, early returns,
loop-carried Optionals, in-place updates of the Optional, ops whose schema
takes `Tensor?` (linear bias, layer_norm weight/bias, scaled_dot_product_attention
mask), nested scripted calls and submodules, returning the Optional itself
(alone or in a tuple) and torch.jit.fork/wait.

Shapes are fixed so that every generated program is well-typed for every
None-pattern: the main value `y` is always [2, 3, 4]; an Optional input has a
role that fixes its shape: "act" [2, 3, 4], "vec" [4] (broadcasts over y, and
is a valid linear bias / layer_norm weight), "mask" [3, 3] (an additive
attention mask; used elementwise only through .mean()).
The oracle (fuzz_oracle.py) builds the inputs from CASE.
"""
import random
import re
from typing import List, Optional

ROLES = ("act", "vec", "mask")
ELEMENTWISE = ("act", "vec")
FUSED_SHARE = 0.15         # share of function cases run with the NNC fuser
FUSER_ONEDNN_SHARE = 0.0   # share of module cases run with oneDNN Graph

HEADER = '''\
# A torch_optspec fuzz case (tests/fuzz/fuzz_gen.py, seed {seed}).
import torch
import torch.nn.functional as F
from typing import List, Optional, Tuple
'''


def _indent(lines: List[str], n: int = 1) -> List[str]:
    return ["    " * n + line for line in lines]


MODES = ("default", "onednn")


class _Gen:
    mode = "default"   # _KindsGen (which does not call __init__) keeps it

    def __init__(self, seed: int, mode: str = "default"):
        assert mode in MODES, mode
        self.seed = seed
        self.mode = mode
        self.rng = random.Random(seed)
        r = self.rng
        self.kind = "module" if r.random() < 0.4 else "function"
        self.n_opt = r.randint(1, 6)
        self.roles = [
            r.choices(ROLES, weights=(0.5, 0.35, 0.15))[0] for _ in range(self.n_opt)
        ]
        self.grad = r.random() < 0.12
        # Fusers: mostly none (bit-exact comparisons); some function cases
        # run with the interpreted NNC CPU fuser (tiny tensors), compared with
        # fp32 tolerances. That fuser is not thread-safe, so its cases never
        # fork (fork statements are not generated for them). The oneDNN Graph
        # fuser is left out: in stock torch 2.13 it fails on most of these
        # small graphs without torch_optspec (tools/onednn_layer_norm_repro.py,
        # docs/reliability.md); FUSER_ONEDNN_SHARE turns it on for experiments.
        # mode "onednn" makes cases of their own for it (below).
        self.fuser = "none"
        if self.kind == "function" and not self.grad and r.random() < FUSED_SHARE:
            self.fuser = "nnc"
        elif self.kind == "module" and r.random() < FUSER_ONEDNN_SHARE:
            self.fuser = "onednn"
        if mode == "onednn":
            # oneDNN Graph fuses frozen modules (no grad: freezing makes the
            # parameters constants). The draws above stay, so the shapes and
            # roles of case `seed` are those of the default mode.
            self.kind, self.grad, self.fuser = "module", False, "onednn"
        self.helpers: List[str] = []      # source of free functions
        self.submodules: List[str] = []   # source of submodule classes
        self.sub_attrs: List[str] = []    # `self.sub_k = Sub_k()` lines
        self.counter = 0
        self.weight = "self.w" if self.kind == "module" else "w"

    # -- small pieces -----------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def opt(self, roles=ROLES) -> Optional[int]:
        choices = [i for i, role in enumerate(self.roles) if role in roles]
        return self.rng.choice(choices) if choices else None

    @staticmethod
    def use(var: str, role: str) -> str:
        """An expression combining with y ([2, 3, 4]) from a present value."""
        return f"{var}.mean()" if role == "mask" else var

    @staticmethod
    def default(role: str) -> str:
        # Never derived from y: a default must not require grad (in-place
        # updates of it would then interact with autograd).
        return {
            "act": "torch.full([2, 3, 4], 0.5)",
            "vec": "torch.full([4], 0.25)",
            "mask": "torch.zeros(3, 3)",
        }[role]

    # -- helpers (nested scripted calls) -----------------------------------
    def helper(self, role: str, pure: bool = False) -> str:
        """A free function (y: Tensor, o: Optional[Tensor]) -> Tensor.

        pure: no in-place update of `o`, also in the helpers it calls (for
        forked tasks that run concurrently)."""
        name = self.fresh("helper_")
        u = self.use("o", role)
        inner = [h for h, r, p in self.helper_index if r == role and (p or not pure)]
        templates = ["early", "ternary", "guard"]
        if not pure and not self.grad:
            templates.append("inplace")
        if inner and self.rng.random() < 0.5:
            templates.append("nested")
        t = self.rng.choice(templates)
        is_pure = t != "inplace"
        if t == "early":
            body = ["if o is None:", "    return y * 2.0", f"return y + {u}"]
        elif t == "ternary":
            body = [f"return y * {u} if o is not None else y - 0.5"]
        elif t == "guard":
            body = ["if o is not None:", f"    y = y - {u}", "return y * 0.75"]
        elif t == "inplace":
            body = ["if o is not None:", "    o.add_(1.0)", f"    return y - {u}", "return y"]
        else:  # nested: call an earlier helper of the same role
            callee = self.rng.choice(inner)
            body = [f"return {callee}(y * 0.5, o) + 1.0"]
            is_pure = dict((h, p) for h, _, p in self.helper_index)[callee]
        sig = f"def {name}(y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:"
        self.helpers.append("\n".join([sig] + _indent(body)))
        self.helper_index.append((name, role, is_pure))
        return name

    def pick_helper(self, a: str, b: str) -> str:
        name = self.fresh("pick_")
        self.helpers.append("\n".join([
            f"def {name}(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:",
            "    if a is not None:",
            "        return a",
            "    return b",
        ]))
        return name

    def submodule(self, role: str) -> str:
        cls = self.fresh("Sub")
        attr = "sub_" + cls[3:]
        u = self.use("o", role)
        body = self.rng.choice([
            ["if o is None:", "    return y * self.scale", f"return y * self.scale + {u}"],
            [f"return y + {u} if o is not None else y"],
        ])
        self.submodules.append("\n".join([
            f"class {cls}(torch.nn.Module):",
            "    def __init__(self):",
            "        super().__init__()",
            "        self.scale = 0.5",
            "",
            "    def forward(self, y: torch.Tensor, o: Optional[torch.Tensor]) -> torch.Tensor:",
        ] + _indent(body, 2)))
        self.sub_attrs.append(f"self.{attr} = {cls}()")
        return f"self.{attr}"

    # -- statements --------------------------------------------------------
    def statement(self, top: bool) -> List[str]:
        r = self.rng
        kinds = {
            "guard": 4, "guard_else": 2, "default": 2, "ternary": 2, "and": 1,
            "loop": 2, "loop_acc": 1, "inplace": 0 if self.grad else 2,
            "linear": 2, "layer_norm": 2, "sdpa": 2, "call": 2, "pick": 1,
            "fork": 1 if top and self.fuser != "nnc" else 0, "assert": 0.3, "early_return": 1 if top else 0,
            "sub": 2 if self.kind == "module" else 0, "while": 1,
        }
        if self.mode == "onednn":
            kinds.update({"matmul": 3, "softmax": 2, "gelu": 1, "scaled": 3, "attention": 2,
                          "ln_param": 1, "zero_dim": 1})
        kind = r.choices(list(kinds), weights=list(kinds.values()))[0]
        i = self.opt()
        o, role = f"o{i}", self.roles[i]
        u = self.use(o, role)
        if kind == "guard":
            op = r.choice(["+", "-", "*"])
            return [f"if {o} is not None:", f"    y = y {op} {u}"]
        if kind == "guard_else":
            return [f"if {o} is None:", "    y = y * 0.5", "else:", f"    y = y + {u}"]
        if kind == "default":
            return [f"if {o} is None:", f"    {o} = {self.default(role)}", f"y = y + {u}"]
        if kind == "ternary":
            return [f"y = y + {u} if {o} is not None else y * 1.5"]
        if kind == "and":
            j = self.opt()
            o2 = f"o{j}"
            u2 = self.use(o2, self.roles[j])
            return [f"if {o} is not None and {o2} is not None:", f"    y = y + {u} * {u2}",
                    f"elif {o} is None:", "    y = y - 0.25"]
        if kind == "loop":
            inner = self.statement(top=False)
            return [f"for _ in range({r.randint(1, 3)}):"] + _indent(inner)
        if kind == "while":
            k = self.fresh("k")
            inner = self.statement(top=False)
            return [f"{k} = 0", f"while {k} < {r.randint(1, 3)}:"] + _indent(inner) + [f"    {k} += 1"]
        if kind == "loop_acc":
            acc = self.fresh("acc")
            if r.random() < 0.5:
                init, step = o, [f"    if {acc} is None:", f"        {acc} = {self.default(role)}",
                                 "    else:", f"        {acc} = {acc} * 0.5 + 1.0"]
            else:
                init, step = "None", [f"    if {o} is not None:",
                                      f"        {acc} = {o} if {acc} is None else {acc} + {o}"]
            return ([f"{acc}: Optional[torch.Tensor] = {init}", f"for _ in range({r.randint(1, 3)}):"]
                    + step + [f"if {acc} is not None:", f"    y = y + {self.use(acc, role)}"])
        if kind == "inplace":
            op = r.choice(["mul_(1.5)", "add_(0.25)", "sub_(1.0)"])
            lines = [f"if {o} is not None:", f"    {o}.{op}"]
            if r.random() < 0.6:
                lines.append(f"    y = y + {u}")
            return lines
        if kind == "linear":
            j = self.opt(("vec",))
            bias = f"o{j}" if j is not None else "None"
            return [f"y = F.linear(y, {self.weight}, {bias})"]
        if kind == "layer_norm":
            a, b = self.opt(("vec",)), self.opt(("vec",))
            wa = f"o{a}" if a is not None and r.random() < 0.8 else "None"
            wb = f"o{b}" if b is not None and r.random() < 0.6 else "None"
            return [f"y = F.layer_norm(y, [4], {wa}, {wb})"]
        if kind == "sdpa":
            j = self.opt(("mask",))
            mask = f"o{j}" if j is not None else "None"
            return [f"y = F.scaled_dot_product_attention(y, y, y, attn_mask={mask})"]
        if kind in ("matmul", "softmax", "gelu", "scaled", "attention", "ln_param", "zero_dim"):
            return self.onednn_statement(kind, o, role, u)
        if kind == "call":
            return [f"y = {self.helper(role)}(y, {o})"]
        if kind == "sub":
            return [f"y = {self.submodule(role)}(y, {o})"]
        if kind == "pick":
            j = self.opt((role,))
            q = self.fresh("q")
            return [f"{q} = {self.pick_helper(o, f'o{j}')}({o}, o{j})",
                    f"if {q} is not None:", f"    y = y + {self.use(q, role)}"]
        if kind == "fork":
            if r.random() < 0.5:
                fut = self.fresh("fut")
                return [f"{fut} = torch.jit.fork({self.helper(role)}, y, {o})",
                        f"y = torch.jit.wait({fut})"]
            # Two tasks in flight: only helpers without in-place updates, so
            # the tasks do not race on an input.
            j = self.opt()
            f1, f2 = self.fresh("fut"), self.fresh("fut")
            return [f"{f1} = torch.jit.fork({self.helper(role, pure=True)}, y, {o})",
                    f"{f2} = torch.jit.fork({self.helper(self.roles[j], pure=True)}, y * 0.5, o{j})",
                    f"y = torch.jit.wait({f1}) + torch.jit.wait({f2})"]
        if kind == "assert":
            return [f"assert {o} is not None", f"y = y + {u}"]
        if kind == "early_return":
            return [f"if {o} is None:", f"    return {self.ret_expr('(y - 1.0)')}"]
        raise AssertionError(kind)

    def onednn_statement(self, kind: str, o: str, role: str, u: str) -> List[str]:
        """The oneDNN mode's statements: the ops oneDNN Graph fuses, around the
        Optional input `o` (module parameters: w [4, 4], b and c [4], s 0-dim)."""
        r = self.rng
        if kind == "matmul":
            return [r.choice([
                "y = torch.matmul(y, self.w)",
                "y = F.linear(y, self.w, self.b)",
                "y = F.linear(y, self.w)",
                "y = torch.matmul(y, self.w) + self.c",
                "y = y + torch.matmul(y, self.w) * 0.5",
                f"y = F.linear(y, self.w, {o} if {o} is not None else self.b)" if role == "vec"
                else "y = torch.matmul(y, self.w) / 2.0",
            ])]
        if kind == "softmax":
            return [r.choice(["y = torch.softmax(y, dim=-1)", "y = F.softmax(y / 2.0, dim=-1)"])]
        if kind == "gelu":
            return [r.choice(["y = F.gelu(y)", "y = F.gelu(F.linear(y, self.w, self.b))",
                              "y = torch.relu(y) + y"])]
        if kind == "scaled":
            # scalars and constants: the operands oneDNN's bridge rewrites
            return [r.choice([
                "y = y * self.s", "y = self.s * torch.matmul(y, self.w)", "y = y / self.s",
                "y = y * 0.5 + self.c", "y = self.c * y - 0.25", "y = y / 4.0",
            ])]
        if kind == "attention":
            # the attention idiom: y @ y^T [2, 3, 3] (+ a [3, 3] mask), softmax, @ y
            j = self.opt(("mask",))
            lines = ["a = torch.matmul(y, y.transpose(-1, -2)) / 2.0"]
            if j is not None:
                lines += [f"if o{j} is not None:", f"    a = a + o{j}"]
            return lines + ["y = torch.matmul(torch.softmax(a, dim=-1), y)"]
        if kind == "ln_param":
            wa = r.choice(["self.b", "None"])
            wb = r.choice(["self.c", "None"])
            return [f"y = F.layer_norm(y, [4], {wa}, {wb})"]
        if kind == "zero_dim":
            # 0-dim operands (a mean), also of an Optional input
            return [f"if {o} is not None:", f"    y = y * {u}" if role == "mask" else f"    y = y * {o}.mean()",
                    r.choice(["y = y + y.mean() * 0.5", "y = y.sum() * 0.01 + y"])]
        raise AssertionError(kind)

    # -- returns -------------------------------------------------------------
    def choose_return(self):
        r = self.rng
        k = r.random()
        if k < 0.45:
            self.ret_slots = ["y"]
        elif k < 0.9:
            self.ret_slots = ["y"] + [f"o{self.opt()}" for _ in range(r.randint(1, 2))]
        else:
            self.ret_slots = [f"o{self.opt()}"]

    def ret_type(self) -> str:
        types = ["torch.Tensor" if s == "y" else "Optional[torch.Tensor]" for s in self.ret_slots]
        return types[0] if len(types) == 1 else f"Tuple[{', '.join(types)}]"

    def ret_expr(self, y_expr: str) -> str:
        vals = [y_expr if s == "y" else s for s in self.ret_slots]
        return vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ")"

    # -- the case ------------------------------------------------------------
    def calls(self) -> List[List[int]]:
        """None-patterns, in blocks (so the profiling executor sees a stable
        pattern and specializes) and in random order."""
        r = self.rng
        n_patterns = r.choice([1, 2, 2, 3, 3, 4])
        patterns = []
        for _ in range(n_patterns):
            patterns.append([int(r.random() < 0.5) for _ in range(self.n_opt)])
        calls = []
        for _ in range(r.randint(2, 4)):
            p = r.choice(patterns)
            calls += [p] * r.randint(1, 3)
        calls += [r.choice(patterns) for _ in range(r.randint(1, 4))]
        return calls

    def build(self) -> str:
        self.helper_index = []
        self.choose_return()
        body = ["y = x * 0.5"]
        for _ in range(self.rng.randint(2, 7)):
            body += self.statement(top=True)
        body.append(f"return {self.ret_expr('y')}")
        params = ", ".join(f"o{i}: Optional[torch.Tensor]" for i in range(self.n_opt))
        out = [HEADER.format(seed=self.seed)]
        for src in self.helpers + self.submodules:
            out += [src, "", ""]
        if self.kind == "function":
            out.append(f"def fn(x: torch.Tensor, w: torch.Tensor, {params}) -> {self.ret_type()}:")
            out += _indent(body)
        else:
            params_default = ", ".join(
                f"o{i}: Optional[torch.Tensor] = None" for i in range(self.n_opt))
            out += [
                "class Model(torch.nn.Module):",
                "    def __init__(self):",
                "        super().__init__()",
                f"        g = torch.Generator().manual_seed({self.seed % (2**31)})",
                "        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)",
            ] + ([
                "        self.b = torch.nn.Parameter(torch.randn(4, generator=g) * 0.1)",
                "        self.c = torch.nn.Parameter(torch.randn(4, generator=g) * 0.1)",
                "        self.s = torch.nn.Parameter(torch.tensor(1.5))",
            ] if self.mode == "onednn" else []) + _indent(self.sub_attrs, 2) + [
                "",
                f"    def forward(self, x: torch.Tensor, {params_default}) -> {self.ret_type()}:",
            ] + _indent(body, 2)
        case = {
            "seed": self.seed, "kind": self.kind, "roles": self.roles, "fuser": self.fuser,
            "grad": self.grad, "calls": self.calls(),
        }
        if self.mode != "default":
            case["mode"] = self.mode
        out += ["", "", f"CASE = {case!r}", ""]
        return "\n".join(out)


# == Argument kinds beyond Optional[Tensor] ====================================
#
# _KindsGen writes programs whose signature mixes Optional[Tensor] inputs (the
# idioms above) with the other argument kinds a deployment fixes:
#
#   opt_bool, opt_int, opt_float, opt_str   Optional[bool/int/float/str]
#   opt_kv                                  Optional[Tuple[Tensor, Tensor]] (a past key/value)
#   opt_list                                Optional[List[Tensor]]         (hidden states)
#   bool, int, float                        flags and counts
#   mask                                    a Tensor or Optional[Tensor] mask whose dtype
#                                           (bool, float32, float64, int64) and rank (2-4)
#                                           the program tests, torch.nn / HF style
#
# Such a case's CASE has "args" (one dict per argument after x [and w]) instead
# of "roles", and each call is a list with one value spec per argument:
#   None                   pass None
#   "T"                    opt_tensor: a tensor of the arg's role
#   "<dtype>:<rank>"       mask: e.g. "bool:2", "f32:3", "i64:4", "f64:2"
#   "KV<p>"                opt_kv: a tuple of two [2, p, 4] tensors
#   "L<n>"                 opt_list: a list of n [2, 3, 4] tensors
#   True/False, 3, 0.5, "sum"   bool/int/float/str values as they are
# An argument's value is fixed per pattern ("vary": "pattern"; the patterns
# differ from each other, so the guard and the fallback are exercised) or
# changes with every call ("vary": "call": a step counter, a sequence length,
# a per-call scale), which a bounded specialization must not fix.

ARG_KINDS = ("opt_tensor", "opt_bool", "opt_int", "opt_float", "opt_str", "opt_kv", "opt_list",
             "bool", "int", "float", "mask")
KIND_GROUPS = {
    "tensor": ("opt_tensor",),
    "optional": ("opt_bool", "opt_int", "opt_float", "opt_str", "opt_kv", "opt_list"),
    "flags": ("bool", "int", "float"),
    "masks": ("mask",),
}
DEFAULT_KINDS = "all"


def parse_kinds(text) -> tuple:
    """'all', 'new' (everything but opt_tensor), group names (tensor,
    optional, flags, masks) and argument kinds, comma-separated, to a tuple
    of argument kinds. ('opt_tensor',) alone selects the original generator
    (the cases of the seed-1 and seed-2 runs)."""
    if text is None:
        return ("opt_tensor",)
    if not isinstance(text, str):
        text = ",".join(text)
    out = set()
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token == "all":
            out.update(ARG_KINDS)
        elif token == "new":
            out.update(k for k in ARG_KINDS if k != "opt_tensor")
        elif token in KIND_GROUPS:
            out.update(KIND_GROUPS[token])
        elif token in ARG_KINDS:
            out.add(token)
        else:
            raise ValueError(f"unknown argument kind {token!r}: use all, new, "
                             f"{', '.join(KIND_GROUPS)} or one of {', '.join(ARG_KINDS)}")
    if not out:
        raise ValueError("no argument kinds given")
    return tuple(k for k in ARG_KINDS if k in out)


OPTIONAL_KINDS = ("opt_tensor", "opt_bool", "opt_int", "opt_float", "opt_str", "opt_kv", "opt_list")
_PY_TYPES = {
    "opt_tensor": "Optional[torch.Tensor]", "opt_bool": "Optional[bool]", "opt_int": "Optional[int]",
    "opt_float": "Optional[float]", "opt_str": "Optional[str]",
    "opt_kv": "Optional[Tuple[torch.Tensor, torch.Tensor]]",
    "opt_list": "Optional[List[torch.Tensor]]", "bool": "bool", "int": "int", "float": "float",
}
_INT_VALUES = {"count": [0, 1, 2, 3, 4], "layer": [0, 1, 2, 3], "seqlen": [1, 2, 3],
               "dim": [-1, 0, 1, 2], "step": None}
_INT_DEFAULTS = {"count": 2, "layer": 0, "seqlen": 3, "dim": -1, "step": 0}
_FLOAT_VALUES = [0.25, 0.5, 1.0, 1.5, 2.0]
_STR_VALUES = ["mean", "sum", "max"]
_MASK_DTYPES = {"attn": ["bool", "f32", "i64"], "pad": ["i64", "f32", "bool"], "feat": ["f32", "f64"]}
_MASK_RANKS = {"attn": [2, 3, 4], "pad": [2, 3, 4], "feat": [2, 3]}
_NAMES = {
    ("bool", "generic"): ["is_causal", "normalize", "return_dict", "training_flag"],
    ("bool", "weights"): ["need_weights", "output_attentions"],
    ("bool", "cache"): ["use_cache"],
    ("bool", "hidden"): ["output_hidden_states"],
    ("int", "count"): ["n", "num_steps", "num_layers"],
    ("int", "layer"): ["layer_idx"],
    ("int", "step"): ["step", "position"],
    ("int", "seqlen"): ["seq_len", "past_len"],
    ("int", "dim"): ["dim"],
    ("float", "scale"): ["scale", "temperature", "alpha"],
    ("str", "mode"): ["mode", "reduction"],
    ("kv", "kv"): ["past_key_value", "layer_past"],
    ("list", "hidden"): ["hidden_states", "extra_states"],
    ("mask", "attn"): ["attn_mask", "src_mask"],
    ("mask", "pad"): ["attention_mask", "key_padding_mask"],
    ("mask", "feat"): ["bias", "position_bias"],
}


def _base(kind: str) -> str:
    return kind[4:] if kind.startswith("opt_") else kind


class _KindsGen(_Gen):
    """The generator over all argument kinds (see above)."""

    def __init__(self, seed: int, kinds):
        self.seed = seed
        self.rng = random.Random(f"optspec-kinds-{seed}")
        r = self.rng
        self.kinds = tuple(kinds)
        self.kind = "module" if r.random() < 0.4 else "function"
        self.grad = r.random() < 0.1
        self.fuser = "none"
        if self.kind == "function" and not self.grad and r.random() < FUSED_SHARE:
            self.fuser = "nnc"
        self.helpers, self.submodules, self.sub_attrs = [], [], []
        self.attr_lines: List[str] = []   # extra `self.<attr> = ...` lines (modules)
        self.counter = 0
        self.weight = "self.w" if self.kind == "module" else "w"
        self.used_names = {"x", "w", "y"}
        new = [k for k in self.kinds if k != "opt_tensor"]
        if "opt_tensor" in self.kinds:
            self.n_opt = r.choice([0, 1, 1, 2, 3]) if new else r.randint(1, 6)
        else:
            self.n_opt = 0
        self.roles = [r.choices(ROLES, weights=(0.5, 0.35, 0.15))[0] for _ in range(self.n_opt)]
        self.args = [{"name": f"o{i}", "kind": "opt_tensor", "role": role, "vary": "pattern"}
                     for i, role in enumerate(self.roles)]
        for i in range(self.n_opt):
            self.used_names.add(f"o{i}")
            if self.kind == "module":
                self.args[i]["default"] = None
        # masks twice as often as each other kind (their dtype and rank change too)
        kind_weights = [2.0 if k == "mask" else 1.0 for k in new]
        self.new_args = [self.make_arg(r.choices(new, weights=kind_weights)[0])
                         for _ in range(r.randint(1, 4) if new else 0)]
        self.args += self.new_args
        self.resolved = set()   # names of Optional scalars / masks already resolved or canonicalized
        self.uses = {}          # argument name -> statements using it (masks: after canonicalization)
        self.slot_vars = {}     # "weights" / "present" / "hidden" -> variable name

    # -- arguments -----------------------------------------------------------
    def unique(self, name: str) -> str:
        base, k = name, 1
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    def make_arg(self, kind: str) -> dict:
        r = self.rng
        base = _base(kind)
        arg = {"kind": kind, "vary": "pattern"}
        if base == "bool":
            sub = r.choice(["generic", "generic", "weights", "cache", "hidden"])
            arg["vary"] = "call" if r.random() < 0.15 else "pattern"
        elif base == "int":
            sub = r.choice(["count", "count", "layer", "step", "seqlen", "dim"] if kind == "int"
                           else ["count", "layer", "layer", "step", "seqlen"])
            arg["vary"] = "call" if sub == "step" or r.random() < {
                "count": 0.2, "layer": 0.2, "seqlen": 0.6, "dim": 0.1}[sub] else "pattern"
            if sub == "step":
                arg["start"] = r.randint(0, 5)
        elif base == "float":
            sub = "scale"
            arg["vary"] = "call" if r.random() < 0.3 else "pattern"
        elif base == "str":
            sub = "mode"
        elif base == "kv":
            sub = "kv"
        elif base == "list":
            sub = "hidden"
        else:  # mask
            sub = r.choices(["attn", "pad", "feat"], weights=(0.45, 0.35, 0.2))[0]
            arg["optional"] = r.random() < 0.6
            choices = _MASK_DTYPES[sub]
            arg["dtypes"] = r.sample(choices, 1 if r.random() < 0.25 else r.randint(2, len(choices)))
            ranks = _MASK_RANKS[sub]
            arg["ranks"] = sorted(r.sample(ranks, 1 if r.random() < 0.4 else r.randint(2, len(ranks))))
            arg["neg"] = "float(\"-inf\")" if sub == "attn" and r.random() < 0.25 else r.choice(
                ["-10000.0", "-1e9"])
        arg["sub"] = sub
        arg["name"] = self.unique(r.choice(_NAMES[(base, sub)]))
        if kind in OPTIONAL_KINDS:
            # resolve: `v = v if v is not None else default` (HF) at statement
            # index `resolve_at` (0: at the top, where HF puts it)
            arg["resolve"] = r.random() < (0.3 if base in ("kv", "list") else 0.55)
        if base == "mask" or arg.get("resolve"):
            # None: after a random statement; lists at the top only (see st_list)
            arg["resolve_at"] = 0 if base == "list" or r.random() < 0.7 else None
        if self.kind == "module" and kind in OPTIONAL_KINDS:
            arg["default"] = None
        elif self.kind == "module" and base in ("bool", "int", "float"):
            arg["default"] = {"bool": False, "int": _INT_DEFAULTS.get(sub, 0), "float": 1.0}[base]
        return arg

    def value_set(self, arg: dict) -> list:
        base = _base(arg["kind"])
        if base == "bool":
            return [False, True]
        if base == "int":
            return _INT_VALUES[arg["sub"]] or [arg["start"]]
        if base == "float":
            return _FLOAT_VALUES
        if base == "str":
            return _STR_VALUES
        if base == "kv":
            return ["KV1", "KV2"]
        if base == "list":
            return ["L1", "L2", "L3", "L1", "L2", "L3", "L1", "L2", "L0"]   # L0: rarely an empty list
        if base == "tensor":
            return ["T"]
        return [f"{d}:{k}" for d in arg["dtypes"] for k in arg["ranks"]]

    def draw(self, arg: dict, allow_none: bool = True):
        r = self.rng
        optional = arg["kind"] in OPTIONAL_KINDS or arg.get("optional")
        if optional and allow_none and r.random() < (0.45 if arg["kind"] == "opt_tensor" else 0.35):
            return None
        return r.choice(self.value_set(arg))

    def mutate(self, arg: dict, value):
        """Another value for arg: None <-> present, another value, another
        dtype or rank."""
        r = self.rng
        optional = arg["kind"] in OPTIONAL_KINDS or arg.get("optional")
        others = [v for v in self.value_set(arg) if v != value]
        if arg["kind"] == "mask" and value is not None and others:
            d, k = value.split(":")
            near = [v for v in others if v.split(":")[0] == d or v.split(":")[1] == k]
            others = near or others
        if value is None:
            return r.choice(self.value_set(arg))
        if optional and (not others or r.random() < (0.3 if arg["kind"] == "mask" else 0.5)):
            return None
        return r.choice(others) if others else value

    # -- expressions on arguments ------------------------------------------------
    def cond(self, arg: dict) -> str:
        """A bool expression of a bool / Optional[bool] argument."""
        n = arg["name"]
        if arg["kind"] == "bool" or n in self.resolved:
            return n if self.rng.random() < 0.85 else f"not (not {n})"
        return f"{n} is not None and {n}"

    def flags(self, sub=None) -> List[dict]:
        return [a for a in self.new_args if _base(a["kind"]) == "bool" and (sub is None or a["sub"] == sub)]

    def any_cond(self, sub=None) -> Optional[str]:
        fl = self.flags(sub)
        return self.cond(self.rng.choice(fl)) if fl else None

    def default_expr(self, arg: dict) -> str:
        base, sub, n = _base(arg["kind"]), arg["sub"], arg["name"]
        if base == "bool":
            value = self.rng.random() < 0.3
            if self.kind == "module":
                attr = f"config_{n}"
                self.attr_lines.append(f"self.{attr} = {value}")
                return f"self.{attr}"
            return repr(value)
        if base == "int":
            return repr(_INT_DEFAULTS[sub])
        if base == "float":
            return "1.0"
        if base == "str":
            return '"mean"'
        if base == "kv":
            return "(torch.zeros(2, 1, 4), torch.zeros(2, 1, 4))"
        if base == "list":
            return "[y * 0.5]"
        raise AssertionError(base)

    def resolution(self, arg: dict) -> List[str]:
        """`v = v if v is not None else default` and the like; for masks the
        canonicalization (dtype and rank handling)."""
        n = arg["name"]
        self.resolved.add(n)
        if arg["kind"] == "mask":
            return self.canonical_mask(arg)
        d = self.default_expr(arg)
        if self.rng.random() < 0.6:
            return [f"{n} = {n} if {n} is not None else {d}"]
        return [f"if {n} is None:", f"    {n} = {d}"]

    # -- masks -------------------------------------------------------------------
    def mask_lines(self, arg: dict, m: str) -> List[str]:
        """dtype and rank handling of a present mask `m` (torch.nn / HF style)."""
        r = self.rng
        flavour, neg = arg["sub"], arg["neg"]
        dtypes = arg["dtypes"]
        lines: List[str] = []
        if flavour == "feat":
            lines += r.choice([
                [f"if {m}.dtype != y.dtype:", f"    {m} = {m}.to(y.dtype)"],
                [f"if {m}.dtype == torch.float64:", f"    {m} = {m}.float()"],
                [f"if torch.is_floating_point({m}) and {m}.dtype != torch.float32:",
                 f"    {m} = {m}.to(torch.float32)"],
            ])
            lines += r.choice([
                [f"if {m}.dim() == 2:", f"    {m} = {m}.unsqueeze(0)"],
                [f"if {m}.ndim != 3:", f"    {m} = {m}.expand(2, 3, 4)"],
                [f"if len({m}.shape) == 2:", f"    {m} = {m}[None]"],
            ])
            if r.random() < 0.3:
                lines += [f"if {m}.device != y.device:", f"    {m} = {m}.to(y.device)"]
            return lines
        if flavour == "attn":
            # the variant that raises on integer masks only rarely where calls pass them
            raise_w = 0.1 if "i64" in dtypes else 1.0
            dtype = r.choices(["canonical", "canonical_raise", "where", "to"],
                              weights=(1.0, raise_w, 1.0, 1.0))[0]
            if dtype == "canonical":        # F._canonical_mask
                lines += [f"if {m}.dtype == torch.bool:",
                          f"    {m} = torch.zeros_like({m}, dtype=y.dtype).masked_fill_({m}, {neg})",
                          f"elif not torch.is_floating_point({m}):",
                          f"    {m} = {m}.to(y.dtype)"]
            elif dtype == "canonical_raise":
                lines += [f"if {m}.dtype != torch.bool and not torch.is_floating_point({m}):",
                          "    raise AssertionError(\"only bool and floating types of masks are supported\")",
                          f"if not torch.is_floating_point({m}):",
                          f"    {m} = torch.zeros_like({m}, dtype=y.dtype).masked_fill_({m}, {neg})"]
            elif dtype == "where":
                lines += [f"if not {m}.is_floating_point():",
                          f"    {m} = torch.where({m}.to(torch.bool), {neg}, 0.0)"]
            else:
                lines += [f"if {m}.dtype != y.dtype:",
                          f"    if {m}.dtype == torch.bool:",
                          f"        {m} = {m}.float().masked_fill({m}, {neg})",
                          "    else:",
                          f"        {m} = {m}.to(y.dtype)"]
            lines += r.choice([
                [f"if {m}.dim() == 2:", f"    {m} = {m}.unsqueeze(0)",
                 f"elif {m}.dim() == 4:", f"    {m} = {m}.squeeze(1)"],
                [f"if {m}.dim() == 4:", f"    {m} = {m}[:, 0]",
                 f"elif {m}.dim() != 2 and {m}.dim() != 3:",
                 "    raise ValueError(\"attn_mask must be 2-D, 3-D or 4-D\")"],
                [f"if len({m}.shape) == 4:", f"    {m} = {m}.reshape(2, 3, 3)",
                 f"elif {m}.ndim == 2:", f"    {m} = {m}.expand(2, 3, 3)"],
            ])
            if r.random() < 0.3:
                lines += r.choice([
                    [f"if {m}.device != y.device:", f"    {m} = {m}.to(y.device)"],
                    [f"if {m}.device.type != \"cpu\":", "    raise RuntimeError(\"cpu only\")"],
                ])
            return lines
        # pad: HF get_extended_attention_mask, to [2, 1, 1 or 3, 3], 1 = keep
        lines += [f"if {m}.dim() == 3:", f"    {m} = {m}[:, None, :, :]",
                  f"elif {m}.dim() == 2:", f"    {m} = {m}[:, None, None, :]",
                  f"elif {m}.dim() != 4:",
                  "    raise ValueError(\"Wrong shape for attention_mask\")"]
        if r.random() < 0.5:
            lines += [f"if {m}.dtype == torch.bool:", f"    {m} = torch.where({m}, 0.0, -10000.0)",
                      "else:", f"    {m} = (1.0 - {m}.to(dtype=y.dtype)) * -10000.0"]
        else:
            lines += [f"{m} = {m}.to(dtype=y.dtype)", f"{m} = (1.0 - {m}) * -10000.0"]
        return lines

    def canonical_mask(self, arg: dict) -> List[str]:
        n = arg["name"]
        opt = arg["optional"]
        if self.rng.random() < 0.3:   # in a helper, like F._canonical_mask
            name = self.fresh("canonical_mask_")
            t = "Optional[torch.Tensor]" if opt else "torch.Tensor"
            body = (["if mask is None:", "    return None"] if opt else []) + self.mask_lines(arg, "mask")
            self.helpers.append("\n".join(
                [f"def {name}(mask: {t}, y: torch.Tensor) -> {t}:"] + _indent(body + ["return mask"])))
            return [f"{n} = {name}({n}, y)"]
        lines = self.mask_lines(arg, n)
        return [f"if {n} is not None:"] + _indent(lines) if opt else lines

    def raw_mask_check(self, arg: dict) -> List[str]:
        """A check on the mask as passed (before its canonicalization)."""
        r, m = self.rng, arg["name"]
        conds = [f"{m}.dtype == torch.bool", f"torch.is_floating_point({m})", f"{m}.dim() == 3",
                 f"{m}.dtype == torch.int64", f"{m}.is_floating_point()", f"{m}.ndim == 2",
                 f"{m}.device.type == \"cpu\"", f"{m}.dtype in [torch.int64, torch.int32]",
                 f"{m}.dtype == torch.float64", f"len({m}.shape) == 4"]
        c = r.choice(conds)
        body = r.choice(["y = y + 0.125", "y = y * 0.875", "y = y - 0.0625"])
        if r.random() < 0.2:
            return [f"y = y + 0.01 * {m}.dim()"] if not arg["optional"] else [
                f"if {m} is not None:", f"    y = y + 0.01 * {m}.dim()"]
        if arg["optional"]:
            if r.random() < 0.5:
                return [f"if {m} is not None and {c}:", f"    {body}"]
            return [f"if {m} is not None:", f"    if {c}:", f"        {body}"]
        return [f"if {c}:", f"    {body}"]

    def attention(self, mask: Optional[str] = None, pad: bool = False) -> List[str]:
        """Scaled dot-product attention of y on itself, an additive mask, the
        probabilities stored in the weights slot when a weights flag is on."""
        s, p = self.fresh("scores"), self.fresh("probs")
        wc = self.any_cond("weights") if "weights" in self.slot_vars else None
        plus = f" + {mask}" if mask else ""
        if pad:
            q = self.fresh("q")
            lines = [f"{q} = y.unsqueeze(1)", f"{s} = {q} @ {q}.transpose(-1, -2) * 0.5{plus}",
                     f"{p} = torch.softmax({s}, -1)", f"y = ({p} @ {q}).squeeze(1)"]
            if wc:
                lines += [f"if {wc}:", f"    {self.slot_vars['weights']} = {p}.squeeze(1)"]
            return lines
        lines = [f"{s} = y @ y.transpose(-1, -2) * 0.5{plus}", f"{p} = torch.softmax({s}, -1)",
                 f"y = {p} @ y"]
        if wc:
            lines += [f"if {wc}:", f"    {self.slot_vars['weights']} = {p}"]
        return lines

    def st_mask(self, arg: dict, top: bool) -> List[str]:
        r, m = self.rng, arg["name"]
        if m not in self.resolved:
            return self.raw_mask_check(arg)
        opt, flavour = arg["optional"], arg["sub"]
        fc = self.any_cond()
        if flavour == "feat":
            uses = [[f"y = y + {m}"], [f"y = y * torch.sigmoid({m})"], [f"y = F.layer_norm(y + {m}, [4])"]]
            if not self.grad:
                uses.append([f"{m}.add_(0.5)", f"y = y + {m}"])
            use = r.choice(uses)
            if opt:
                return [f"if {m} is not None:"] + _indent(use) + (
                    ["else:", "    y = y * 0.5"] if r.random() < 0.4 else [])
            return use
        pad = flavour == "pad"
        t = r.choice(["manual", "sdpa", "sdpa", "small", "chain"] + (["timm"] if fc and opt and not pad else []))
        if t == "chain" and not fc:
            t = "small"
        if t == "small":
            sl = "[:, 0, :, :1]" if pad else "[..., :1]"
            use = [f"y = y + torch.softmax({m}, -1){sl} * 0.5"]
        elif t == "chain":
            sl = "[:, 0, :, :1]" if pad else "[..., :1]"
            if opt:
                return [f"if {m} is not None and {fc}:", f"    y = y - torch.softmax({m}, -1){sl}"]
            return [f"if {fc}:", f"    y = y - torch.softmax({m}, -1){sl}"]
        elif t == "timm":   # `if attn_mask is not None or is_causal:` keeps the generic path
            return [f"if {m} is not None or {fc}:",
                    f"    y = F.scaled_dot_product_attention(y, y, y, attn_mask={m}, is_causal={fc} and {m} is None)",
                    "else:", "    y = F.scaled_dot_product_attention(y, y, y)"]
        elif t == "sdpa":
            if pad:
                q = self.fresh("q")
                use = [f"{q} = y.unsqueeze(1)",
                       f"y = F.scaled_dot_product_attention({q}, {q}, {q}, attn_mask={m}).squeeze(1)"]
            else:
                use = [f"y = F.scaled_dot_product_attention(y, y, y, attn_mask={m})"]
            if opt and r.random() < 0.5:
                return use   # the Optional goes straight into `Tensor? attn_mask`
        else:
            use = self.attention(m, pad)
        if opt:
            alt = self.attention(None, pad) if r.random() < 0.5 else ["y = y * 0.5"]
            return [f"if {m} is not None:"] + _indent(use) + ["else:"] + _indent(alt)
        return use

    # -- statements per kind ---------------------------------------------------------
    def sub_action(self, arg: dict, cond: str) -> List[str]:
        """What a flag switches on, by its role."""
        r, sub = self.rng, arg["sub"]
        if sub == "weights" and "weights" in self.slot_vars:
            return [f"if {cond}:", f"    {self.slot_vars['weights']} = torch.softmax(y @ y.transpose(-1, -2), -1)"]
        if sub == "cache" and "present" in self.slot_vars:
            return [f"if {cond}:", f"    {self.slot_vars['present']} = (y, y * 0.5)"]
        if sub == "hidden" and "hidden" in self.slot_vars:
            h = self.slot_vars["hidden"]
            return [f"if {h} is not None:", f"    {h}.append(y)"]
        return r.choice([
            [f"if {cond}:", "    y = torch.tril(y)"],
            [f"if {cond}:", "    y = F.scaled_dot_product_attention(y, y, y, is_causal=True)",
             "else:", "    y = F.scaled_dot_product_attention(y, y, y)"],
            [f"if not ({cond}):", "    y = y * 0.5", "else:", "    y = y + 1.0"],
            [f"y = y * 2.0 if {cond} else y"],
            [f"y = y * (1.5 if {cond} else 0.5)"],
        ])

    def st_bool(self, arg: dict, top: bool) -> List[str]:
        r, n = self.rng, arg["name"]
        plain = arg["kind"] == "bool" or n in self.resolved
        if not plain and r.random() < 0.45:
            return r.choice([
                [f"if {n} is None or not {n}:", "    y = y - 0.5"],
                [f"y = y * 2.0 if {n} is None else y * (1.5 if {n} else 0.5)"],
                [f"if {n} is None:", "    y = y + 0.25", f"elif {n}:", "    y = y * 0.75"],
            ])
        c = self.cond(arg)
        k = r.random()
        if k < 0.15 and self.n_opt:
            i = self.opt()
            return [f"if o{i} is not None and {c}:", f"    y = y + {self.use(f'o{i}', self.roles[i])}"]
        if k < 0.25 and arg["kind"] == "bool" and r.random() < 0.5:
            return [f"y = F.scaled_dot_product_attention(y, y, y, is_causal={n})"]
        if k < 0.32:
            other = self.any_cond()
            return [f"if {c} or {other}:", "    y = y - 0.125"]
        return self.sub_action(arg, c)

    def st_int(self, arg: dict, top: bool) -> List[str]:
        r, n, sub = self.rng, arg["name"], arg["sub"]
        plain = arg["kind"] == "int" or n in self.resolved
        scales = "self.layer_scales" if self.kind == "module" else "[0.5, 1.0, 1.5, 2.0]"
        if sub == "layer" and self.kind == "module" and "self.layer_scales = [0.5, 1.0, 1.5, 2.0]" not in self.attr_lines:
            self.attr_lines.append("self.layer_scales = [0.5, 1.0, 1.5, 2.0]")
        uses = {
            "count": [[f"for i in range({n}):", "    y = y * 0.9 + 0.05 * i"],
                      [f"if {n} > 2:", "    y = y * 0.5", f"elif {n} == 0:", "    y = y + 1.0"],
                      [f"y = y * float({n} + 1)"], ["NESTED"]],
            "layer": [[f"y = y * {scales}[{n}]"],
                      [f"if {n} == 0:", "    y = F.layer_norm(y, [4])"],
                      [f"if {n} < 3:", "    y = y + 0.5"]],
            "step": [[f"y = y + 0.001 * {n}"], [f"if {n} % 2 == 0:", "    y = -y"],
                     [f"y = torch.roll(y, {n}, 1)"]],
            "seqlen": [[f"y = y + y[:, :{n}].mean(1, keepdim=True)"],
                       [f"y = y + y.narrow(1, 0, {n}).sum(1, keepdim=True) * 0.25"]],
            # not softmax over an int input with NNC: stock NNC asserts on a
            # dim that is not a constant (tests/fuzz/upstream/nnc_softmax_runtime_dim_repro.py)
            "dim": [[f"y = y - y.mean({n}, keepdim=True)"], [f"y = torch.cumsum(y, {n}) * 0.5"]]
                   + ([] if self.fuser == "nnc" else [[f"y = torch.softmax(y, {n})"]]),
        }[sub]
        if top and sub == "count" and r.random() < 0.1 and plain:
            return [f"if {n} == 0:", f"    return {self.ret_expr('(y + 0.5)')}"]
        use = r.choice(uses)
        if use == ["NESTED"]:
            # a loop around another statement; not where n is an Optional
            # refined outside the loop: stock TorchScript loses a refined
            # Optional scalar used in a loop that is refined again later
            # (tests/fuzz/upstream/loop_body_value_lost_repro.py)
            use = ([f"for _ in range({n}):"] + _indent(self.statement(top=False)) if top and plain
                   else [f"y = y - 0.1 * {n}"])
        if plain:
            return use
        k = r.random()
        if k < 0.5:
            return [f"if {n} is not None:"] + _indent(use)
        if k < 0.75 and sub in ("count", "layer"):
            return [f"if {n} is not None and {n} > 1:", f"    y = y * {n}"]
        v = self.fresh("k")
        return [f"{v} = 1 if {n} is None else {n} + 1", f"y = y * {v}"]

    def st_float(self, arg: dict, top: bool) -> List[str]:
        r, s = self.rng, arg["name"]
        plain = arg["kind"] == "float" or s in self.resolved
        if plain:
            return r.choice([
                [f"y = y * {s}"], [f"if {s} > 1.0:", f"    y = y / {s}"],
                [f"y = F.scaled_dot_product_attention(y, y, y, scale={s})"],
                [f"y = torch.clamp(y, -{s}, {s})"], [f"y = F.leaky_relu(y, {s})"],
            ])
        return r.choice([
            [f"y = F.scaled_dot_product_attention(y, y, y, scale={s})"],   # `float? scale`
            [f"if {s} is not None:", f"    y = y * {s}"],
            [f"if {s} is not None and {s} > 0.5:", f"    y = y - {s}"],
            [f"y = y / ({s} if {s} is not None else 2.0)"],
        ])

    def st_str(self, arg: dict, top: bool) -> List[str]:
        r, s = self.rng, arg["name"]
        if s in self.resolved:
            return r.choice([
                [f"if {s} == \"sum\":", "    y = y + y.sum(-1, keepdim=True) * 0.25",
                 f"elif {s} == \"max\":", "    y = y - y.amax(-1, keepdim=True)",
                 "else:", "    y = y - y.mean(-1, keepdim=True)"],
            ] + ([] if self.fuser == "nnc" else [
                # not with NNC: stock NNC fails on a str computed at run time
                # ("UNSUPPORTED DTYPE: str"), which specializing the str would hide
                [f"y = F.gelu(y, approximate=\"tanh\" if {s} == \"max\" else \"none\")"],
            ]))
        return r.choice([
            [f"if {s} is not None and {s} == \"max\":", "    y = y * 0.5"],
            [f"if {s} is None:", "    y = y + 0.5", f"elif {s} == \"sum\":", "    y = y * 2.0"],
        ])

    def st_kv(self, arg: dict, top: bool) -> List[str]:
        r, p = self.rng, arg["name"]
        plain = p in self.resolved
        t = r.choice(["cache", "cache", "unpack"] + ([] if self.grad else ["inplace"]))
        if t == "cache":   # attention over past + current keys/values
            k, v = self.fresh("key"), self.fresh("value")
            if plain:
                lines = [f"{k} = torch.cat([{p}[0], y], dim=1)", f"{v} = torch.cat([{p}[1], y], dim=1)"]
            else:
                lines = [f"if {p} is not None:", f"    {k} = torch.cat([{p}[0], y], dim=1)",
                         f"    {v} = torch.cat([{p}[1], y], dim=1)",
                         "else:", f"    {k} = y", f"    {v} = y"]
            lines.append(f"y = torch.softmax(y @ {k}.transpose(-1, -2) * 0.5, -1) @ {v}")
            if "present" in self.slot_vars:
                c = self.any_cond("cache")
                pv = self.slot_vars["present"]
                lines.append(f"{pv} = ({k}, {v}) if {c} else None" if c else f"{pv} = ({k}, {v})")
            return lines
        if t == "unpack":
            pk, pv = self.fresh("pk"), self.fresh("pv")
            use = [f"{pk}, {pv} = {p}", f"y = y + {pk}.mean(1, keepdim=True) - {pv}.mean(1, keepdim=True)"]
            return use if plain else [f"if {p} is not None:"] + _indent(use)
        use = [f"{p}[0].mul_(0.5)", f"y = y + {p}[0].mean()"]
        return use if plain else [f"if {p} is not None:"] + _indent(use)

    def st_list(self, arg: dict, top: bool) -> List[str]:
        r, h = self.rng, arg["name"]
        plain = h in self.resolved
        t = self.fresh("h")
        uses = [
            [f"for {t} in {h}:", f"    y = y + {t} * 0.5"],
            [f"if len({h}) > 1:", f"    y = y - {h}[1]"],
            [f"if len({h}) > 0:", f"    y = y + torch.stack({h}).mean(0)"],
        ]
        if not self.grad:
            uses.append([f"for {t} in {h}:", f"    {t}.add_(0.25)"])
        if plain:
            return r.choice(uses + [[f"y = y + {h}[-1]"]])
        k = r.random()
        if k < 0.25:
            return [f"if {h} is not None and len({h}) > 1:", f"    y = y - {h}[1]"]
        if k < 0.4:
            v = self.fresh("n_h")
            return [f"{v} = len({h}) if {h} is not None else 0", f"y = y * ({v} + 1)"]
        # No `for` over the Optional list itself: stock TorchScript 2.13 fails
        # (isList() INTERNAL ASSERT) when such a loop in `if h is not None:` is
        # followed by another refinement of h
        # (tests/fuzz/upstream/loop_body_value_lost_repro.py).
        if k < 0.55 and not self.grad:
            return [f"if {h} is not None and len({h}) > 0:", f"    {h}[0].add_(0.25)"]
        return [f"if {h} is not None:"] + _indent(r.choice(uses[1:3]))

    def scalar_helper(self, arg: dict) -> str:
        """A free function (y, v) -> Tensor on an argument of a non-tensor kind."""
        kind, sub = arg["kind"], arg["sub"]
        base = _base(kind)
        name = self.fresh(f"{base}_helper_")
        opt = kind in OPTIONAL_KINDS
        body = {
            "bool": ["if v:", "    return y * 1.5", "return y"],
            "float": ["return y * v"],
            "str": ["if v == \"sum\":", "    return y + 1.0", "return y"],
            "kv": ["return y + v[0].mean() - v[1].mean()"],
            "list": ["if len(v) == 0:", "    return y", "return y + torch.stack(v).sum(0) * 0.25"],
        }.get(base)
        if base == "int":
            body = {"count": ["for i in range(v):", "    y = y * 0.75 + 0.125", "return y"],
                    "layer": ["return y * (1.0 + 0.25 * v)"], "step": ["return y + 0.001 * v"],
                    "seqlen": ["return y + y[:, :v].mean(1, keepdim=True)"],
                    "dim": ["return y - y.mean(v, keepdim=True)"]}[sub]
        if opt:
            body = ["if v is None:", "    return y - 0.5"] + body
        self.helpers.append("\n".join(
            [f"def {name}(y: torch.Tensor, v: {_PY_TYPES[kind]}) -> torch.Tensor:"] + _indent(body)))
        return name

    def statement(self, top: bool) -> List[str]:
        r = self.rng
        if self.n_opt and (not self.new_args or r.random() < 0.3):
            return _Gen.statement(self, top)
        if "hidden" in self.slot_vars and r.random() < 0.08:
            h = self.slot_vars["hidden"]
            return [f"if {h} is not None:", f"    {h}.append(y)"]
        arg = r.choice(self.new_args)
        return self.arg_statement(arg, top)

    def arg_statement(self, arg: dict, top: bool) -> List[str]:
        r = self.rng
        base = _base(arg["kind"])
        if base != "mask" or arg["name"] in self.resolved:
            self.uses[arg["name"]] = self.uses.get(arg["name"], 0) + 1
        if base not in ("mask",) and r.random() < 0.12:
            helper = self.scalar_helper(arg)
            if top and self.fuser != "nnc" and r.random() < 0.3:
                fut = self.fresh("fut")
                return [f"{fut} = torch.jit.fork({helper}, y, {arg['name']})", f"y = torch.jit.wait({fut})"]
            return [f"y = {helper}(y, {arg['name']})"]
        return getattr(self, "st_" + base)(arg, top)

    # -- returns ----------------------------------------------------------------
    def choose_return(self):
        r = self.rng
        # slots filled by flags: attention weights, the present key/value, hidden states
        if self.flags("weights") and r.random() < 0.85:
            self.slot_vars["weights"] = "attn_weights"
        if (self.flags("cache") or any(a["kind"] == "opt_kv" for a in self.new_args)) and r.random() < 0.85:
            self.slot_vars["present"] = "present_kv"
        if self.flags("hidden") and r.random() < 0.85:
            self.slot_vars["hidden"] = "all_hidden"
        types = {"weights": "Optional[torch.Tensor]",
                 "present": "Optional[Tuple[torch.Tensor, torch.Tensor]]",
                 "hidden": "Optional[List[torch.Tensor]]"}
        cands = [(v, types[k]) for k, v in self.slot_vars.items()]
        cands += [(f"o{i}", "Optional[torch.Tensor]") for i in range(self.n_opt)]
        for a in self.new_args:
            if a["kind"] == "mask":
                cands.append((a["name"], "Optional[torch.Tensor]" if a["optional"] else "torch.Tensor"))
            elif a["kind"] in ("opt_kv", "opt_list", "opt_int", "opt_bool", "int"):
                cands.append((a["name"], _PY_TYPES[a["kind"]]))
        slots = [("y", "torch.Tensor")]
        k = r.random()
        # returned alone: a tensor-valued slot (y then feeds only what that
        # slot reads; a lone scalar would leave the whole body dead)
        alone = [c for c in cands if "Tensor" in c[1]]
        if alone and k < 0.08:
            slots = [r.choice(alone)]
        elif cands and k < 0.7:
            picked = [c for c in cands if c[0] in self.slot_vars.values() and r.random() < 0.8]
            others = [c for c in cands if c not in picked]
            picked += r.sample(others, min(len(others), r.randint(0, 2)))
            slots += picked
        self.slots = slots

    def ret_type(self) -> str:
        types = [t for _, t in self.slots]
        return types[0] if len(types) == 1 else f"Tuple[{', '.join(types)}]"

    def ret_expr(self, y_expr: str) -> str:
        vals = [y_expr if s == "y" else s for s, _ in self.slots]
        return vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ")"

    # -- calls --------------------------------------------------------------------
    def calls(self) -> list:
        r = self.rng
        n_patterns = r.choices([1, 2, 3, 4], weights=(0.08, 0.4, 0.32, 0.2))[0]
        patterns = [[self.draw(a) for a in self.args]]
        mutable = [i for i, a in enumerate(self.args) if a["vary"] == "pattern" or
                   a["kind"] in OPTIONAL_KINDS or a.get("optional")] if self.args else []
        # the arguments of the new kinds change more often than Optional[Tensor] ones
        weights = [0.4 if self.args[i]["kind"] == "opt_tensor" else
                   2.0 if self.args[i]["kind"] == "mask" else 1.0 for i in mutable]
        for _ in range(n_patterns - 1 if mutable else 0):
            for _attempt in range(6):
                p = list(r.choice(patterns))
                picked = set(r.choices(mutable, weights=weights, k=r.choice([1, 1, 2])))
                for i in picked:
                    p[i] = self.mutate(self.args[i], p[i])
                if p not in patterns:
                    patterns.append(p)
                    break
        # an Optional argument of a new kind that is None in every pattern is
        # made present in the last one (so that its uses run at all)
        if len(patterns) > 1:
            for i, a in enumerate(self.args):
                if a["kind"] != "opt_tensor" and all(p[i] is None for p in patterns):
                    patterns[-1][i] = r.choice(self.value_set(a))
        order = [0] * r.randint(2, 5)
        for _ in range(r.randint(1, 3)):
            others = [k for k in range(len(patterns)) if k != order[-1]] or [0]
            order += [r.choice(others)] * r.randint(1, 3)
        order += [r.randrange(len(patterns)) for _ in range(r.randint(1, 4))]
        if any(a["vary"] == "call" for a in self.args):
            # a tail of the first pattern with its per-call values changing:
            # a bounded specialization compiles nothing new there (the
            # oracle's spec_late)
            order += [0] * 8
        calls = []
        for c, k in enumerate(order):
            call = list(patterns[k])
            for i, a in enumerate(self.args):
                if a["vary"] == "call" and call[i] is not None:
                    if a.get("sub") == "step":
                        call[i] = a["start"] + c          # a counter
                    else:
                        call[i] = r.choice(self.value_set(a))
            calls.append(call)
        return calls

    def param(self, a: dict, with_default: bool) -> str:
        t = _PY_TYPES.get(a["kind"])
        if a["kind"] == "mask":
            t = "Optional[torch.Tensor]" if a["optional"] else "torch.Tensor"
        if with_default and "default" in a:
            return f"{a['name']}: {t} = {a['default']!r}"
        return f"{a['name']}: {t}"

    def build(self) -> str:
        r = self.rng
        self.helper_index = []
        # module forward(): arguments without a default first (HF order does
        # not matter to TorchScript; Python needs it)
        if self.kind == "module":
            self.args.sort(key=lambda a: "default" in a)
        n_statements = r.randint(2, 6)
        for a in self.args:
            if "resolve_at" in a and a["resolve_at"] is None:
                a["resolve_at"] = r.randint(1, max(1, n_statements - 1))
        # resolutions at the top come before the return slots (whose
        # initialization may read a resolved flag)
        body = ["y = x * 0.5"]
        top = [a for a in self.args if a.get("resolve_at") == 0]
        r.shuffle(top)
        pre_checks = [a for a in self.args if a["kind"] == "mask" and a.get("resolve_at") == 0 and r.random() < 0.5]
        for a in pre_checks:
            body += self.raw_mask_check(a)
        for a in top:
            body += self.resolution(a)
        self.choose_return()
        for key, var in self.slot_vars.items():
            if key == "weights":
                body.append(f"{var}: Optional[torch.Tensor] = None")
            elif key == "present":
                body.append(f"{var}: Optional[Tuple[torch.Tensor, torch.Tensor]] = None")
            else:
                c = self.any_cond("hidden")
                body.append(f"{var}: Optional[List[torch.Tensor]] = [] if {c} else None")
        for k in range(n_statements):
            for a in self.args:
                if a.get("resolve_at") == k and k > 0:
                    body += self.resolution(a)
            body += self.statement(top=True)
        # every argument is used at least once (an unused one is not
        # specialized: nothing to test)
        for a in self.args:
            if a["kind"] == "opt_tensor":
                if not any(re.search(rf"\b{a['name']}\b", line) for line in body + self.helpers):
                    body += [f"if {a['name']} is not None:",
                             f"    y = y + {self.use(a['name'], a['role'])}"]
            elif not self.uses.get(a["name"]):
                body += self.arg_statement(a, top=True)
        if "hidden" in self.slot_vars and r.random() < 0.7:
            h = self.slot_vars["hidden"]
            body += [f"if {h} is not None:", f"    {h}.append(y)"]
        body.append(f"return {self.ret_expr('y')}")

        out = [HEADER.format(seed=self.seed)]
        for src in self.helpers + self.submodules:
            out += [src, "", ""]
        if self.kind == "function":
            params = ", ".join(self.param(a, False) for a in self.args)
            out.append(f"def fn(x: torch.Tensor, w: torch.Tensor{', ' if params else ''}{params}) -> {self.ret_type()}:")
            out += _indent(body)
        else:
            params = ", ".join(self.param(a, True) for a in self.args)
            out += [
                "class Model(torch.nn.Module):",
                "    def __init__(self):",
                "        super().__init__()",
                f"        g = torch.Generator().manual_seed({self.seed % (2**31)})",
                "        self.w = torch.nn.Parameter(torch.randn(4, 4, generator=g) * 0.3)",
            ] + _indent(self.sub_attrs + sorted(set(self.attr_lines)), 2) + [
                "",
                f"    def forward(self, x: torch.Tensor{', ' if params else ''}{params}) -> {self.ret_type()}:",
            ] + _indent(body, 2)
        args = [{k: v for k, v in a.items() if k != "resolve_at"} for a in self.args]
        case = {
            "seed": self.seed, "kind": self.kind, "format": 2, "kinds": list(self.kinds),
            "args": args, "fuser": self.fuser, "grad": self.grad,
            "call_style": "keywords" if self.kind == "module" and r.random() < 0.5 else "positional",
            "calls": self.calls(),
        }
        out += ["", "", f"CASE = {case!r}", ""]
        return "\n".join(out)


def generate_case(seed: int, kinds=None, mode: str = "default") -> str:
    """The source of case `seed`. kinds: None or ("opt_tensor",): the
    original generator; otherwise a kinds string or tuple (parse_kinds).
    mode "onednn": a oneDNN Graph case of the original generator (frozen
    module; Optional[Tensor] inputs only, so kinds must select only those)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    kinds = parse_kinds(kinds)
    if mode == "onednn":
        if kinds != ("opt_tensor",):
            raise ValueError("mode onednn generates Optional[Tensor] cases only "
                             f"(kinds tensor), not {', '.join(kinds)}")
        return _Gen(seed, mode).build()
    if kinds == ("opt_tensor",):
        return _Gen(seed).build()
    return _KindsGen(seed, kinds).build()


def mode_kinds(mode: str, kinds) -> str:
    """The kinds a run of `mode` uses: kinds as given in default mode; in
    onednn mode "tensor" (None allowed; anything else raises ValueError)."""
    if mode == "onednn":
        if kinds is not None and parse_kinds(kinds) != ("opt_tensor",):
            raise ValueError("--mode onednn generates Optional[Tensor] cases only: "
                             f"--kinds tensor (or none), not {kinds!r}")
        return "tensor"
    return DEFAULT_KINDS if kinds is None else kinds


def case_seed(run_seed: int, index: int) -> int:
    """The seed of case `index` of a run (stable across runs and chunks)."""
    return (run_seed * 1_000_003 + index) % (2**62)


if __name__ == "__main__":
    # python tests/fuzz/fuzz_gen.py <seed> [<kinds> | onednn]
    import sys
    second = sys.argv[2] if len(sys.argv) > 2 else None
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if second in MODES:
        print(generate_case(seed, None, second))
    else:
        print(generate_case(seed, second))
