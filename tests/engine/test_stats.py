"""The hypothesis tests against computations done here independently (numpy, by hand)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from rigctl.cli import main
from rigctl.engine.group import summarize_paths
from rigctl.engine.stats import anova_2x2, condition_tests, rates_of
from tests.engine.test_group import fake_recording

# A balanced 2 x 2 design, three cells per condition: the paper's pattern.
DESIGN = {
    "25-25": [1.05, 1.12, 0.98],
    "25-50": [1.35, 1.52, 1.44],
    "50-25": [0.70, 0.78, 0.81],
    "50-50": [1.02, 1.10, 1.06],
}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("study2x2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fsync", lambda fd: None)  # durability is not under test here
        for cond, values in DESIGN.items():
            for i, v in enumerate(values):
                fake_recording(root / cond / f"cell-{i:02d}", cond, v, followup_min=36)
    yield root


def _hand_anova() -> dict[str, tuple[float, float, float]]:
    """Balanced two-way ANOVA sums of squares, F and p, from cell and marginal means."""
    y = {k: np.array(v) for k, v in DESIGN.items()}
    n = 3
    grand = np.mean(np.concatenate(list(y.values())))
    a_mean = {a: np.mean(np.concatenate([y[f"{a}-25"], y[f"{a}-50"]])) for a in ("25", "50")}
    b_mean = {b: np.mean(np.concatenate([y[f"25-{b}"], y[f"50-{b}"]])) for b in ("25", "50")}
    ss_a = 2 * n * sum((m - grand) ** 2 for m in a_mean.values())
    ss_b = 2 * n * sum((m - grand) ** 2 for m in b_mean.values())
    ss_ab = n * sum(
        (y[f"{a}-{b}"].mean() - a_mean[a] - b_mean[b] + grand) ** 2
        for a in ("25", "50")
        for b in ("25", "50")
    )
    ss_e = sum(((v - v.mean()) ** 2).sum() for v in y.values())
    df_e = 4 * (n - 1)
    out = {}
    for name, ss in (("prediction", ss_a), ("outcome", ss_b), ("interaction", ss_ab)):
        f = ss / (ss_e / df_e)
        out[name] = (ss, f, float(stats.f.sf(f, 1, df_e)))
    out["residual"] = (ss_e, math.nan, math.nan)
    return out


def test_anova_matches_hand_computation(study: Path) -> None:
    anova = anova_2x2(summarize_paths([study]))
    assert anova is not None
    hand = _hand_anova()
    for name, (ss, f, p) in hand.items():
        term = anova.term(name)
        assert term.sum_sq == pytest.approx(ss, rel=1e-9)
        if name != "residual":
            assert term.f == pytest.approx(f, rel=1e-9)
            assert term.p == pytest.approx(p, rel=1e-9)
            assert term.partial_eta_sq == pytest.approx(ss / (ss + hand["residual"][0]))
    assert anova.term("residual").df == 8
    m = {k: float(np.mean(v)) for k, v in DESIGN.items()}
    contrast = m["50-50"] - m["50-25"] - m["25-50"] + m["25-25"]
    assert anova.interaction_estimate == pytest.approx(contrast)
    se = math.sqrt(hand["residual"][0] / 8 * 4 / 3)
    half = stats.t.ppf(0.975, 8) * se
    assert anova.interaction_ci == pytest.approx((contrast - half, contrast + half))
    assert anova.n == dict.fromkeys(DESIGN, 3)
    # The paper's pattern is additive in (outcome - prediction): strong, opposite main
    # effects, a small interaction, and a clear rate-change contrast 25->50 minus 50->25.
    assert anova.term("interaction").p > 0.05
    assert anova.term("prediction").p < 0.001 and anova.term("outcome").p < 0.001
    diff = m["25-50"] - m["50-25"]
    se_diff = math.sqrt(hand["residual"][0] / 8 * 2 / 3)
    assert anova.change_estimate == pytest.approx(diff)
    assert anova.change_t == pytest.approx(diff / se_diff)
    assert anova.change_p == pytest.approx(2 * stats.t.sf(diff / se_diff, 8))
    lo, hi = anova.change_ci
    assert (lo + hi) / 2 == pytest.approx(diff)
    assert hi - lo == pytest.approx(2 * stats.t.ppf(0.975, 8) * se_diff)


def test_condition_tests_holm_and_effect_sizes(study: Path) -> None:
    tests = condition_tests(summarize_paths([study]))
    ps = []
    for t in tests.tests:
        v = np.array(DESIGN[t.condition])
        sd = v.std(ddof=1)
        assert t.n == 3 and t.mean == pytest.approx(v.mean())
        assert t.t == pytest.approx((v.mean() - 1) / (sd / math.sqrt(3)))
        assert t.cohens_d == pytest.approx((v.mean() - 1) / sd)
        half = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
        assert (t.ci_low, t.ci_high) == pytest.approx((v.mean() - half, v.mean() + half))
        # The d interval: the noncentral t puts 2.5 % of t beyond each bound.
        nc_lo, nc_hi = t.d_ci_low * math.sqrt(3), t.d_ci_high * math.sqrt(3)
        assert stats.nct.cdf(t.t, 2, nc_lo) == pytest.approx(0.975, abs=1e-6)
        assert stats.nct.cdf(t.t, 2, nc_hi) == pytest.approx(0.025, abs=1e-6)
        ps.append(t.p)
    # Holm by hand: sort, multiply by (m - rank), running maximum, cap at 1.
    order = np.argsort(ps)
    adj = np.empty(4)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (4 - rank) * ps[i]))
        adj[i] = running
    assert [t.p_holm for t in tests.tests] == pytest.approx(list(adj))


def test_no_anova_without_a_2x2_design(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    for cond in ("25-50", "50-25", "25-25"):
        for i in range(2):
            fake_recording(tmp_path / cond / f"c{i}", cond, 1.1 + 0.1 * i, followup_min=31)
    assert anova_2x2(summarize_paths([tmp_path])) is None
    assert rates_of("25-50") == (25.0, 50.0) and rates_of("Ramp") is None


def test_summarize_prints_the_anova(study: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(study)]) == 0
    out = capsys.readouterr().out
    assert "Two-way ANOVA" in out and "interaction" in out and "Holm" in out
    assert main(["summarize", str(study), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    terms = {t["term"]: t for t in data["anova"]["terms"]}
    assert terms["interaction"]["sum_sq"] == pytest.approx(_hand_anova()["interaction"][0])
    assert [c["n"] for c in data["tests"]["conditions"]] == [3, 3, 3, 3]
