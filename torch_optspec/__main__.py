"""Command line: python -m torch_optspec explain MODEL.pt [INPUT ...]

Each INPUT describes one positional argument of forward():
    2x128:int64      a tensor of that shape and dtype (dtype defaults to float32)
    768              a 1-d tensor
    scalar:float32   a 0-d tensor
    None             an absent optional argument
    name=SPEC        a keyword argument (e.g. attention_mask=1x128:int64)
Integer tensors are filled with ones (valid token ids, all-attend masks),
floating tensors with random normals.

Options:
    --disable        show the plans with the pass off (default: on)
    --grad           keep grad mode on (default: torch.no_grad())
    --onednn         torch.jit.enable_onednn_fusion(True) before compiling
    --calls N        calls before reading the optimized plan (default 4)
    --graph          also print the optimized graphs before and after
"""
import argparse
import contextlib
import sys

import torch


def parse_input(spec: str):
    """'2x128:int64' -> tensor; 'None' -> None."""
    if spec == "None":
        return None
    shape_part, _, dtype_name = spec.partition(":")
    dtype = getattr(torch, dtype_name or "float32", None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {dtype_name!r} in {spec!r}")
    shape = () if shape_part in ("scalar", "") else tuple(int(d) for d in shape_part.split("x"))
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    if dtype == torch.bool:
        return torch.zeros(shape, dtype=dtype)
    return torch.ones(shape, dtype=dtype)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torch_optspec")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("explain", help="explain the specialization of a saved TorchScript model")
    ex.add_argument("model", help="a file written by torch.jit.save")
    ex.add_argument("inputs", nargs="*", help="SHAPE[:DTYPE], scalar[:DTYPE], None, or name=SPEC")
    ex.add_argument("--disable", action="store_true")
    ex.add_argument("--grad", action="store_true")
    ex.add_argument("--onednn", action="store_true")
    ex.add_argument("--calls", type=int, default=4)
    ex.add_argument("--graph", action="store_true")
    args = parser.parse_args(argv)

    from . import explain  # noqa: F401  (loads the extension)
    from .explain import explain as run_explain

    if args.onednn:
        torch.jit.enable_onednn_fusion(True)
    model = torch.jit.load(args.model)
    model.eval()
    positional, keywords = [], {}
    for spec in args.inputs:
        if "=" in spec:
            name, _, value = spec.partition("=")
            keywords[name] = parse_input(value)
        else:
            positional.append(parse_input(spec))
    grad = contextlib.nullcontext() if args.grad else torch.no_grad()
    with grad:
        report = run_explain(model, *positional, enabled=not args.disable,
                             calls=args.calls, **keywords)
    print(report)
    if args.graph:
        print("\n--- optimized graph before ---\n" + report.graph_before)
        print("--- optimized graph after ---\n" + report.graph_after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
