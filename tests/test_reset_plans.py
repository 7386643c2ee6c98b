"""reset_plans(): safe while other threads call the model, and it drops the
plans of every autocast state."""
import os
import subprocess
import sys
from typing import Optional

import torch

import torch_optspec
from torch_optspec import census


def test_reset_while_other_threads_call_never_crashes():
    """reset_plans retires the old executors instead of freeing them: calls in
    flight finish on them. (Flushing in place crashed this 3 runs of 3.)"""
    script = os.path.join(os.path.dirname(__file__), "helpers", "reset_plans_race.py")
    for _ in range(2):
        proc = subprocess.run([sys.executable, script, "2.5"], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"


class Masked(torch.nn.Module):
    def forward(self, x: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:
        y = torch.tanh(x)
        if m is not None:
            y = y * m
        return y


def test_reset_drops_plans_of_every_autocast_state():
    """GraphFunction keeps one executor per autocast state; a plan compiled
    inside torch.autocast("cpu") is dropped by reset_plans called outside."""
    model = torch.jit.script(Masked())
    torch_optspec.reset_plans(model)
    x, m = torch.randn(2, 3), torch.rand(2, 3)

    def autocast_plan():
        with torch.no_grad(), torch.autocast("cpu"):
            for _ in range(3):
                model(x, m)
        return torch.jit.last_executed_optimized_graph()

    assert not census.guard_nodes(autocast_plan())  # compiled with the pass off
    torch_optspec.enable()
    assert not census.guard_nodes(autocast_plan())  # plans persist
    assert torch_optspec.reset_plans(model) == 1     # outside autocast
    assert census.guard_nodes(autocast_plan())       # recompiled: specialized
