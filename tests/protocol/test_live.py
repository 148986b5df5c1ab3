"""The live-preview limit: decided from the phases, one sentence with the value and limit."""

from __future__ import annotations

from rigctl import protocol as proto


def _long(rate_hz: float, repeats: int, gap_ms: float = 400.0) -> proto.Induction:
    induction = proto.paper_condition(25, 50).induction  # two 100 ms phases, 200 ms lead-in
    phases = tuple(p.replace(pre=p.pre.replace(rate_hz=rate_hz)) for p in induction.phases)
    return induction.replace(phases=phases, repeats=repeats, gap_ms=gap_ms)


def test_the_paper_protocols_are_previewed() -> None:
    for minus, plus in ((25, 50), (50, 25), (25, 25), (50, 50)):
        assert proto.live_preview_limit(proto.paper_condition(minus, plus).induction) is None


def test_too_many_pulses_is_named_with_the_count_and_the_limit() -> None:
    assert proto.live_preview_limit(_long(100.0, 999)) is None  # 20 x 999 = 19,980
    reason = proto.live_preview_limit(_long(105.0, 999))  # 11 + 11 a window: 21,978
    assert reason is not None
    assert "21,978 stimulation pulses" in reason and f"{proto.LIVE_MAX_PULSES:,}" in reason


def test_too_long_is_named_with_the_minutes_and_the_limit() -> None:
    assert proto.live_preview_limit(_long(1.0, 999)) is None  # 9.99 min
    reason = proto.live_preview_limit(_long(1.0, 1000, gap_ms=1000.0))  # few pulses, 20 min
    assert reason is not None
    assert "lasts 20 min" in reason and f"{proto.LIVE_MAX_MINUTES:g} min" in reason
    just_over = proto.live_preview_limit(_long(1.0, 1000))  # 10 min and the 200 ms lead-in
    assert just_over is not None and "lasts 10.003 min" in just_over


def test_the_limit_does_not_compile(monkeypatch: object) -> None:
    # A 60-minute, 1.77-million-pulse induction is judged in no time: from the phases.
    import json

    from tests import hostile_corpus as hc

    data = json.loads(dict(hc.PROTOCOLS_VALID)["long-500hz"])
    induction = proto.loads(json.dumps(data)).induction
    reason = proto.live_preview_limit(induction)
    assert reason is not None and "1,770,000 stimulation pulses" in reason
