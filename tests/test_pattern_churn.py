"""Pattern churn (docs/reliability.md): many calls cycling through every
None-pattern of a module with 4 Optional inputs. Every result equals eager;
the number of specializations and the memory stay bounded."""
import itertools
import random

import torch

import torch_optspec
from helpers.programs import FOUR, FOUR_SHAPES, assert_same, bailout_depth, import_source, optional_args


def test_pattern_churn_10000_calls(tmp_path):
    """10,000 calls cycling through the 16 None-patterns of 4 Optional inputs:
    every result (and in-place update) equals eager; the number of compiled
    specializations is bounded by the executor's bailout depth; resident
    memory stops growing once every pattern has its plan."""
    mod = import_source(tmp_path, FOUR)
    eager = mod.Four()
    scripted = torch.jit.script(mod.Four())
    patterns = list(itertools.product([0, 1], repeat=4))
    rng = random.Random(0)
    x = torch.randn(3, 4)
    inputs = {p: optional_args(p, FOUR_SHAPES, seed=i) for i, p in enumerate(patterns)}

    def rss_kib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4

    calls, rss_warm = 0, None
    torch_optspec.reset_stats()
    with torch.no_grad(), torch_optspec.enabled():
        for step in range(10_000):
            # alternate: blocks of a pattern, then random switches
            p = patterns[(step // 3) % 16] if step % 2 else rng.choice(patterns)
            args = [o.clone() if o is not None else None for o in inputs[p]]
            ref_args = [o.clone() if o is not None else None for o in inputs[p]]
            out = scripted(x, *args)
            ref = eager(x, *ref_args)
            assert_same(out, ref)
            assert_same(args, ref_args)  # d.add_(1.0) is seen by the caller
            assert (out[1] is args[0]) == (ref[1] is ref_args[0])  # `a` itself
            calls += 1
            if step == 2_000:
                rss_warm = rss_kib()
    rss_end = rss_kib()
    stats = torch_optspec.stats()
    depth = bailout_depth()
    assert calls == 10_000
    assert stats["graphs_rejected"] == 0
    # One specialization per optimized function: the main plan and at most one
    # per level of fallback.
    assert 2 <= stats["graphs_specialized"] <= depth + 1, (stats, depth)
    plans = torch_optspec._C._fallback_plans(scripted.graph_for(x, *inputs[patterns[0]]))
    assert len(plans) <= depth
    # Generous: the plans are compiled by then; only allocator noise remains.
    assert rss_end - rss_warm < 64 * 1024, (rss_warm, rss_end)
    print(f"specializations={stats['graphs_specialized']} depth={depth} "
          f"rss_growth_kib={rss_end - rss_warm}")
