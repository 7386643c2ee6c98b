"""Command line:

    python -m torch_optspec explain MODEL.pt [INPUT ...]
    python -m torch_optspec specialize IN.pt OUT.pt [INPUT ...] [--strict] [--freeze]

Run `python -m torch_optspec COMMAND --help` for the options and examples.

The pieces other subcommands reuse:

    parse_input(spec, device)          one INPUT spec -> a tensor or None
    parse_inputs(specs, device)        INPUT specs -> (positional list, keyword dict)
    add_model_arguments(parser)        MODEL, INPUT..., --device, --traceback
    select_device(name)                "cpu" / "cuda" -> torch.device, or UsageError
    load_model(path, device)           a TorchScript file -> ScriptModule, or ModelFileError
    check_call(model, args, kwargs)    the inputs against forward()'s schema, or UsageError

Exit status: 0 success; 1 the model failed at run time; 2 a usage error (bad
option, bad INPUT spec, inputs that do not match forward(), device not
available) or a file that is not a TorchScript model. Errors are one line on
stderr; --traceback shows the full Python traceback instead.
"""
import argparse
import contextlib
import os
import sys
import textwrap
import traceback
import warnings
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import torch

PROG = "python -m torch_optspec"
COMMANDS = ("explain", "specialize")  # the subcommands build_parser() adds
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

INPUT_SPEC_HELP = """\
INPUT specs, one per argument of forward() after self:
  2x128:int64      a tensor of that shape and dtype (dtype defaults to float32)
  768              a 1-d tensor of 768 float32 values
  scalar:float32   a 0-d tensor
  None             an absent Optional argument
  name=SPEC        a keyword argument, e.g. attention_mask=1x128:int64 or mask=None
Integer tensors are filled with ones (valid token ids, all-attend masks), bool
tensors with False, floating tensors with random normals."""

EXPLAIN_EXAMPLES = """\
examples:
  python -m torch_optspec explain model.pt 2x3x4x4 None
      the report's module without a mask: what the pass specializes
  python -m torch_optspec explain bert.pt 1x128:int64 attention_mask=1x128:int64
      a keyword argument given by name
  python -m torch_optspec explain model.pt 2x3x4x4 2x1x1x4 --disable --graph
      the plans with the pass off, with the optimized graphs
  python -m torch_optspec explain frozen.pt 8x512x768 None --onednn
      with the oneDNN Graph fuser (a frozen model)
  python -m torch_optspec explain model.pt 2x3x4x4 None --device cuda

exit status: 0 success, 1 the model failed at run time, 2 usage error or a
file that is not a TorchScript model (errors are one line; --traceback shows
the full traceback)."""
SPECIALIZE_EXAMPLES = """\
examples:
  python -m torch_optspec specialize model.pt model_mask.pt 2x3x4x4 2x1x1x4
      specialized for a mask given; other calls run the original code
  python -m torch_optspec specialize bert.pt bert_nomask.pt 1x128:int64 attention_mask=None --strict
      specialized for no mask; a call with a mask raises
  python -m torch_optspec specialize bert.pt bert_onednn.pt 1x128:int64 attention_mask=1x128:int64 \\
      --freeze --strict
      frozen first (what oneDNN Graph fuses), then specialized at the top level

Only whether each Optional argument is None is taken from the INPUTs (their
shapes and values are not baked in). The model is put in eval mode first (as
explain does). OUT.pt runs with plain torch / LibTorch: torch.jit.load it,
torch_optspec is not needed.

exit status: 0 success, 1 the specialization failed, 2 usage error or a file
that is not a TorchScript model."""


class UsageError(Exception):
    """A bad command line, input spec or device: exit status 2."""


class InputSpecError(UsageError, ValueError):
    """An INPUT spec that does not parse (also a ValueError)."""


class ModelFileError(UsageError):
    """A model file that is missing or is not a TorchScript model: exit status 2."""


class _CommandLineError(UsageError):
    """What argparse rejects (main() adds a pointer to --help)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `PROG CMD: error: MESSAGE (see ... --help)`."""

    def error(self, message):
        raise _CommandLineError(message)


# ------------------------------------------------------------ input specs ---


def _spec_error(spec: str, why: str) -> InputSpecError:
    return InputSpecError(f"bad INPUT {spec!r}: {why} (expected e.g. 2x128:int64, scalar:float32, "
                          "None or name=SPEC)")


def parse_input(spec: str, device="cpu") -> Optional[torch.Tensor]:
    """'2x128:int64' -> a tensor on `device`; 'None' -> None. InputSpecError
    (a ValueError) when the spec does not parse."""
    if spec == "None":
        return None
    shape_part, _, dtype_name = spec.partition(":")
    dtype = getattr(torch, dtype_name or "float32", None)
    if not isinstance(dtype, torch.dtype):
        raise _spec_error(spec, f"unknown dtype {dtype_name!r}")
    if shape_part in ("scalar", ""):
        shape: Tuple[int, ...] = ()
    else:
        dims = shape_part.split("x")
        if not all(d.isdigit() for d in dims):
            bad = next(d for d in dims if not d.isdigit())
            raise _spec_error(spec, f"dimension {bad!r} is not a non-negative integer")
        shape = tuple(int(d) for d in dims)
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, dtype=dtype, device=device)
    if dtype == torch.bool:
        return torch.zeros(shape, dtype=dtype, device=device)
    return torch.ones(shape, dtype=dtype, device=device)


def parse_inputs(specs: Sequence[str], device="cpu") -> Tuple[List[Optional[torch.Tensor]],
                                                               Dict[str, Optional[torch.Tensor]]]:
    """INPUT specs -> (positional values, keyword values), tensors on `device`."""
    positional: List[Optional[torch.Tensor]] = []
    keywords: Dict[str, Optional[torch.Tensor]] = {}
    for spec in specs:
        if "=" in spec:
            name, _, value = spec.partition("=")
            if not name.isidentifier():
                raise _spec_error(spec, f"{name!r} is not an argument name")
            if name in keywords:
                raise _spec_error(spec, f"keyword {name!r} given twice")
            keywords[name] = parse_input(value, device)
        else:
            positional.append(parse_input(spec, device))
    return positional, keywords


def add_model_arguments(parser: argparse.ArgumentParser, model_metavar: str = "MODEL.pt",
                        output: bool = False, inputs_are: str = "the inputs") -> None:
    """MODEL (and OUT with `output`), INPUT..., --device and --traceback, as
    `explain` and `specialize` have them."""
    parser.add_argument("model", metavar=model_metavar,
                        help="a TorchScript file (written by torch.jit.save or ScriptModule.save)")
    if output:
        parser.add_argument("output", metavar="OUT.pt", help="where to write the specialized model")
    parser.add_argument("inputs", metavar="INPUT", nargs="*", default=[],
                        help="one per argument of forward(): SHAPE[:DTYPE], scalar[:DTYPE], None "
                             "or name=SPEC (see below)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help=f"where the model and {inputs_are} go (default: cpu)")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show the full Python traceback instead of one line")


def select_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        built = "built without CUDA" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise UsageError(f"--device cuda: no CUDA device available (torch {torch.__version__}, "
                         f"{built})")
    return torch.device(name)


# ----------------------------------------------------------- model files ---


def _zip_names(path: str) -> Optional[List[str]]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _describe_torch_save(path: str) -> str:
    """'a state dict' / 'a pickled X' for a file written by torch.save."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return "a pickled Python object (likely a whole nn.Module)"
    if isinstance(obj, dict):
        n = sum(isinstance(v, torch.Tensor) for v in obj.values())
        return f"a state dict ({n} tensors)" if n else "a dict"
    return f"a pickled {type(obj).__name__}"


_TO_TORCHSCRIPT = ("torch_optspec works on TorchScript: torch.jit.save(torch.jit.script(model), "
                   "PATH)")


def load_model(path: str, device="cpu") -> torch.jit.ScriptModule:
    """A TorchScript file -> ScriptModule (in eval mode, on `device`).
    ModelFileError with a one-line message naming the problem otherwise."""
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a directory, not a TorchScript file")
    if not os.access(path, os.R_OK):
        raise ModelFileError(f"{path}: permission denied")
    names = _zip_names(path)
    if names is None:
        with open(path, "rb") as f:
            head = f.read(2)
        if not head:
            raise ModelFileError(f"{path} is empty, not a TorchScript file")
        if head[:1] == b"\x80":  # a pickle: torch.save(..., _use_new_zipfile_serialization=False)
            raise ModelFileError(f"{path} was written by torch.save (legacy pickle format), not "
                                 f"torch.jit.save; {_TO_TORCHSCRIPT}")
        raise ModelFileError(f"{path} is not a TorchScript file: not a zip archive "
                             "(truncated or corrupt?)")
    base = {n.split("/", 1)[1] for n in names if "/" in n}
    if "archive_format" in base or "models/model.json" in base or \
            any(n.startswith("models/") and n.endswith(".json") for n in base):
        raise ModelFileError(f"{path} is a torch.export archive (.pt2, ExportedProgram), not "
                             f"TorchScript; {_TO_TORCHSCRIPT}")
    if "data.pkl" in base and "constants.pkl" not in base and \
            not any(n.startswith("code/") for n in base):
        raise ModelFileError(f"{path} was written by torch.save ({_describe_torch_save(path)}), not "
                             f"torch.jit.save; {_TO_TORCHSCRIPT}")
    try:
        model = torch.jit.load(path, map_location=device)
    except (RuntimeError, ValueError) as e:
        raise ModelFileError(f"{path}: cannot load as TorchScript: {_first_line(str(e))}") from e
    model.eval()
    return model


def check_call(model, args: Sequence, kwargs: Dict) -> None:
    """UsageError when `args`/`kwargs` cannot bind to model.forward()."""
    try:
        schema = model.forward.schema
    except (AttributeError, RuntimeError):
        return
    params = list(schema.arguments)[1:]  # self
    signature = "forward(" + ", ".join(
        f"{p.name}: {p.type}" + ("=..." if p.has_default_value() else "") for p in params) + ")"
    positional = [p for p in params if not p.kwarg_only]
    if len(args) > len(positional):
        raise UsageError(f"{len(args)} positional INPUTs for {signature}, which takes at most "
                         f"{len(positional)}")
    names = {p.name for p in params}
    for name in kwargs:
        if name not in names:
            raise UsageError(f"INPUT {name}=...: {signature} has no argument {name!r}")
    bound = {p.name for p in positional[:len(args)]}
    for name in kwargs:
        if name in bound:
            raise UsageError(f"INPUT {name}=...: {name!r} is already given by position in {signature}")
    missing = [p.name for p in params
               if p.name not in bound and p.name not in kwargs and not p.has_default_value()]
    if missing:
        raise UsageError(f"missing INPUT for {', '.join(missing)} of {signature}")


# ----------------------------------------------------------------- errors ---


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def _one_line(exc: BaseException) -> str:
    """A one-line description of a run-time failure. For errors raised inside
    the TorchScript interpreter that is the last line (the original error)."""
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if "TorchScript interpreter" in lines[0] or lines[0].startswith("Traceback of TorchScript"):
        return lines[-1]
    return f"{type(exc).__name__}: {lines[0]}"


# ---------------------------------------------------------------- explain ---


def _run_explain(model, args, kwargs, calls: int, enabled: bool):
    from ._explain import explain

    return explain(model, *args, example_kwargs=kwargs, calls=calls, enabled=enabled)


def _positive_calls(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if n < 2:
        raise argparse.ArgumentTypeError("must be >= 2 (one profiling run, then the optimized plan)")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="torch_optspec: specialize TorchScript models for the "
                     "arguments fixed for a deployment (which Optional arguments are None, "
                     "bool/int values, the dtype/rank/device of tensors).",
                     epilog="run `python -m torch_optspec COMMAND --help` for a command's options")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    ex = sub.add_parser(
        "explain", help="report what the pass specializes in a saved TorchScript model, and why not",
        description=textwrap.fill(
            "Load a TorchScript model, run fresh copies of it on example inputs with the pass off "
            "and on, and report what was specialized (per argument), the guard, the "
            "prim::If and None checks left, and the fusion groups; when nothing was specialized, "
            "why.", 79),
        epilog=INPUT_SPEC_HELP + "\n\n" + EXPLAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(ex)
    ex.add_argument("--disable", action="store_true",
                    help="show the plans with the pass off (default: on)")
    ex.add_argument("--grad", action="store_true",
                    help="keep grad mode on, to see the autodiff path (default: torch.no_grad())")
    ex.add_argument("--onednn", action="store_true",
                    help="torch.jit.enable_onednn_fusion(True) before compiling (oneDNN Graph "
                         "fuses frozen models on CPU)")
    ex.add_argument("--calls", type=_positive_calls, default=8, metavar="N",
                    help="calls before reading the optimized plan, >= 2 (default: 8, as "
                         "explain(): profiling, optimization, three calls a value site learns "
                         "bool/int values on, its fallback's profiling and plan, and an "
                         "outlined fast path's own)")
    ex.add_argument("--graph", action="store_true",
                    help="also print the optimized graphs before and after")
    ex.set_defaults(func=_explain)

    sp = sub.add_parser(
        "specialize", help="write a copy of a TorchScript model specialized for example inputs, "
                           "which runs specialized without torch_optspec",
        description=textwrap.fill(
            "Load a TorchScript model, specialize its forward() ahead of time for the example "
            "INPUTs (which are None, bool/int values, the dtype/rank/device of tensors it reads; "
            "torch_optspec.specialize), save the result to OUT.pt and print "
            "what was baked in. The saved model uses stock TorchScript operations only.", 79),
        epilog=INPUT_SPEC_HELP + "\n\n" + SPECIALIZE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(sp, "IN.pt", output=True, inputs_are="the example inputs")
    sp.add_argument("--strict", action="store_true",
                    help="a call that does not match raises instead of running the original code; "
                         "the specialized code is the top-level graph (oneDNN Graph needs that)")
    sp.add_argument("--freeze", action="store_true",
                    help="torch.jit.freeze the model first (parameters become constants: what "
                         "oneDNN Graph fuses; the result cannot be trained)")
    sp.set_defaults(func=_specialize)
    return parser


def _explain(args) -> int:
    device = select_device(args.device)
    positional, keywords = parse_inputs(args.inputs, device)
    if args.onednn:
        torch.jit.enable_onednn_fusion(True)
    model = load_model(args.model, device)
    check_call(model, positional, keywords)
    grad = contextlib.nullcontext() if args.grad else torch.no_grad()
    with grad:
        report = _run_explain(model, positional, keywords, args.calls, not args.disable)
    print(report)
    if args.graph:
        print("\n--- optimized graph before ---\n" + report.graph_before)
        print("--- optimized graph after ---\n" + report.graph_after)
    return EXIT_OK


def _specialize(args) -> int:
    from ._specialize import specialize

    device = select_device(args.device)
    positional, keywords = parse_inputs(args.inputs, device)
    if os.path.abspath(args.output) == os.path.abspath(args.model):
        raise UsageError(f"OUT.pt is IN.pt ({args.model}): write the specialized model elsewhere")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UsageError(f"{args.output}: directory {out_dir} does not exist")
    model = load_model(args.model, device)
    check_call(model, positional, keywords)
    if args.freeze:
        model = torch.jit.freeze(model)
    specialized = specialize(model, *positional, strict=args.strict, **keywords)
    report = specialized.optspec_report
    torch.jit.save(specialized, args.output)
    print(f"{args.model}: " + str(report).rstrip())
    if report.specialized:
        print(f"wrote {args.output}" + (" (frozen)" if args.freeze else "")
              + ": runs specialized with plain torch (torch.jit.load) or LibTorch (torch::jit::load)")
    else:
        print(f"wrote {args.output}: an unchanged copy")
    return EXIT_OK


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    show_traceback = "--traceback" in argv
    command = next((a for a in argv if not a.startswith("-")), None)
    where = f"{PROG} {command}" if command in COMMANDS else PROG
    try:
        with warnings.catch_warnings():
            # The CLI is a TorchScript tool: torch's deprecation notices for
            # torch.jit.load/save/script are not news to its user.
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
            args = build_parser().parse_args(argv)
            return args.func(args)
    except UsageError as e:
        if show_traceback:
            traceback.print_exc()
        hint = f" (see {where} --help)" if isinstance(e, _CommandLineError) else ""
        print(f"{where}: error: {e}{hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a real failure: the model or the pass
        if show_traceback:
            traceback.print_exc()
        else:
            print(f"{where}: error: {_one_line(e)} (--traceback shows the full traceback)",
                  file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
