"""The Python API refuses bad arguments instead of guessing from truthiness."""
import pytest
import torch

import torch_optspec


@pytest.mark.parametrize("bad", ["no", "yes", "", 0, 1, None, 1.0, torch.tensor(True)])
def test_enabled_accepts_bools_only(bad):
    with pytest.raises(TypeError, match="must be bool"):
        torch_optspec.enabled(bad)
    # Refused at the call, before any `with`: the state is untouched.
    assert torch_optspec.is_enabled() is False


def test_enabled_string_no_does_not_enable():
    # Before: enabled("no") entered a block with the pass ON (truthiness).
    with pytest.raises(TypeError):
        with torch_optspec.enabled("no"):
            pass  # pragma: no cover
    assert torch_optspec.is_enabled() is False


def test_enabled_bools_still_work_and_nest():
    with torch_optspec.enabled():
        assert torch_optspec.is_enabled()
        with torch_optspec.enabled(False):
            assert not torch_optspec.is_enabled()
        assert torch_optspec.is_enabled()
    assert not torch_optspec.is_enabled()


def test_enabled_as_decorator():
    @torch_optspec.enabled(True)
    def inside():
        return torch_optspec.is_enabled()

    assert inside() is True
    assert torch_optspec.is_enabled() is False


def test_same_rule_as_torch_set_grad_enabled():
    with pytest.raises(TypeError):
        torch.set_grad_enabled("no")
    with pytest.raises(TypeError):
        torch_optspec.enabled("no")


@pytest.mark.parametrize("bad", ["fast", "", None, 1, "INLINE"])
def test_set_fast_path_rejects_unknown_modes(bad):
    with pytest.raises(ValueError, match="must be one of"):
        torch_optspec.set_fast_path(bad)
    assert torch_optspec.get_fast_path() == "auto"
