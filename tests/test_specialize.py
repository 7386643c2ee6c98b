"""torch_optspec.specialize(): ahead-of-time specialization into a model that
runs specialized in stock PyTorch, without torch_optspec.

The end-to-end tests save the report's module specialized (guarded and
strict, for both None-patterns), its hand-specialized twin and an attention
block, then run tests/helpers/aot_consumer.py once in a subprocess that
cannot import torch_optspec, and check what it saw."""
import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from typing import Optional

import pytest
import torch

import torch_optspec
from torch_optspec import census
from test_fusion_nnc import ExampleModule, example_inputs

HERE = os.path.dirname(os.path.abspath(__file__))


class ExampleTwin(torch.nn.Module):
    """The report's workaround: the mask is a plain Tensor."""

    def __init__(self, hidden_size, scale_factor):
        super().__init__()
        self.scale = int(hidden_size / scale_factor)

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tmp = inputs / self.scale
        tmp = tmp + mask
        return torch.nn.functional.softmax(tmp, dim=-1)


class Attn(torch.nn.Module):
    def forward(self, q, k, v, mask: Optional[torch.Tensor] = None):
        s = torch.matmul(q, k.transpose(-1, -2)) / 8.0
        if mask is not None:
            s = s + mask
        return torch.matmul(torch.softmax(s, dim=-1), v)


class AttnTwin(torch.nn.Module):
    def forward(self, q, k, v, mask: torch.Tensor):
        s = torch.matmul(q, k.transpose(-1, -2)) / 8.0
        s = s + mask
        return torch.matmul(torch.softmax(s, dim=-1), v)


class Gated(torch.nn.Module):
    """Parameters, a submodule call and two Optional inputs."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def scaled(self, x: torch.Tensor, scale: Optional[torch.Tensor]) -> torch.Tensor:
        if scale is not None:
            x = x * scale
        return x

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None,
                scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.proj(x)
        if bias is not None:
            y = y + bias
        return torch.relu(self.scaled(y, scale))


def script(module):
    scripted = torch.jit.script(module)
    torch_optspec.reset_plans(scripted)
    return scripted


def saved_code(module) -> str:
    """The TorchScript code files torch.jit.save writes for `module`."""
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return "\n".join(z.read(n).decode() for n in z.namelist() if n.endswith(".py"))


def assert_no_torch_optspec_op(module):
    code = saved_code(module)
    assert "ops.torch_optspec" not in code and "torch_optspec::" not in code, code
    assert census.GUARD_OP.split("::")[1] not in code, code


# ------------------------------------------------ saved, loaded elsewhere ---


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    """Writes the artifacts, runs tests/helpers/aot_consumer.py on them in a
    process where torch_optspec cannot be imported, returns what it printed."""
    d = tmp_path_factory.mktemp("aot")
    x, mask = example_inputs()
    eager = ExampleModule(1024, 16)
    scripted = script(ExampleModule(1024, 16))
    for name, arg, strict in (("guarded_tensor", mask, False), ("strict_tensor", mask, True),
                              ("guarded_none", None, False), ("strict_none", None, True)):
        specialized = torch_optspec.specialize(scripted, x, arg, strict=strict)
        assert_no_torch_optspec_op(specialized)
        torch.jit.save(specialized, str(d / f"{name}.pt"))
    torch.jit.save(script(ExampleTwin(1024, 16)), str(d / "twin.pt"))
    torch.jit.save(scripted, str(d / "stock.pt"))
    frozen = torch.jit.freeze(script(ExampleModule(1024, 16)).eval())
    torch.jit.save(frozen, str(d / "frozen_stock.pt"))
    torch.jit.save(torch_optspec.specialize(frozen, x, mask, strict=True),
                   str(d / "frozen_strict_tensor.pt"))
    torch.jit.save(torch.jit.freeze(script(ExampleTwin(1024, 16)).eval()), str(d / "frozen_twin.pt"))

    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))
    attn_mask = torch.randn(1, 1, 1, 16)
    frozen_attn = torch.jit.freeze(script(Attn()).eval())
    torch.jit.save(torch_optspec.specialize(frozen_attn, q, k, v, attn_mask, strict=True),
                   str(d / "attn_frozen_strict.pt"))
    torch.jit.save(torch.jit.freeze(script(AttnTwin()).eval()), str(d / "attn_frozen_twin.pt"))
    torch.jit.save(frozen_attn, str(d / "attn_frozen_stock.pt"))

    xr, mr = x.clone().requires_grad_(), mask.clone().requires_grad_()
    weights = torch.randn(2, 3, 4, 4)
    (eager(xr, mr) * weights).sum().backward()
    with torch.no_grad():
        data = {"x": x, "mask": mask, "with_mask": eager(x, mask), "without_mask": eager(x, None),
                "grad_weights": weights, "grad_x": xr.grad, "grad_mask": mr.grad,
                "attn_q": q, "attn_k": k, "attn_v": v, "attn_mask": attn_mask,
                "attn_out": Attn()(q, k, v, attn_mask)}
    torch.save(data, str(d / "data.pt"))
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "TORCH_OPTSPEC_ENABLE")}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "helpers", "aot_consumer.py"), str(d)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_consumer_process_has_no_torch_optspec(consumer):
    assert consumer["import_blocked"] is True
    assert consumer["library_mapped"] is False
    assert consumer["modules"] == []
    for name, seen in consumer.items():
        if isinstance(seen, dict):
            assert seen["foreign_nodes"] == [], (name, seen)


def test_nnc_fuses_div_add_softmax_on_the_specialized_pattern(consumer):
    """Loaded without torch_optspec, NNC on CPU: one group holding div, add
    and softmax, like the twin (stock TorchScript forms none with the add)."""
    twin = consumer["twin"]["groups"]
    assert twin == [["aten::add", "aten::div", "aten::softmax"]]
    assert consumer["stock"]["groups"] != twin  # the branch on mask splits the stock graph
    for name in ("guarded_tensor", "strict_tensor"):
        assert consumer[name]["groups"] == twin, (name, consumer[name])
        assert consumer[name]["matches_eager"], name
    for name in ("guarded_none", "strict_none"):
        assert consumer[name]["groups"] == [["aten::div", "aten::softmax"]], (name, consumer[name])
        assert consumer[name]["matches_eager"], name


def test_guarded_runs_the_original_body_on_the_other_pattern(consumer):
    assert consumer["guarded_tensor"]["other_pattern_matches_eager"] is True
    assert consumer["guarded_none"]["other_pattern_matches_eager"] is True


def test_strict_raises_naming_the_argument(consumer):
    """A plain RuntimeError (a scripted `raise RuntimeError(...)` would reach
    Python as torch.jit.Error, which `except RuntimeError` misses), in a
    process without torch_optspec (C++: tests/cpp/aot_host.cpp)."""
    assert consumer["strict_tensor"]["other_pattern_error_type"] == "builtins.RuntimeError"
    error = consumer["strict_tensor"]["other_pattern_error"]
    assert error is not None
    assert "argument 'mask' was specialized for a Tensor, but this call passed None" in error, error
    error = consumer["strict_none"]["other_pattern_error"]
    assert error is not None
    assert "argument 'mask' was specialized for None, but this call passed a Tensor" in error, error


def test_autodiff_path_forms_the_twins_differentiable_graph(consumer):
    """Grad enabled, inputs requiring grad: the profiling executor
    differentiates (no custom pass runs there, so only an artifact that
    carries its specialization gets it): a DifferentiableGraph holding the
    add, like the twin, and the gradients of eager."""
    twin = consumer["twin"]["autodiff_groups"]
    assert len(twin) == 1 and "aten::add" in twin[0], twin
    assert all("aten::add" not in g for g in consumer["stock"]["autodiff_groups"]), consumer["stock"]
    for name in ("guarded_tensor", "strict_tensor"):
        assert consumer[name]["autodiff_groups"] == twin, (name, consumer[name])
        assert consumer[name]["autodiff_matches_eager"], name


def test_onednn_strict_frozen_fuses_like_the_twin(consumer):
    for model in ("", "attn_"):
        spec = consumer[f"{model}frozen_strict" + ("_tensor" if not model else "")]
        twin = consumer[f"{model}frozen_twin"]
        assert spec["groups"] == twin["groups"], (model, spec, twin)
        assert spec["matches_eager"] and twin["matches_eager"], model
    assert consumer["attn_frozen_twin"]["groups"], "the twin should fuse under oneDNN"
    for model in ("frozen", "attn_frozen"):
        assert consumer[f"{model}_stock"]["groups"] != consumer[f"{model}_twin"]["groups"], model


# ------------------------------------------------------------- in process ---


def test_stock_script_keeps_the_branch():
    """What specialize() removes: the scripted model's check on mask."""
    m = script(ExampleModule(1024, 16))
    assert "aten::__isnot__" in str(m.graph)
    x, mask = example_inputs()
    s = torch_optspec.specialize(m, x, mask, strict=True)
    kinds = [n.kind() for n in s.graph.nodes()]
    # Top level: the one strict check, then the body without any branch on mask.
    assert kinds.count("prim::If") == 1
    assert [k for k in kinds if k.startswith("aten::")] == [
        "aten::__isnot__", "aten::div", "aten::add", "aten::softmax"]
    assert s.optspec_report.residual_checks == 0


def test_input_module_untouched_and_result_independent():
    m = script(Gated())
    before_graph, before_code = str(m.graph), m.code
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x = torch.randn(2, 4)
    s = torch_optspec.specialize(m, x, torch.randn(4))
    assert str(m.graph) == before_graph and m.code == before_code
    assert type(s) is not type(m) or s._c._type() != m._c._type()
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k])
        assert v.data_ptr() != s.state_dict()[k].data_ptr(), k
    # The original still runs unspecialized, any pattern.
    with torch.no_grad():
        m(x)
        m(x, None, torch.randn(4))


def test_not_frozen_keeps_parameters_trainable():
    torch.manual_seed(0)
    eager = Gated()
    m = script(eager)
    s = torch_optspec.specialize(m, torch.randn(2, 4), torch.randn(4))
    params = dict(s.named_parameters())
    assert sorted(params) == ["proj.bias", "proj.weight"]
    for p in params.values():
        assert p.requires_grad and p.is_leaf and p.grad_fn is None
    x, bias = torch.randn(2, 4), torch.randn(4)
    s(x, bias).sum().backward()
    eager(x, bias).sum().backward()
    for name, p in params.items():
        torch.testing.assert_close(p.grad, dict(eager.named_parameters())[name].grad)
    opt = torch.optim.SGD(s.parameters(), lr=0.1)
    opt.step()
    assert not torch.equal(s.proj.weight, m.proj.weight)  # trained the copy only


def test_methods_it_calls_are_inlined_and_every_pattern_matches_eager():
    torch.manual_seed(0)
    eager = Gated().eval()
    m = script(eager)
    x, b, sc = torch.randn(2, 4), torch.randn(4), torch.randn(4)
    patterns = [(None, None), (b, None), (None, sc), (b, sc)]
    for strict in (False, True):
        for example in patterns:
            s = torch_optspec.specialize(m, x, *example, strict=strict)
            assert not s.graph.findAllNodes("prim::CallMethod"), s.graph
            assert s.optspec_report.residual_checks == 0
            expected = {"bias": "a Tensor" if example[0] is not None else "None",
                        "scale": "a Tensor" if example[1] is not None else "None"}
            assert s.optspec_report.specialized_arguments() == expected
            with torch.no_grad():
                for call in patterns:
                    if strict and call != example:
                        with pytest.raises(RuntimeError, match="was specialized for"):
                            s(x, *call)
                        continue
                    for _ in range(3):
                        torch.testing.assert_close(s(x, *call), eager(x, *call))


def test_saved_code_round_trip_in_process():
    x, mask = example_inputs()
    m = script(ExampleModule(1024, 16))
    for strict in (False, True):
        s = torch_optspec.specialize(m, x, mask, strict=strict)
        assert_no_torch_optspec_op(s)
        buf = io.BytesIO()
        torch.jit.save(s, buf)
        buf.seek(0)
        loaded = torch.jit.load(buf)
        assert loaded.code == s.code
        with torch.no_grad():
            torch.testing.assert_close(loaded(x, mask), ExampleModule(1024, 16)(x, mask))


def test_keywords_and_defaults():
    x, mask = example_inputs()
    m = script(ExampleModule(1024, 16))
    assert torch_optspec.specialize(m, x).optspec_report.specialized_arguments() == {"mask": "None"}
    assert torch_optspec.specialize(m, x, mask=mask).optspec_report.specialized_arguments() == {
        "mask": "a Tensor"}
    assert torch_optspec.specialize(m, inputs=x, mask=None).optspec_report.specialized_arguments() == {
        "mask": "None"}
    s = torch_optspec.specialize(m, x, mask, strict=True)
    assert "mask: Optional[Tensor]=None" in s.code  # the signature is kept, defaults included


def test_scripted_function_gives_a_module():
    def masked_softmax(x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if mask is not None:
            x = x + mask
        return torch.softmax(x, -1)

    fn = torch.jit.script(masked_softmax)
    x, mask = torch.randn(2, 4), torch.randn(2, 4)
    s = torch_optspec.specialize(fn, x, mask, strict=True)
    assert isinstance(s, torch.jit.ScriptModule)
    assert "aten::__isnot__" in str(fn.graph)  # the function is not modified
    buf = io.BytesIO()
    torch.jit.save(s, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    torch.testing.assert_close(loaded(x, mask), torch.softmax(x + mask, -1))
    with pytest.raises(RuntimeError, match="argument 'mask' was specialized for a Tensor"):
        loaded(x, None)
    assert_no_torch_optspec_op(s)


def test_report_text():
    x, mask = example_inputs()
    s = torch_optspec.specialize(script(ExampleModule(1024, 16)), x, mask)
    r = s.optspec_report
    assert r.specialized and not r.strict and r.method == "forward"
    assert [(a.name, a.decision, a.check) for a in r.arguments] == [
        ("self", "skip", ""), ("inputs", "skip", ""), ("mask", "tensor", "mask is not None")]
    assert "mask" in str(r) and "runs the original code" in str(r)


def test_nothing_to_specialize_gives_an_unchanged_copy():
    m = script(ExampleTwin(1024, 16))
    x, mask = example_inputs()
    s = torch_optspec.specialize(m, x, mask)
    assert not s.optspec_report.specialized
    assert s.code == m.code


def test_unused_optional_is_left_alone():
    class Unused(torch.nn.Module):
        def forward(self, x, mask: Optional[torch.Tensor] = None):
            return x * 2

    s = torch_optspec.specialize(script(Unused()), torch.randn(2), torch.randn(2), strict=True)
    assert not s.optspec_report.specialized
    assert s.optspec_report.arguments[2].reason == "unused"


def test_errors():
    x, mask = example_inputs()
    with pytest.raises(TypeError, match="torch.jit.script"):
        torch_optspec.specialize(ExampleModule(1024, 16), x, mask)
    with pytest.raises(TypeError, match="strict"):
        torch_optspec.specialize(script(ExampleModule(1024, 16)), x, mask, strict="yes")
    with pytest.raises(RuntimeError):
        torch_optspec.specialize(script(ExampleModule(1024, 16)), x, 3)
    with pytest.raises(RuntimeError):
        torch_optspec.specialize(script(ExampleModule(1024, 16)))  # inputs missing
    with pytest.raises(RuntimeError):
        torch_optspec.specialize(script(ExampleModule(1024, 16)), x, mask, nonsense=x)


def test_independent_of_the_runtime_switch_and_counters():
    """specialize() reads no switch and counts nothing; the runtime pass may
    still version a specialized model (its checks read the Optional input),
    with the same results."""
    x, mask = example_inputs()
    m = script(ExampleModule(1024, 16))
    with torch_optspec.enabled():
        s = torch_optspec.specialize(m, x, mask, strict=False)
    assert torch_optspec.stats()["graphs_seen"] == 0
    assert s.code == torch_optspec.specialize(m, x, mask, strict=False).code
    with torch_optspec.enabled(), torch.no_grad():
        for arg in (mask, mask, mask, None, None, None):
            torch.testing.assert_close(s(x, arg), ExampleModule(1024, 16)(x, arg))


def model_ifs(graph) -> int:
    """prim::If anywhere in `graph` other than strict checks (a raise in block1)."""
    return sum(1 for n in graph.findAllNodes("prim::If", True)
               if not any(m.kind() == "prim::RaiseException" for m in list(n.blocks())[1].nodes()))


def test_bert_port_specialized_matches_eager_and_the_frozen_twin():
    from bench.models.bert import (BertConfigLite, BertModel, SpecializedBertModel, make_inputs,
                                   random_weights)

    config = BertConfigLite(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=64, max_position_embeddings=16)
    eager = random_weights(BertModel(config)).eval()
    inputs = make_inputs(2, 8, config.vocab_size)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    with torch.no_grad():
        for args in ((ids, mask), (ids,)):
            expected = eager(*args)
            twin = SpecializedBertModel(config, use_mask=len(args) == 2)
            twin.load_state_dict(eager.state_dict())
            frozen_twin = torch.jit.freeze(script(twin.eval()))
            assert model_ifs(frozen_twin.graph) == 0
            for frozen in (False, True):
                m = script(eager)
                if frozen:
                    m = torch.jit.freeze(m)
                for strict in (False, True):
                    s = torch_optspec.specialize(m, *args, strict=strict)
                    r = s.optspec_report
                    assert r.specialized and r.residual_checks == 0, str(r)
                    for _ in range(3):
                        got = s(*args)
                    torch.testing.assert_close(got, expected)
                    if strict and frozen:
                        # Like the frozen twin, no branch of the model left
                        # (not frozen, the module's own flags stay attributes).
                        assert model_ifs(s.graph) == 0, s.graph


@pytest.fixture(autouse=True)
def _no_deprecation_noise():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
        yield



# -------------------------------------------------------------------- CLI ---


def test_cli_specialize_writes_a_model_that_loads_without_torch_optspec(tmp_path, capsys):
    from torch_optspec.__main__ import main as cli_main

    src, out = tmp_path / "report.pt", tmp_path / "report_mask.pt"
    torch.jit.save(script(ExampleModule(1024, 16)), str(src))
    assert cli_main(["specialize", str(src), str(out), "2x3x4x4", "2x1x1x4"]) == 0
    printed = capsys.readouterr().out
    assert "guarded" in printed and "mask" in printed and "mask is not None" in printed, printed
    assert f"wrote {out}" in printed
    loaded = torch.jit.load(str(out))
    assert_no_torch_optspec_op(loaded)
    x, mask = example_inputs()
    eager = ExampleModule(1024, 16)
    with torch.no_grad():
        for arg in (mask, None):
            torch.testing.assert_close(loaded(x, arg), eager(x, arg))


def test_cli_specialize_strict_frozen_keyword(tmp_path, capsys):
    from torch_optspec.__main__ import main as cli_main

    src, out = tmp_path / "report.pt", tmp_path / "report_nomask.pt"
    torch.jit.save(script(ExampleModule(1024, 16)), str(src))
    assert cli_main(["specialize", str(src), str(out), "2x3x4x4", "mask=None", "--strict",
                     "--freeze"]) == 0
    printed = capsys.readouterr().out
    assert "strict" in printed and "mask is None" in printed and "(frozen)" in printed, printed
    loaded = torch.jit.load(str(out))
    assert "self.scale" not in loaded.code  # frozen: the attribute is a constant
    x, mask = example_inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), ExampleModule(1024, 16)(x))
        with pytest.raises(RuntimeError, match="argument 'mask' was specialized for None"):
            loaded(x, mask)


@pytest.mark.parametrize("argv_tail, message", [
    (["2x3x4x4", "bogus=None"], "has no argument 'bogus'"),
    (["2x3x4x4", "2x1x1x4", "2x2"], "positional INPUTs"),
    (["2x3x4x4", "2xZ"], "bad INPUT"),
])
def test_cli_specialize_usage_errors(tmp_path, capsys, argv_tail, message):
    from torch_optspec.__main__ import main as cli_main

    src = tmp_path / "report.pt"
    torch.jit.save(script(ExampleModule(1024, 16)), str(src))
    assert cli_main(["specialize", str(src), str(tmp_path / "out.pt")] + argv_tail) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m torch_optspec specialize: error:") and message in err, err
    assert not (tmp_path / "out.pt").exists()


def test_cli_specialize_refuses_to_overwrite_its_input(tmp_path, capsys):
    from torch_optspec.__main__ import main as cli_main

    src = tmp_path / "report.pt"
    torch.jit.save(script(ExampleModule(1024, 16)), str(src))
    assert cli_main(["specialize", str(src), str(src), "2x3x4x4"]) == 2
    assert "OUT.pt is IN.pt" in capsys.readouterr().err
    assert cli_main(["specialize", str(tmp_path / "missing.pt"), str(tmp_path / "o.pt")]) == 2
    assert "no such file" in capsys.readouterr().err


# ------------------------------------- values, other Optionals, properties ---


class Flags(torch.nn.Module):
    """Every kind of argument specialize() fixes."""

    def forward(self, x: torch.Tensor, causal: bool = False, heads: int = 2,
                bias: Optional[torch.Tensor] = None, n: Optional[int] = None,
                name: Optional[str] = None) -> torch.Tensor:
        if causal:
            x = x.tril()
        y = x * heads
        if bias is not None:
            if bias.dim() == 1:
                y = y + bias
            else:
                y = y + bias.sum(0)
        if n is not None:
            y = y + n
        if name is not None:
            y = y * 2.0
        return y


def flags_example():
    torch.manual_seed(0)
    return (torch.randn(3, 3), True, 3, torch.randn(3), None, "a")


# (argument index, another value, the words of the strict error)
FLAG_MISMATCHES = [
    (1, False, "argument 'causal' was specialized for True, but this call passed another value"),
    (2, 4, "argument 'heads' was specialized for 3, but this call passed another value"),
    (3, None, "argument 'bias' was specialized for a Tensor, but this call passed None"),
    (3, torch.randn(2, 3), "argument 'bias' was specialized for a 1-d Tensor, but this call passed "
                           "a Tensor of another rank"),
    (4, 5, "argument 'n' was specialized for None, but this call passed a value"),
    (5, None, "argument 'name' was specialized for a value (not None), but this call passed None"),
]


def test_values_other_optionals_and_rank_are_baked_in():
    m = script(Flags())
    example = flags_example()
    s = torch_optspec.specialize(m, *example, strict=True)
    r = s.optspec_report
    assert r.specialized_arguments() == {"causal": "True", "heads": "3", "bias": "a Tensor (dim 1)",
                                         "n": "None", "name": "not None"}, str(r)
    assert r.residual_checks == 0
    checks = {a.name: a.check for a in r.arguments if a.check}
    assert checks["bias"] == "bias is not None and bias.dim() == 1"
    assert checks["causal"] == "causal == True"
    # The top level is the checks (one prim::If each) and the straight-line body.
    top_ifs = [n for n in s.graph.nodes() if n.kind() == "prim::If"]
    assert len(top_ifs) == 6, s.graph
    assert not any(n.kind() == "prim::If" for i in top_ifs for b in i.blocks() for n in b.nodes())
    assert_no_torch_optspec_op(s)
    with torch.no_grad():
        torch.testing.assert_close(s(*example), Flags()(*example))


@pytest.mark.parametrize("index, other, message", FLAG_MISMATCHES)
def test_values_strict_raises_and_guarded_falls_back(index, other, message):
    m = script(Flags())
    example = flags_example()
    call = list(example)
    call[index] = other
    strict = torch_optspec.specialize(m, *example, strict=True)
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        strict(*call)
    guarded = torch_optspec.specialize(m, *example)
    with torch.no_grad():
        for _ in range(3):
            torch.testing.assert_close(guarded(*call), Flags()(*call))
        torch.testing.assert_close(guarded(*example), Flags()(*example))


def test_values_survive_save_and_load():
    m = script(Flags())
    example = flags_example()
    for strict in (False, True):
        s = torch_optspec.specialize(m, *example, strict=strict)
        buf = io.BytesIO()
        torch.jit.save(s, buf)
        buf.seek(0)
        loaded = torch.jit.load(buf)
        assert_no_torch_optspec_op(loaded)
        with torch.no_grad():
            torch.testing.assert_close(loaded(*example), Flags()(*example))


class DtypeBranch(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():
            return torch.relu(x * 2.0)
        return x + 1


def test_dtype_of_a_plain_tensor():
    m = script(DtypeBranch())
    x = torch.randn(4)
    s = torch_optspec.specialize(m, x, strict=True)
    assert s.optspec_report.specialized_arguments() == {"x": "a Tensor (dtype Float)"}
    kinds = [n.kind() for n in s.graph.nodes()]
    assert kinds.count("prim::If") == 1 and "aten::is_floating_point" not in kinds, s.graph
    with pytest.raises(RuntimeError, match="argument 'x' was specialized for a Tensor of dtype Float, "
                                              "but this call passed another dtype"):
        s(torch.ones(4, dtype=torch.int64))
    guarded = torch_optspec.specialize(m, x)
    ints = torch.ones(4, dtype=torch.int64)
    torch.testing.assert_close(guarded(ints), ints + 1)
    torch.testing.assert_close(guarded(x), torch.relu(x * 2.0))


class DeviceRead(torch.nn.Module):
    def forward(self, x: torch.Tensor, scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = x + torch.ones(3, device=x.device)
        if scale is not None:
            y = y * scale.to(x.device)
        return y


def test_device_check_round_trips():
    m = script(DeviceRead())
    x = torch.randn(3)
    s = torch_optspec.specialize(m, x, strict=True)
    assert s.optspec_report.specialized_arguments() == {"x": "a Tensor (device cpu)", "scale": "None"}
    assert "prim::device" in str(s.graph) and "aten::eq" in str(s.graph)
    buf = io.BytesIO()
    torch.jit.save(s, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    torch.testing.assert_close(loaded(x), x + 1)
    assert_no_torch_optspec_op(loaded)


# ------------------------------------------------------- the graph stage ---

IR = """
graph(%x : Tensor, %mask : Tensor?):
  %none : NoneType = prim::Constant()
  %one : int = prim::Constant[value=1]()
  %c : bool = aten::__isnot__(%mask, %none)
  %y : Tensor = prim::If(%c)
    block0():
      %m : Tensor = prim::unchecked_cast(%mask)
      %s : Tensor = aten::add(%x, %m, %one)
      -> (%s)
    block1():
      -> (%x)
  %r : Tensor = aten::relu(%y)
  return (%r)
"""


def test_graph_stage_guarded_and_strict():
    from torch.testing import FileCheck

    g, outcome, reason = torch_optspec._C._specialize_ahead_with_pattern(
        torch._C.parse_ir(IR), ["", "tensor"], False)
    assert outcome == "specialized", reason
    # The check, then the versioning If: block0 straight-line, block1 the
    # original behind a fork (its subgraph printed after the graph).
    FileCheck().check("aten::__isnot__(%mask").check("prim::If").check("prim::unchecked_cast") \
        .check_not("prim::If").check("aten::add").check("block1").check("prim::fork") \
        .check("aten::wait").check("return").check("aten::__isnot__").check("prim::If") \
        .run(str(g))
    g, outcome, _ = torch_optspec._C._specialize_ahead_with_pattern(
        torch._C.parse_ir(IR), ["", "none"], True)
    assert outcome == "specialized"
    FileCheck().check("aten::__is__(%mask").check("prim::RaiseException").check_not("aten::add") \
        .check_not("prim::If").check("aten::relu(%x)").run(str(g))
    g, outcome, _ = torch_optspec._C._specialize_ahead_with_pattern(
        torch._C.parse_ir(IR), ["", ""], True)
    assert outcome == "nothing_to_do"
    assert "torch_optspec" not in str(g)


def test_freeze_after_specialize():
    torch.manual_seed(0)
    eager = Gated().eval()
    m = script(eager)
    x, b = torch.randn(2, 4), torch.randn(4)
    for strict in (False, True):
        frozen = torch.jit.freeze(torch_optspec.specialize(m, x, b, strict=strict).eval())
        assert not list(frozen.parameters())
        with torch.no_grad():
            for _ in range(3):
                torch.testing.assert_close(frozen(x, b), eager(x, b))
            if not strict:
                torch.testing.assert_close(frozen(x, None, b), eager(x, None, b))


class BridgeTrap(torch.nn.Module):
    """oneDNN Graph's bridge fails on the add/mul of a branch the profiling
    run never took (tools/onednn_bridge_repro.py)."""

    def forward(self, y: torch.Tensor, m: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = y * 0.5
        if m is not None:
            y = y + m * 2.0
        return torch.relu(y)


def test_guarded_artifact_runs_under_onednn_where_stock_fails():
    """Guarded: the original body sits behind prim::fork + aten::wait in the
    else-branch, a function compiled only when a call takes it, so the
    bridge never meets it unprofiled. Run with the pass off, as in a process
    without torch_optspec: stock fails on the first pattern's plan, the
    artifact runs both patterns and equals eager."""
    import torch_optspec.fusers
    eager = BridgeTrap().eval()
    x, m = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    frozen = torch.jit.freeze(torch.jit.script(eager))
    artifact = torch_optspec.specialize(frozen, x, None)
    g = artifact.forward.graph
    assert [n.kind() for n in g.findAllNodes("prim::fork")] == ["prim::fork"], g
    assert "torch_optspec" not in str(g)
    stock = torch.jit.freeze(torch.jit.script(BridgeTrap().eval()))
    with torch_optspec.fusers.onednn(), torch.no_grad(), torch_optspec.enabled(False):
        with pytest.raises(RuntimeError, match="bad optional access"):
            for _ in range(4):
                stock(x, None)
        for args in [(x, None)] * 4 + [(x, m)] * 4 + [(x, None)] * 2:
            torch.testing.assert_close(artifact(*args), eager(*args))
