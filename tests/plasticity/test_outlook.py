"""The headline: predicted EPSP ratio, its interval, and the one direction rule."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rigctl.cli import main
from rigctl.plasticity import outlook
from rigctl.plasticity.mapping import Dataset, fit_mapping, paper_dataset
from rigctl.plasticity.outlook import (
    NO_CHANGE_BAND,
    NO_CHANGE_BAND_SOURCE,
    call_direction,
    direction_rule,
    epsp_outlook,
    no_change_band,
    timing_ratios,
)
from rigctl.plasticity.preview import TrainOptions, predict
from rigctl.protocol import paper_condition
from tests.conftest import ROOT

PROTOCOLS = ROOT / "protocols"


def test_band_comes_from_the_paper_flat_conditions() -> None:
    assert pytest.approx(0.12) == NO_CHANGE_BAND  # 25->25 Hz: 1.12 ± 0.15
    assert "25->25 Hz 1.12 ± 0.15" in NO_CHANGE_BAND_SOURCE
    assert "50->50 Hz 1.09 ± 0.08" in NO_CHANGE_BAND_SOURCE
    assert "±0.12" in direction_rule() and "Jang et al. 2026" in direction_rule()
    data = paper_dataset()
    no_flat = data.model_copy(update={"conditions": data.conditions[1:3]})
    assert isinstance(no_flat, Dataset)
    assert no_change_band(no_flat)[0] == 0.0


@pytest.mark.parametrize(
    ("low", "high", "call"),
    [
        (1.13, 1.5, "LTP"),
        (1.12, 1.5, "no clear change"),  # touching the band is not clearing it
        (0.5, 0.87, "LTD"),
        (0.5, 0.88, "no clear change"),
        (0.9, 1.1, "no clear change"),
        (0.5, 1.5, "no clear change"),
        (math.nan, 1.5, "no clear change"),
        (1.5, 1.3, "no clear change"),  # not an interval
    ],
)
def test_call_direction(low: float, high: float, call: str) -> None:
    assert call_direction(low, high) == call


def test_fit_has_a_standard_error() -> None:
    fit = fit_mapping(paper_dataset())
    assert 0 < fit.value_se < fit.value
    assert "± " in fit.basis and "(SE)" in fit.basis
    linear = fit_mapping(paper_dataset(), method="linear")
    assert 0 < linear.value_se < math.inf


@pytest.mark.parametrize(
    ("minus", "plus", "call"),
    [(25, 25, "no clear change"), (25, 50, "LTP"), (50, 25, "LTD"), (50, 50, "no clear change")],
)
def test_outlook_of_the_paper_conditions(minus: int, plus: int, call: str) -> None:
    fit = fit_mapping(paper_dataset())
    exp = paper_condition(minus, plus)
    outlook = epsp_outlook(predict(exp, fit.params), fit, exp)
    assert outlook.direction == call
    assert outlook.low < outlook.ratio < outlook.high
    assert outlook.sd == pytest.approx(math.hypot(outlook.sd_fit, outlook.sd_timing))
    assert outlook.sd_fit > 0 and outlook.sd_timing > 0
    assert outlook.high - outlook.low == pytest.approx(2 * outlook.sd)
    assert outlook.interval == (outlook.low, outlook.high)


def test_timing_spread_is_seeded_and_uses_both_train_kinds() -> None:
    fit = fit_mapping(paper_dataset())
    exp = paper_condition(50, 25)
    a = timing_ratios(exp, fit, n_seeds=3)
    assert a.size == 6 and len(set(a.tolist())) == 6
    assert a.tolist() == timing_ratios(exp, fit, n_seeds=3).tolist()


def test_without_a_protocol_only_the_fit_counts() -> None:
    fit = fit_mapping(paper_dataset())
    exp = paper_condition(25, 50)
    outlook = epsp_outlook(predict(exp, fit.params), fit)
    assert outlook.sd_timing == 0.0 and outlook.sd == outlook.sd_fit


def predict_json(capsys: pytest.CaptureFixture[str], name: str) -> dict[str, object]:
    assert main(["predict", "--json", str(PROTOCOLS / name)]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert isinstance(rec, dict)
    return rec


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("theta-50-50.json", "no clear change"),
        ("theta-25-50.json", "LTP"),
        ("theta-50-25.json", "LTD"),
        ("theta-25-25.json", "no clear change"),
    ],
)
def test_cli_json_calls_the_direction_from_the_ratio(
    capsys: pytest.CaptureFixture[str], name: str, call: str
) -> None:
    rec = predict_json(capsys, name)
    assert rec["direction"] == call
    ratio = rec["predicted_epsp_ratio"]
    interval = rec["predicted_epsp_ratio_interval"]
    assert isinstance(ratio, float) and isinstance(interval, list) and len(interval) == 2
    low, high = interval
    assert low < ratio < high
    assert rec["direction"] == call_direction(low, high)
    rule = rec["direction_rule"]
    assert isinstance(rule, str) and "±0.12" in rule and "flat conditions" in rule
    assert rec["no_change_band"] == pytest.approx(0.12)
    assert "dwt_total" in rec and "dwt_direction" in rec  # the raw dWt stays


def test_cli_50_50_no_longer_says_ltp(capsys: pytest.CaptureFixture[str]) -> None:
    rec = predict_json(capsys, "theta-50-50.json")
    assert rec["dwt_direction"] == "LTP"  # the raw dWt alone would overstate
    assert rec["direction"] == "no clear change"
    interval = rec["predicted_epsp_ratio_interval"]
    assert isinstance(interval, list)
    assert interval[0] < 1.12 < interval[1]


def test_cli_text_leads_with_the_ratio_and_its_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["predict", str(PROTOCOLS / "theta-25-25.json")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].strip().startswith("predicted EPSP ratio")
    assert "[" in lines[1] and "± 1 SD" in lines[1]
    assert lines[2].split() == ["direction", "no", "clear", "change"]
    assert "no-change band ±0.12" in out
    assert "onset bias" in out


def test_timing_spread_cache_gives_what_simulating_again_gives() -> None:
    """The cached draws equal a fresh simulation, and each input has its own entry."""
    fit = fit_mapping(paper_dataset())
    exp = paper_condition(25, 50)
    other = paper_condition(50, 25)
    outlook._spread_cache.clear()
    first = timing_ratios(exp, fit, n_seeds=2)
    assert len(outlook._spread_cache) == 1
    fresh = [
        fit.ratio(pw)
        for timing in ("jittered", "quasi_regular")
        for pw in predict(
            exp.induction,
            fit.params,
            trains=TrainOptions(timing=timing, n_seeds=2, jitter_ms=5.0),
            traces=False,
        ).seed_per_window
    ]
    assert first.tolist() == fresh
    assert timing_ratios(exp, fit, n_seeds=2).tolist() == fresh  # from the cache
    assert len(outlook._spread_cache) == 1
    changed = timing_ratios(other, fit, n_seeds=2)
    assert changed.tolist() != fresh
    assert len(outlook._spread_cache) == 2
    slower = fit.params.replace(ca_syn_tau_ms=fit.params.ca_syn_tau_ms * 2)
    assert timing_ratios(exp, replace(fit, params=slower), n_seeds=2).size == 4
    assert len(outlook._spread_cache) == 3
    for draws in outlook._spread_cache.values():
        assert all(not d.flags.writeable for d in draws)  # shared: nobody may change them
