"""torch_optspec/_C.pyi names exactly what the extension defines, and the
package is marked typed (py.typed)."""
import ast
import os

import torch_optspec
from torch_optspec import _C

PACKAGE = os.path.dirname(torch_optspec.__file__)


def stub_names():
    with open(os.path.join(PACKAGE, "_C.pyi")) as f:
        tree = ast.parse(f.read())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    names |= {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    return names


def test_stub_matches_the_extension():
    defined = {n for n in dir(_C) if not n.startswith("__")}
    stub = stub_names()
    assert stub - defined == set(), "in _C.pyi but not in the extension"
    assert defined - stub == set(), "in the extension but not in _C.pyi (csrc/python/bindings.cpp)"


def test_stub_parameters_match_the_docstrings():
    """pybind11's signature line has the same number of parameters."""
    with open(os.path.join(PACKAGE, "_C.pyi")) as f:
        tree = ast.parse(f.read())
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        signature = getattr(_C, fn.name).__doc__.splitlines()[0]
        params = signature[signature.index("(") + 1:signature.index(")")]
        count = 0 if not params.strip() else params.count(":")
        assert count == len(fn.args.args), (fn.name, signature)


def test_py_typed_marker():
    assert os.path.isfile(os.path.join(PACKAGE, "py.typed"))
