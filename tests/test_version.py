"""One version and one torch rule: version.txt is the version of the
extension and of the package; the compiled extension loads only with the
torch major.minor it was built against (the import-time check), and it
reports that torch."""
import os
import sys
import types

import pytest
import torch

import torch_optspec


def test_torch_rule_is_major_minor(monkeypatch):
    from torch_optspec import _loader

    major, minor = (int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    other = f"{major}.{minor + 1}"
    for built, ok in ((f"{major}.{minor}.7", True), (f"{other}.0", False)):
        fake = types.ModuleType("torch_optspec._build_info")
        fake.TORCH_VERSION, fake.VERSION = built, torch_optspec._C.version()
        monkeypatch.setitem(sys.modules, "torch_optspec._build_info", fake)
        monkeypatch.setattr(torch_optspec, "_build_info", fake, raising=False)
        if ok:
            assert _loader.load_extension() is torch_optspec._C
        else:
            with pytest.raises(torch_optspec.ExtensionMismatchError) as info:
                _loader.load_extension()
            # the message names both versions
            assert f"compiled against torch {other}.0 but torch {torch.__version__}" in str(info.value)
            assert f"runs with torch {other}.x only" in str(info.value)


def test_one_version_everywhere():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    version = open(os.path.join(root, "version.txt")).read().strip()
    assert torch_optspec._C.version() == version
    assert torch_optspec.__version__.startswith(version + "+pt")


def test_import_rejects_extension_built_for_another_torch(monkeypatch):
    from torch_optspec import _loader

    fake = types.ModuleType("torch_optspec._build_info")
    fake.TORCH_VERSION = "2.99.0"
    monkeypatch.setitem(__import__("sys").modules, "torch_optspec._build_info", fake)
    monkeypatch.setattr(torch_optspec, "_build_info", fake, raising=False)
    with pytest.raises(_loader.ExtensionMismatchError, match="compiled against torch 2.99.0"):
        _loader.load_extension()


def test_extension_reports_the_torch_it_was_built_with():
    assert torch_optspec._C.built_with_torch() == torch.__version__.split("+")[0]
