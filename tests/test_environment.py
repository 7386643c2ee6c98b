"""The settings read from the environment when the library loads (csrc/env.cpp):
TORCH_OPTSPEC_ENABLE parsed with c10's rules for boolean flags, the fast-path
mode, value learning, the summary at exit and the oneDNN bridge work limit;
invalid values are ignored with a warning. Each setting runs in a fresh
process."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("value,expected,warns", [
    ("1", True, False), ("true", True, False), ("ON", True, False), ("yes", True, False),
    ("0", False, False), ("off", False, False), ("no", False, False),
    ("2", False, True), ("maybe", False, True),
])
def test_environment_switch_values(value, expected, warns):
    env = dict(os.environ, TORCH_OPTSPEC_ENABLE=value)
    proc = subprocess.run(
        [sys.executable, "-c", "import torch_optspec; print(torch_optspec.is_enabled())"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(expected)
    assert ("Ignoring invalid value for boolean flag TORCH_OPTSPEC_ENABLE" in proc.stderr) == warns
    assert ("enabled by TORCH_OPTSPEC_ENABLE" in proc.stderr) == expected


SETTINGS = ("import torch_optspec; print(torch_optspec.get_fast_path(), "
            "torch_optspec.get_value_learning(), torch_optspec._C._summary_at_exit(), "
            "torch_optspec._C._bridge_work_limit())")


def settings(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_OPTSPEC_")}
    p = subprocess.run([sys.executable, "-c", SETTINGS], capture_output=True, text=True,
                       timeout=300, env={**base, "PYTHONPATH": ROOT, **env})
    assert p.returncode == 0, p.stderr
    return p.stdout.split(), p.stderr


@pytest.mark.parametrize("env,expected,warning", [
    ({}, ["auto", "True", "False", "100000"], None),
    ({"TORCH_OPTSPEC_FAST_PATH": "Outline"}, ["outline", "True", "False", "100000"], None),
    ({"TORCH_OPTSPEC_FAST_PATH": "inline"}, ["inline", "True", "False", "100000"], None),
    ({"TORCH_OPTSPEC_FAST_PATH": "sideways"}, ["auto", "True", "False", "100000"],
     "ignoring TORCH_OPTSPEC_FAST_PATH=sideways"),
    ({"TORCH_OPTSPEC_VALUES": "off"}, ["auto", "False", "False", "100000"], None),
    ({"TORCH_OPTSPEC_VALUES": "0"}, ["auto", "False", "False", "100000"], None),
    ({"TORCH_OPTSPEC_VALUES": "maybe"}, ["auto", "True", "False", "100000"],
     "Ignoring invalid value for boolean flag TORCH_OPTSPEC_VALUES"),
    ({"TORCH_OPTSPEC_SUMMARY": "1"}, ["auto", "True", "True", "100000"], None),
    ({"TORCH_OPTSPEC_ENABLE": "1"}, ["auto", "True", "True", "100000"], None),
    ({"TORCH_OPTSPEC_ENABLE": "1", "TORCH_OPTSPEC_SUMMARY": "no"}, ["auto", "True", "False", "100000"], None),
    ({"TORCH_OPTSPEC_BRIDGE_WORK_LIMIT": "0"}, ["auto", "True", "False", "0"], None),
    ({"TORCH_OPTSPEC_BRIDGE_WORK_LIMIT": "2500"}, ["auto", "True", "False", "2500"], None),
    ({"TORCH_OPTSPEC_BRIDGE_WORK_LIMIT": "-1"}, ["auto", "True", "False", "100000"],
     "ignoring TORCH_OPTSPEC_BRIDGE_WORK_LIMIT=-1"),
])
def test_environment_settings(env, expected, warning):
    got, stderr = settings(**env)
    assert got == expected, stderr
    if warning:
        assert warning in stderr, stderr
    else:
        assert "Ignoring" not in stderr and "ignoring" not in stderr, stderr
