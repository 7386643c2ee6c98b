"""The benchmark report rendered from bench/results/latest.json (no benchmark
run): failed cells say "fails", bars carry the per-round spread, the chart's
title names the machine, torch and the fuser; ratios are printed rounded."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import render  # noqa: E402

LATEST = os.path.join(ROOT, "bench", "results", "latest.json")


@pytest.fixture(scope="module")
def results():
    with open(LATEST) as f:
        return json.load(f)


def test_chart_marks_failures_spread_and_title(results, tmp_path):
    pytest.importorskip("matplotlib")
    drawn = render.write_chart(results, str(tmp_path / "chart.png"))
    assert (tmp_path / "chart.png").stat().st_size > 10000

    expected_fails = [(c["name"], v) for c in results["cases"]
                      for v, key in (("optspec", "ratio_optspec_vs_stock"),
                                     ("twin", "ratio_twin_vs_stock")) if c[key] is None]
    assert expected_fails, "latest.json has failed cells (oneDNN's bad optional access)"
    assert sorted((name, v) for name, v, _ in drawn["fails"]) == sorted(expected_fails)
    assert all(text.startswith("fails") for _, _, text in drawn["fails"])

    # Error bars from the per-round ratios: they bracket the bar, and differ
    # from it (the rounds are not all equal).
    for variant in ("optspec", "twin"):
        bars, spread = drawn["bars"][variant], drawn["spread"][variant]
        assert len(bars) == len(spread) == len(results["cases"]) - sum(
            v == variant for _, v in expected_fails)
        assert all(lo <= bar <= hi for bar, (lo, hi) in zip(bars, spread))
        assert any(hi - lo > 0.01 for lo, hi in spread)

    m = results["machine"]
    title = drawn["title"]
    assert f"{m['cores']} cores" in title and m["cpu"] in title
    assert f"torch {m['torch']}" in title
    for fuser in {c["fuser"] for c in results["cases"]}:
        families = sorted({c["family"] for c in results["cases"] if c["fuser"] == fuser})
        assert f"{render.FUSER_NAMES[fuser]} for {', '.join(families)}" in title, (fuser, title)
    assert "fuser: oneDNN Graph" in title


def test_rows_against_no_fuser_plans(results, tmp_path):
    """Rows where stock and the twin fail under oneDNN Graph (torch.nn
    attention) are also timed against their plans compiled without a fuser: a
    table of their own, and a target line saying they run."""
    case = next(c for c in results["cases"] if c["fuser"] == "onednn")
    fake = json.loads(json.dumps(results))
    row = dict(case, name="nn.MultiheadAttention test row", family="nn.MultiheadAttention",
               failures={"stock": "bad optional access", "twin": "bad optional access"},
               ratio_optspec_vs_stock=None, ratio_optspec_vs_twin=None, ratio_twin_vs_stock=None,
               ratio_optspec_vs_stock_nofuser=0.9, ratio_optspec_vs_twin_nofuser=0.95)
    row["median_s"] = {"eager": 0.01, "optspec": 0.009, "stock_nofuser": 0.01, "twin_nofuser": 0.0095}
    row["plans"] = dict(case["plans"], stock=None, twin=None)
    row["plans_nofuser"] = {"stock_nofuser": case["plans"]["optspec"], "twin_nofuser": case["plans"]["optspec"]}
    fake["cases"].append(row)
    render.write_markdown(fake, str(tmp_path / "x.md"))
    md = (tmp_path / "x.md").read_text()
    assert "## Against plans compiled without a fuser" in md
    line = next(l for l in md.splitlines() if l.startswith("| nn.MultiheadAttention test row | onednn | 9.00 |"))
    assert "| 10.00 | 9.50 | 0.900 | 0.950 |" in line and line.endswith("| fails | fails |")
    assert any(t.startswith("- RUNS under onednn where stock and the twin fail: nn.MultiheadAttention")
               for t in render.targets(fake))


def test_render_only_rewrites_md_and_png_from_json(results, tmp_path):
    pytest.importorskip("matplotlib")
    with open(tmp_path / "latest.json", "w") as f:
        json.dump(results, f)
    assert render.main(["--out", str(tmp_path)]) == 0
    md = (tmp_path / "latest.md").read_text()
    assert (tmp_path / "latest.png").exists()
    # Ratios with three decimals in the table.
    c = next(c for c in results["cases"] if c["ratio_optspec_vs_stock"] is not None)
    assert f"| {c['ratio_optspec_vs_stock']:.3f} |" in md
    assert repr(c["ratio_optspec_vs_stock"]) not in md


def test_progress_ratios_are_rounded():
    from bench.run import fmt_ratio

    assert fmt_ratio(0.982727689809604) == "0.983"
    assert fmt_ratio(None) == "-"
