"""Protocol identity: content hash, condition key, and the identity of an edited copy."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from rigctl import protocol as proto
from tests.conftest import PROTOCOLS

PAPER = proto.paper_condition(25, 50)


def test_content_hash_covers_what_runs_not_the_metadata() -> None:
    h = proto.content_hash(PAPER)
    assert h.startswith("sha256:") and len(h) == 7 + 64
    renamed = PAPER.replace(metadata=PAPER.metadata.replace(name="Other", description=""))
    assert proto.content_hash(renamed) == h
    assert proto.content_hash(proto.loads(proto.dumps(PAPER))) == h  # stable through a file
    longer = PAPER.replace(induction=PAPER.induction.replace(repeats=11))
    fewer_probes = PAPER.replace(probes=PAPER.probes.replace(followup_min=30))
    assert len({h, proto.content_hash(longer), proto.content_hash(fewer_probes)}) == 3


def test_condition_key_names_rates_durations_and_windows() -> None:
    assert proto.condition_key(PAPER) == "25→50 Hz, 100+100 ms \u00d710"
    assert proto.condition_key(PAPER.induction) == proto.condition_key(PAPER)
    assert proto.condition_key(proto.paper_condition(50, 25)) == "50→25 Hz, 100+100 ms \u00d710"
    ind = PAPER.induction
    gap = ind.replace(gap_ms=300.0)
    assert proto.condition_key(gap) == "25→50 Hz, 100+100 ms \u00d710, gap 300 ms"
    post = ind.phases[1].post.replace(target_rate_hz=40.0)
    mixed = ind.replace(phases=(ind.phases[0], ind.phases[1].replace(post=post)))
    assert proto.condition_key(mixed) == "25→50/40 Hz, 100+100 ms \u00d710"
    ramp = proto.load(PROTOCOLS / "ramp-10-25-50-jittered.json")
    assert "±" in proto.condition_key(ramp) and "80+80+80 ms \u00d75" in proto.condition_key(ramp)
    # currents are set per cell by calibration: not part of the condition
    calibrated = ind.phases[0].post.replace(current_pa=199.0)
    recal = ind.replace(phases=(ind.phases[0].replace(post=calibrated), ind.phases[1]))
    assert proto.condition_key(recal) == proto.condition_key(PAPER)


def test_strip_expected_keeps_the_rest() -> None:
    text = PAPER.metadata.description
    assert "Expected: LTP (paper: 1.42" in text
    stripped = proto.strip_expected(text)
    assert "Expected" not in stripped and "1.42" not in stripped
    assert stripped.endswith("calibrate them for each cell.")
    assert proto.strip_expected("A. Expected: x. B.") == "A. B."
    assert proto.strip_expected("no sentence") == "no sentence"


def test_derive_gives_an_edit_a_new_identity() -> None:
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    edited = PAPER.replace(induction=PAPER.induction.replace(repeats=5))
    new = proto.derive(PAPER, edited, now=now)
    meta = new.metadata
    assert meta.name == "Theta 25-50 Hz (modified)"
    assert meta.created == now and meta.created != PAPER.metadata.created
    assert meta.derived_from == proto.DerivedFrom(
        name="Theta 25-50 Hz", content_hash=proto.content_hash(PAPER)
    )
    assert proto.content_hash(new) != proto.content_hash(PAPER)
    assert "Expected" not in meta.description
    assert new.induction == edited.induction
    # derived once: further edits keep the identity (name, created)
    again = new.replace(induction=new.induction.replace(repeats=6))
    assert proto.derive(PAPER, again) == again
    # the file keeps it
    back = proto.loads(proto.dumps(new))
    assert back.metadata.derived_from == meta.derived_from
    assert json.loads(proto.dumps(new))["metadata"]["derived_from"]["name"] == "Theta 25-50 Hz"


def test_derive_leaves_unchanged_content_and_own_names_alone() -> None:
    renamed = PAPER.replace(metadata=PAPER.metadata.replace(name="Mine"))
    assert proto.derive(PAPER, renamed) == renamed  # only metadata changed
    edited = renamed.replace(induction=PAPER.induction.replace(repeats=5))
    assert proto.derive(PAPER, edited).metadata.name == "Mine"  # the user's own name kept


def test_derived_from_is_validated() -> None:
    data = json.loads(proto.dumps(PAPER))
    data["metadata"]["derived_from"] = {"name": "x", "content_hash": "md5:abc"}
    with pytest.raises(proto.ProtocolFileError, match=r"derived_from\.content_hash"):
        proto.loads(json.dumps(data), "bad.json")


def _with_phases(
    exp: proto.Experiment,
    pre: dict[str, object] | None = None,
    post: dict[str, object] | None = None,
    **changes: object,
) -> proto.Experiment:
    """``exp`` with every phase's presynaptic train, drive or own fields changed."""
    phases = tuple(
        p.replace(pre=p.pre.replace(**(pre or {})), post=p.post.replace(**(post or {})), **changes)
        for p in exp.induction.phases
    )
    return exp.replace(induction=exp.induction.replace(phases=phases))


def test_paper_condition_of_each_of_the_four() -> None:
    for key, rates in proto.PAPER_CONDITIONS.items():
        exp = proto.paper_condition(*rates)
        assert proto.paper_condition_of(exp) == rates, key
        assert proto.paper_condition_of(exp.induction) == rates
        assert proto.paper_condition_of(proto.loads(proto.dumps(exp))) == rates
    assert proto.paper_condition_of(proto.load(PROTOCOLS / "theta-50-25.json")) == (50.0, 25.0)


def test_paper_condition_of_ignores_currents_and_names_only() -> None:
    phases = tuple(
        p.replace(name=f"phase {i}", post=p.post.replace(current_pa=123.0 + i))
        for i, p in enumerate(PAPER.induction.phases)
    )
    calibrated = PAPER.replace(
        metadata=PAPER.metadata.replace(name="My cell"),
        induction=PAPER.induction.replace(phases=phases),
    )
    assert proto.paper_condition_of(calibrated) == (25.0, 50.0)
    ind = PAPER.induction
    others = [
        PAPER.replace(induction=ind.replace(gap_ms=0)),
        PAPER.replace(induction=ind.replace(repeats=11)),
        PAPER.replace(induction=ind.replace(lead_in_ms=0)),
        PAPER.replace(induction=ind.replace(window_ms=250)),
        _with_phases(PAPER, pre={"onset_ms": 5.0}),
        _with_phases(PAPER, pre={"pulse_width_us": 200.0}),
        _with_phases(PAPER, pre={"timing": "jittered", "jitter_ms": 2.0}),
        _with_phases(PAPER, post={"lag_ms": 3.0}),
        _with_phases(PAPER, duration_ms=90.0),
        proto.paper_condition(10, 40),  # the paper's shape at rates it did not test
        proto.load(PROTOCOLS / "ramp-10-25-50-jittered.json"),
    ]
    assert [proto.paper_condition_of(e) for e in others] == [None] * len(others)
