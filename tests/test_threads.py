"""Threads (docs/reliability.md): calls from many threads while the pass is
switched on and off and fresh copies are swapped in. No crash, every result
equal to eager.

No NNC here: its interpreted CPU fuser is not thread-safe in stock torch
(tools/nnc_thread_race.py).
"""
import itertools
import random
import threading
import time

import torch

import torch_optspec
from helpers.programs import fresh_copy, import_source, optional_args


THREADED = """
class Threaded(torch.nn.Module):
    def forward(self, x: torch.Tensor, a: Optional[torch.Tensor], b: Optional[torch.Tensor],
                c: Optional[torch.Tensor]) -> torch.Tensor:
        y = x + 1.0
        if a is not None:
            y = y * a
        y = torch.nn.functional.layer_norm(y, [4], b, c)
        if c is None:
            return y - 2.0
        return y + c
"""


def test_threads_with_toggling(tmp_path):
    """8 threads call scripted modules with random None-patterns while another
    thread toggles enable()/disable() and swaps in freshly loaded copies (so
    compilation keeps happening under the races). No crash, every result equal
    to eager."""
    mod = import_source(tmp_path, THREADED)
    eager = mod.Threaded()
    base = torch.jit.script(mod.Threaded())
    current = [fresh_copy(base)]
    patterns = list(itertools.product([0, 1], repeat=3))
    shapes = [[2, 4], [4], [4]]
    x = torch.randn(2, 4)
    cases = {p: optional_args(p, shapes, seed=i) for i, p in enumerate(patterns)}
    expected = {p: eager(x, *cases[p]) for p in patterns}
    errors, calls = [], [0] * 8
    stop = threading.Event()
    torch_optspec.reset_stats()

    def caller(k):
        rng = random.Random(k)
        try:
            with torch.no_grad():
                while not stop.is_set():
                    p = rng.choice(patterns)
                    out = current[0](x, *cases[p])
                    if not torch.equal(out, expected[p]):
                        errors.append(f"thread {k} pattern {p}: {out} vs {expected[p]}")
                    calls[k] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {k}: {type(e).__name__}: {e}")

    def toggler():
        rng = random.Random(99)
        swaps = 0
        while not stop.is_set():
            (torch_optspec.enable if rng.random() < 0.6 else torch_optspec.disable)()
            if rng.random() < 0.1 and swaps < 40:
                current[0] = fresh_copy(base)
                swaps += 1
            time.sleep(0.002)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(8)]
    threads.append(threading.Thread(target=toggler))
    for t in threads:
        t.start()
    time.sleep(6.0)  # bounded run time; nothing below depends on speed
    stop.set()
    for t in threads:
        t.join(120)
    torch_optspec.disable()
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
    assert all(c > 0 for c in calls), calls
    # The pass did run during the races.
    assert torch_optspec.stats()["graphs_specialized"] > 0, torch_optspec.stats()
