"""Statistics across recordings, on synthetic recording folders with known values."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from rigctl import protocol as proto
from rigctl.engine import RecordingWriter, SweepRecord
from rigctl.engine.figure import write_figure
from rigctl.engine.group import (
    GroupError,
    condition_label,
    find_recordings,
    summarize_paths,
)

BASE_MV = 5.0
VALUES = {
    "25-50": [1.30, 1.55, 1.42, 1.61, 1.38],
    "50-25": [0.70, 0.81, 0.74, 0.66],
    "25-25": [1.02, 1.15, 0.93, 1.08],
}


def fake_recording(
    folder: Path,
    condition: str,
    value: float,
    *,
    followup_min: int = 40,
    ramp: bool = False,
    exp: proto.Experiment | None = None,
    spike_at_min: int | None = None,
) -> Path:
    """A recording whose EPSPs are BASE_MV before induction and value x BASE_MV after it.

    Probes once a minute from -5 to -1 min and from 1 to ``followup_min`` min; the induction
    at 300 s. With ``ramp`` the follow-up EPSPs grow linearly to the value at 30 min. The
    follow-up probe at ``spike_at_min`` holds a spike (a 40 mV "EPSP", flagged).
    """
    if exp is None:
        a, b = (float(x) for x in condition.split("-"))
        exp = proto.paper_condition(a, b)
    writer = RecordingWriter(
        folder,
        {"protocol_name": exp.metadata.name, "backend": "sim"},
        protocol_json=proto.dumps(exp),
        rig_text="",
        rig_json={},
    )
    onset = 300.0
    index = 0

    def sweep(
        kind: str, segment: str, at_s: float, epsp: float | None, spike: bool = False
    ) -> None:
        nonlocal index
        n = 20
        writer.write_sweep(
            SweepRecord(
                index=index,
                kind=kind,
                segment=segment,
                at_s=at_s,
                since_induction_s=at_s - onset,
                started_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC).isoformat(),
                sample_rate_hz=1000.0,
                vm_mv=np.full(n, -65.0),
                command_pa=np.zeros(n),
                stim=np.zeros(n, dtype=np.uint8),
                complete=True,
                settings={},
                analysis={} if epsp is None else {"epsp_mv": epsp, "spike_in_probe": spike},
            )
        )
        index += 1

    for m in range(-5, 0):
        sweep("probe", "baseline", onset + 60.0 * m, BASE_MV)
    writer.event("induction_onset", at_s=onset)
    sweep("induction", "induction", onset, None)
    for m in range(1, followup_min + 1):
        v = 1 + (value - 1) * min(1.0, m / 30) if ramp else value
        if m == spike_at_min:
            sweep("probe", "followup", onset + 60.0 * m, 40.0, spike=True)
        else:
            sweep("probe", "followup", onset + 60.0 * m, BASE_MV * v)
    writer.finish("done")
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("group")
    for cond, values in VALUES.items():
        for k, v in enumerate(values):
            fake_recording(root / cond / f"cell-{k:02d}", cond, v)
    # Stopped at 10 min: no probe in the 30-35 min window, so it is left out.
    fake_recording(root / "25-50" / "cell-short", "25-50", 1.5, followup_min=10)
    return root


def test_statistics_match_scipy(study: Path) -> None:
    s = summarize_paths([study])
    assert [c.condition for c in s.conditions] == ["25-25", "25-50", "50-25"]
    for cond, values in VALUES.items():
        c = s.condition(cond)
        v = np.array(values)
        assert c.n == len(values)
        assert c.mean == pytest.approx(v.mean())
        assert c.sem == pytest.approx(stats.sem(v))
        assert sorted(c.values) == pytest.approx(sorted(values))
        ref = stats.ttest_1samp(v, 1.0)
        assert c.t == pytest.approx(ref.statistic)
        assert c.p == pytest.approx(ref.pvalue)
    for a, b in [("25-50", "50-25"), ("25-25", "25-50"), ("25-25", "50-25")]:
        ref = stats.ttest_ind(VALUES[a], VALUES[b], equal_var=False)
        comp = s.comparison(a, b)
        assert comp.t == pytest.approx(ref.statistic)
        assert comp.p == pytest.approx(ref.pvalue)
        assert comp.df == pytest.approx(ref.df)
        assert s.comparison(b, a).t == pytest.approx(-ref.statistic)
    assert len(s.comparisons) == 3
    assert s.condition("25-50").p < 0.05 and s.condition("50-25").p < 0.05
    assert s.condition("25-25").p > 0.05


def test_excluded_and_report(study: Path) -> None:
    s = summarize_paths([study])
    assert [Path(f).name for f, _ in s.excluded] == ["cell-short"]
    assert "30-35 min" in s.excluded[0][1]
    text = s.report()
    assert "25→50 Hz" in text and "p < 0.05" in text
    ltp_line = next(line for line in text.splitlines() if line.startswith("25→50 Hz"))
    assert ltp_line.endswith("*") and " 5 " in ltp_line
    flat_line = next(line for line in text.splitlines() if line.startswith("25→25 Hz"))
    assert not flat_line.endswith("*")
    assert "Welch" in text and "cell-short" in text


def test_dict_form_is_strict_json(study: Path) -> None:
    d = summarize_paths([study]).as_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert [c["condition"] for c in back["conditions"]] == ["25-25", "25-50", "50-25"]
    assert back["conditions"][1]["n"] == 5
    assert back["window_min"] == [30.0, 35.0]
    tc = back["time_courses"][1]
    assert tc["centers_min"][0] == pytest.approx(-4.5)


def test_time_course_is_binned_mean_and_sem(tmp_path: Path) -> None:
    for k, v in enumerate([1.2, 1.6]):
        fake_recording(tmp_path / f"c{k}", "25-50", v, followup_min=35, ramp=True)
    s = summarize_paths([tmp_path])
    tc = s.time_course("25-50")
    centers = np.array(tc.centers_min)
    mean = np.array(tc.mean)
    assert np.all(mean[centers < 0] == pytest.approx(1.0))
    at_33 = int(np.flatnonzero(centers == 33.5)[0])
    assert mean[at_33] == pytest.approx(1.4)
    assert tc.sem[at_33] == pytest.approx(stats.sem([1.2, 1.6]))
    assert tc.n[at_33] == 2
    at_15 = int(np.flatnonzero(centers == 15.5)[0])  # halfway up the ramp
    assert mean[at_15] == pytest.approx(1 + 0.4 * 15 / 30)


def test_finding_recordings(study: Path, tmp_path: Path) -> None:
    one = study / "50-25" / "cell-00"
    assert find_recordings([one]) == [one]
    assert len(find_recordings([study / "50-25"])) == 4
    assert len(find_recordings([study])) == 14
    assert len(find_recordings([study, one])) == 14  # listed once
    with pytest.raises(GroupError, match="none found"):
        find_recordings([tmp_path])
    with pytest.raises(GroupError, match="no such folder"):
        find_recordings([tmp_path / "nope"])
    fake_recording(tmp_path / "short", "25-50", 1.5, followup_min=5)
    with pytest.raises(GroupError, match="none of the 1 recordings"):
        summarize_paths([tmp_path / "short"])


def test_single_cells_have_no_tests(tmp_path: Path) -> None:
    fake_recording(tmp_path / "a", "25-50", 1.4)
    fake_recording(tmp_path / "b", "50-25", 0.8)
    s = summarize_paths([tmp_path])
    assert all(c.n == 1 and math.isnan(c.p) and math.isnan(c.sem) for c in s.conditions)
    assert s.comparisons == ()
    assert "n/a" in s.report()
    write_figure(s, tmp_path / "one.png")  # draws without error bars


def test_condition_labels() -> None:
    assert condition_label("25-50") == "25→50 Hz"
    assert condition_label("12.5-50") == "12.5→50 Hz"
    assert condition_label("Ramp 10-25-50") == "Ramp 10-25-50"


def test_figure_is_a_png(study: Path, tmp_path: Path) -> None:
    out = write_figure(summarize_paths([study]), tmp_path / "fig.png", title="Synthetic")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def _named(exp: proto.Experiment, name: str, **induction: Any) -> proto.Experiment:
    ind = exp.induction
    if "durations" in induction:
        a, b = induction.pop("durations")
        phases = (ind.phases[0].replace(duration_ms=a), ind.phases[1].replace(duration_ms=b))
        induction["phases"] = phases
    return exp.replace(metadata=exp.metadata.replace(name=name), induction=ind.replace(**induction))


def test_recordings_group_by_induction_content_not_by_name(tmp_path: Path) -> None:
    paper = proto.paper_condition(25, 50)
    # Two files with different names, the same induction: one condition, both names shown.
    fake_recording(tmp_path / "a", "", 1.4, exp=_named(paper, "Lab LTP protocol"))
    fake_recording(tmp_path / "b", "", 1.5, exp=_named(paper, "My copy of 25-50"))
    # The same name over a different induction (50+150 ms phases): another condition.
    other = _named(paper, "Lab LTP protocol", durations=(50.0, 150.0))
    fake_recording(tmp_path / "c", "", 1.1, exp=other)
    fake_recording(tmp_path / "d", "", 1.2, exp=_named(paper, "Lab LTP protocol", repeats=5))
    s = summarize_paths([tmp_path])
    keys = [c.condition for c in s.conditions]
    assert keys == ["25-50", "25→50 Hz, 100+100 ms \u00d75", "25→50 Hz, 50+150 ms \u00d710"]
    same = s.condition("25-50")
    assert same.n == 2 and same.names == ("Lab LTP protocol", "My copy of 25-50")
    assert s.condition(proto.condition_key(other)).n == 1
    report = s.report()
    assert "25→50 Hz (Lab LTP protocol, My copy of 25-50)" in report
    assert "25→50 Hz, 50+150 ms \u00d710 (Lab LTP protocol)" in report
    data = s.as_dict()
    assert data["conditions"][0]["protocol_names"] == ["Lab LTP protocol", "My copy of 25-50"]
    assert {c["protocol_name"] for c in data["cells"]} == {"Lab LTP protocol", "My copy of 25-50"}


def test_a_probe_with_a_spike_is_left_out_of_the_group_as_of_the_recording(
    tmp_path: Path,
) -> None:
    from rigctl.engine.journal import load_recording
    from rigctl.engine.summary import summary_of

    folder = fake_recording(tmp_path / "rec", "25-50", 1.5, spike_at_min=32)
    (cell,) = summarize_paths([folder]).cells
    assert cell.value == pytest.approx(1.5)  # the 40 mV probe at 32 min is not averaged
    assert summary_of(load_recording(folder))["normalized_mean"] == pytest.approx(1.5)
