"""The shipped protocol library is valid and the paper files are what they claim."""

from __future__ import annotations

import pytest

from rigctl import protocol as proto
from tests.conftest import PROTOCOLS


def test_library_is_complete() -> None:
    names = {f.name for f in PROTOCOLS.glob("*.json")}
    assert {f"theta-{k}.json" for k in proto.PAPER_CONDITIONS} <= names
    assert len(names) >= 5  # plus at least one generalised example


@pytest.mark.parametrize("key", sorted(proto.PAPER_CONDITIONS))
def test_paper_files_match_the_paper(key: str) -> None:
    exp = proto.load(PROTOCOLS / f"theta-{key}.json")
    minus, plus = proto.PAPER_CONDITIONS[key]
    assert exp == proto.paper_condition(minus, plus)
    ind = exp.induction
    assert (ind.repeats, ind.gap_ms, ind.effective_window_ms) == (10, 400.0, 200.0)
    assert [p.name for p in ind.phases] == ["prediction", "outcome"]
    assert exp.probes.baseline_min >= 5 and exp.probes.followup_min >= 40


@pytest.mark.parametrize("path", sorted(PROTOCOLS.glob("*.json")), ids=lambda p: p.name)
def test_every_file_loads_and_compiles(path: object) -> None:
    exp = proto.load(str(path))
    comp = proto.compile_experiment(exp)
    for fs in (10_000, 20_000, 50_000):
        assert comp.induction.waveforms(fs).stim.sum() > 0
        assert comp.probe.waveforms(fs).command_pa.min() < 0
