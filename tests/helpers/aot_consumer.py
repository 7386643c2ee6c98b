"""A process that cannot import torch_optspec loads the models that
torch_optspec.specialize() wrote and runs them (tests/test_specialize.py runs
this file and reads the JSON it prints on its last line).

    python tests/helpers/aot_consumer.py DIR

DIR holds the saved models and data.pt (inputs, eager outputs and
gradients, written by torch.save). Plain torch only: importing torch_optspec
raises ImportError here (a sys.meta_path blocker), and the script checks that
libtorch_optspec is not mapped into the process at the end.
"""
import json
import os
import sys


class _BlockTorchOptspec:
    def find_spec(self, name, path=None, target=None):
        if name == "torch_optspec" or name.startswith("torch_optspec."):
            raise ImportError(f"{name} is blocked in this process")
        return None


sys.meta_path.insert(0, _BlockTorchOptspec())

import torch  # noqa: E402

FUSION = ("prim::TensorExprGroup", "prim::oneDNNFusionGroup", "prim::DifferentiableGraph")


def groups(graph, kind):
    """The aten ops of each `kind` node in `graph` (nested blocks and the
    subgraphs of other groups included), sorted, one list per group."""
    found = []

    def walk(block):
        for n in block.nodes():
            if n.kind() == kind:
                found.append(sorted(m.kind() for m in n.g("Subgraph").nodes()
                                    if m.kind().startswith("aten::")
                                    and m.kind() not in ("aten::size", "aten::_size_if_not_equal")))
            for b in n.blocks():
                walk(b)
            if n.kind() in FUSION and n.kind() != kind:
                walk(n.g("Subgraph"))

    walk(graph)
    return found


def foreign_nodes(graph):
    """Node kinds of the torch_optspec namespace anywhere in `graph`."""
    out = []

    def walk(block):
        for n in block.nodes():
            if n.kind().startswith("torch_optspec::"):
                out.append(n.kind())
            for b in n.blocks():
                walk(b)
            if n.hasAttribute("Subgraph"):
                walk(n.g("Subgraph"))

    walk(graph)
    return out


def close(a, b):
    return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6))


def nnc_on():
    torch._C._jit_override_can_fuse_on_cpu(True)
    torch._C._jit_set_te_must_use_llvm_cpu(False)
    torch._C._jit_set_texpr_reductions_enabled(True)
    torch._C._jit_set_texpr_fuser_enabled(True)


def main(directory):
    out = {}
    try:
        import torch_optspec  # noqa: F401
        out["import_blocked"] = False
    except ImportError:
        out["import_blocked"] = True
    data = torch.load(os.path.join(directory, "data.pt"))
    x, mask = data["x"], data["mask"]

    def load(name):
        return torch.jit.load(os.path.join(directory, name + ".pt"))

    def run(name, *args, calls=3):
        m = load(name)
        with torch.no_grad():
            for _ in range(calls):
                y = m(*args)
        g = torch.jit.last_executed_optimized_graph()
        return m, y, g

    # ---- NNC on CPU, no grad -------------------------------------------------
    nnc_on()
    for name, args, ref in (("guarded_tensor", (x, mask), "with_mask"),
                            ("strict_tensor", (x, mask), "with_mask"),
                            ("twin", (x, mask), "with_mask"),
                            ("stock", (x, mask), "with_mask"),
                            ("guarded_none", (x, None), "without_mask"),
                            ("strict_none", (x, None), "without_mask")):
        m, y, g = run(name, *args)
        out[name] = {
            "groups": groups(g, "prim::TensorExprGroup"),
            "matches_eager": close(y, data[ref]),
            "foreign_nodes": foreign_nodes(m.graph) + foreign_nodes(g),
        }
    # The other pattern: guarded runs the original body, strict raises.
    for name, args, ref in (("guarded_tensor", (x, None), "without_mask"),
                            ("guarded_none", (x, mask), "with_mask")):
        _, y, _ = run(name, *args)
        out[name]["other_pattern_matches_eager"] = close(y, data[ref])
    for name, args in (("strict_tensor", (x, None)), ("strict_none", (x, mask))):
        # caught broadly: the test checks that the type is RuntimeError (not
        # torch.jit.Error, what a scripted `raise RuntimeError(...)` raises)
        try:
            run(name, *args, calls=1)
            out[name]["other_pattern_error"] = None
        except Exception as e:
            out[name]["other_pattern_error"] = str(e)
            out[name]["other_pattern_error_type"] = type(e).__module__ + "." + type(e).__name__

    # ---- the autodiff path: grad enabled, inputs requiring grad ----------------
    for name in ("guarded_tensor", "strict_tensor", "twin", "stock"):
        m = load(name)
        for _ in range(3):
            xr = x.clone().requires_grad_()
            mr = mask.clone().requires_grad_()
            y = m(xr, mr)
            g = torch.jit.last_executed_optimized_graph()  # the forward's, before backward()
            (y * data["grad_weights"]).sum().backward()
        out[name]["autodiff_groups"] = groups(g, "prim::DifferentiableGraph")
        out[name]["autodiff_matches_eager"] = (
            close(y.detach(), data["with_mask"]) and close(xr.grad, data["grad_x"])
            and close(mr.grad, data["grad_mask"]))

    # ---- oneDNN Graph, frozen ---------------------------------------------------
    torch._C._jit_override_can_fuse_on_cpu(False)
    torch.jit.enable_onednn_fusion(True)
    attn = (data["attn_q"], data["attn_k"], data["attn_v"], data["attn_mask"])
    for name, args, ref in (("frozen_strict_tensor", (x, mask), "with_mask"),
                            ("frozen_twin", (x, mask), "with_mask"),
                            ("frozen_stock", (x, mask), "with_mask"),
                            ("attn_frozen_strict", attn, "attn_out"),
                            ("attn_frozen_twin", attn, "attn_out"),
                            ("attn_frozen_stock", attn, "attn_out")):
        m, y, g = run(name, *args, calls=4)
        out[name] = {"groups": groups(g, "prim::oneDNNFusionGroup"),
                     "matches_eager": close(y, data[ref]),
                     "foreign_nodes": foreign_nodes(m.graph) + foreign_nodes(g)}
    torch.jit.enable_onednn_fusion(False)

    with open("/proc/self/maps") as f:
        out["library_mapped"] = "libtorch_optspec" in f.read()
    out["modules"] = sorted(n for n in sys.modules if n.startswith("torch_optspec"))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
