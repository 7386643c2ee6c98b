"""Stock torch, no torch_optspec: the interpreted NNC CPU fuser
(_jit_override_can_fuse_on_cpu(True), te_must_use_llvm_cpu(False)) is not
thread-safe. 8 threads call one scripted function whose elementwise chain NNC
fuses, and compare with the eager result; some calls come back wrong or
raise ("MALFORMED INPUT: could not find var_node").

That is why tests/test_threads.py runs without it.

    python tools/nnc_thread_race.py [seconds]     # exits 1 when a wrong result or error was seen
"""
import sys
import threading
import time

import torch


@torch.jit.script
def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((x * 2.0 + y).relu() * y - x).sigmoid() + x * y


torch._C._jit_override_can_fuse_on_cpu(True)
torch._C._jit_set_te_must_use_llvm_cpu(False)
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
inputs = [(torch.randn(3, 5), torch.randn(3, 5)) for _ in range(8)]
expected = [((x * 2.0 + y).relu() * y - x).sigmoid() + x * y for x, y in inputs]
with torch.no_grad():
    for x, y in inputs[:1] * 3:  # profile, then compile the fused plan
        fn(x, y)
fused = "TensorExprGroup" in str(torch.jit.last_executed_optimized_graph())
wrong, errors, calls, stop = [0] * 8, [0] * 8, [0] * 8, threading.Event()


def worker(k):
    x, y = inputs[k]
    with torch.no_grad():
        while not stop.is_set():
            calls[k] += 1
            try:
                out = fn(x, y)
            except RuntimeError:  # e.g. "MALFORMED INPUT: could not find var_node"
                errors[k] += 1
                continue
            if not torch.allclose(out, expected[k], rtol=1e-5, atol=1e-6):
                wrong[k] += 1


threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
time.sleep(seconds)
stop.set()
for t in threads:
    t.join()
print(f"torch {torch.__version__}, fused by NNC: {fused}; "
      f"{sum(wrong)} wrong results and {sum(errors)} errors in {sum(calls)} calls from 8 threads")
sys.exit(1 if sum(wrong) + sum(errors) else 0)
