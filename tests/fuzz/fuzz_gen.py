"""Random TorchScript programs with Optional[Tensor] inputs.

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

generate_case(seed, mode="onednn") makes a oneDNN Graph case instead: a frozen
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
from typing import List, Optional

ROLES = ("act", "vec", "mask")
ELEMENTWISE = ("act", "vec")
FUSED_SHARE = 0.15         # share of function cases run with the NNC fuser
FUSER_ONEDNN_SHARE = 0.0   # share of default-mode module cases run with oneDNN Graph

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
        # fuser has a mode of its own (mode="onednn", fuzz_run.py --mode
        # onednn): stock torch 2.13's oneDNN Graph fails on about half of
        # those cases by itself (tools/onednn_bridge_repro.py), so its cases
        # are compared to eager only; FUSER_ONEDNN_SHARE mixes some into the
        # default mode for experiments.
        self.fuser = "none"
        if self.kind == "function" and not self.grad and r.random() < FUSED_SHARE:
            self.fuser = "nnc"
        elif self.kind == "module" and r.random() < FUSER_ONEDNN_SHARE:
            self.fuser = "onednn"
        if mode == "onednn":
            # oneDNN Graph fuses frozen modules (no grad: freezing makes the
            # parameters constants).
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


def generate_case(seed: int, mode: str = "default") -> str:
    return _Gen(seed, mode).build()


def case_seed(run_seed: int, index: int) -> int:
    """The seed of case `index` of a run (stable across runs and chunks)."""
    return (run_seed * 1_000_003 + index) % (2**62)


if __name__ == "__main__":
    import sys
    print(generate_case(int(sys.argv[1]) if len(sys.argv) > 1 else 0,
                        sys.argv[2] if len(sys.argv) > 2 else "default"))
