"""6 threads call a scripted module while a 7th resets its plans over and
over, with the pass on (so the plans hold fallback functions). Exits 0 when
every call returned eager's result; a crash kills the process. Run by
tests/test_reset_plans.py in a fresh process. No NNC (not thread-safe)."""
import sys
import threading
import time
from typing import Optional

import torch

import torch_optspec


class M(torch.nn.Module):
    def forward(self, x: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:
        y = torch.tanh(x) * 2.0
        if m is not None:
            y = y + m
        return y.sum(0)


def main(seconds: float) -> int:
    torch.set_num_threads(1)
    model = torch.jit.script(M())
    x, m = torch.randn(8, 8), torch.randn(8, 8)
    expected = {True: M()(x, m), False: M()(x, None)}
    torch_optspec.enable()
    stop = time.monotonic() + seconds
    errors, calls, resets = [], [0], [0]

    def caller(k):
        with torch.no_grad():
            i = k
            while time.monotonic() < stop:
                given = i % 2 == 0
                out = model(x, m if given else None)
                if not torch.equal(out, expected[given]):
                    errors.append("wrong result")
                calls[0] += 1
                i += 1

    def resetter():
        while time.monotonic() < stop:
            torch_optspec.reset_plans(model)
            resets[0] += 1
            time.sleep(0.0005)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(6)]
    threads.append(threading.Thread(target=resetter))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"calls={calls[0]} resets={resets[0]} errors={len(errors)}")
    return 1 if errors or resets[0] < 10 else 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
