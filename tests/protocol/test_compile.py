from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigctl import protocol as proto

RATES_FS = [5_000.0, 10_000.0, 20_000.0, 25_000.0, 44_100.0, 50_000.0, 100_000.0]


def F(x: float) -> Fraction:
    """Independent exact value of a decimal the user typed."""
    return Fraction(repr(float(x)))


def idx(t_ms: Fraction, fs: float) -> int:
    return math.floor(t_ms * F(fs) / 1000 + Fraction(1, 2))


def edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate([[0.0], x.astype(np.float64)]))
    return np.flatnonzero(d > 0), np.flatnonzero(d < 0)


def test_paper_induction_pulse_times_and_samples() -> None:
    exp = proto.paper_condition(25, 50)
    sweep = proto.compile_induction(exp.induction)
    pulses = sweep.of_kind("pre_pulse")
    assert len(pulses) == 10 * (3 + 5)
    first = [p.start_ms for p in pulses[:8]]
    lead = exp.induction.lead_in_ms
    assert first == [lead + t for t in (0, 40, 80, 100, 120, 140, 160, 180)]
    assert [float(t) for t in sweep.window_starts] == [lead + 600 * w for w in range(10)]
    epochs = sweep.of_kind("post_epoch")
    assert [(e.amplitude_pa, e.duration_ms) for e in epochs[:2]] == [(185.0, 100.0), (260.0, 100.0)]
    w = sweep.waveforms(20_000)
    on, off = edges(w.stim)
    assert on.tolist() == [round(p.start_ms * 20) for p in pulses]
    assert (off - on).tolist() == [2] * len(pulses)  # 100 µs = 2 samples at 20 kHz
    assert w.n_samples == 6200 * 20 + 1
    assert w.stim[-1] == 0 and w.command_pa[-1] == 0.0
    assert sweep.injected_charge_pc() == pytest.approx(10 * (185 * 0.1 + 260 * 0.1))


def test_last_sample_is_at_rest_without_a_gap() -> None:
    ind = proto.paper_condition(50, 50).induction.replace(gap_ms=0, lead_in_ms=0, repeats=2)
    w = proto.compile_induction(ind).waveforms(10_000)
    assert w.command_pa[-2] == 260.0  # driven up to the very end...
    assert w.command_pa[-1] == 0.0 and w.stim[-1] == 0  # ...then the closing rest sample


def test_sample_rate_too_low_for_the_pulse_is_refused() -> None:
    sweep = proto.compile_induction(proto.Induction())
    with pytest.raises(proto.CompileError, match="shorter than one sample"):
        sweep.waveforms(1_000)
    with pytest.raises(proto.CompileError, match="positive"):
        sweep.waveforms(0)


def test_jittered_trains_are_seeded_and_stay_in_their_phase() -> None:
    def ind(seed: int) -> proto.Induction:
        return proto.Induction(
            phases=(
                proto.Phase(
                    name="a",
                    duration_ms=100,
                    pre=proto.StimTrain(rate_hz=50, timing="jittered", jitter_ms=8, seed=seed),
                    post=proto.PostDrive(target_rate_hz=0),
                ),
            ),
            repeats=20,
        )

    a, b, c = (proto.compile_induction(ind(s)) for s in (1, 1, 2))
    assert a.pre_pulse_ms.tolist() == b.pre_pulse_ms.tolist()
    assert a.pre_pulse_ms.tolist() != c.pre_pulse_ms.tolist()
    for span in a.phases:
        inside = [p for p in a.of_kind("pre_pulse") if p.window == span.window]
        assert len(inside) == 5
        assert all(span.start <= p.start and p.stop <= span.stop for p in inside)
        starts = [p.start for p in inside]
        assert starts == sorted(starts)
        assert all(
            s1 - s0 > p.duration for s0, s1, p in zip(starts, starts[1:], inside, strict=False)
        )
    # Not simply the regular train.
    assert (
        a.pre_pulse_ms.tolist()
        != proto.compile_induction(
            proto.Induction(
                phases=(ind(1).phases[0].replace(pre=proto.StimTrain(rate_hz=50)),), repeats=20
            )
        ).pre_pulse_ms.tolist()
    )


def test_schedule_has_no_drift_over_45_minutes() -> None:
    exp = proto.paper_condition(25, 50).replace(
        probes=proto.ProbeSchedule(interval_s=17.3, baseline_min=6, followup_min=45)
    )
    sweeps = proto.schedule(exp)
    base = [s for s in sweeps if s.segment == "baseline"]
    follow = [s for s in sweeps if s.segment == "followup"]
    (ind,) = [s for s in sweeps if s.kind == "induction"]
    step = F(17.3)
    assert [s.start for s in base] == [i * step for i in range(len(base))]
    assert ind.start == len(base) * step
    assert [s.start - ind.start for s in follow] == [j * step for j in range(1, len(follow) + 1)]
    assert len(follow) == math.floor(45 * 60 / 17.3)
    assert follow[-1].since_induction_s == pytest.approx(len(follow) * 17.3, abs=1e-9)
    comp = proto.compile_experiment(exp)
    assert comp.total_s == pytest.approx(float(follow[-1].start) + 1.0)


def test_followup_waits_for_a_long_induction() -> None:
    exp = proto.paper_condition(25, 50)
    exp = exp.replace(induction=exp.induction.replace(repeats=50))  # 30.2 s sweep
    sweeps = proto.schedule(exp)

    first = next(s for s in sweeps if s.segment == "followup")
    assert first.since_induction_s >= exp.induction.duration_ms / 1000


def test_probe_sweep() -> None:
    exp = proto.paper_condition(25, 25)
    sweep = proto.compile_probe(exp.probes)
    w = sweep.waveforms(20_000)
    on, off = edges(w.stim)
    assert on.tolist() == [600 * 20] and off.tolist() == [600 * 20 + 2]
    assert np.flatnonzero(w.command_pa == -10.0).tolist() == list(range(100 * 20, 300 * 20))
    assert w.n_samples == 1000 * 20 + 1


# ------------------------------------------------------------------ properties

_phase = st.builds(
    lambda dur, rate, onset_frac, width, prate, lag_frac, cur: (
        dur,
        rate,
        onset_frac,
        width,
        prate,
        lag_frac,
        cur,
    ),
    st.floats(20, 400).map(lambda x: round(x, 3)),
    st.floats(1, 120).map(lambda x: round(x, 3)),
    st.floats(0, 0.3),
    st.sampled_from([100.0, 150.0, 200.0, 333.0, 500.0]),
    st.sampled_from([0.0, 7.0, 25.0, 33.3, 50.0]),
    st.floats(0, 0.3),
    st.one_of(st.none(), st.floats(-300, 300).map(lambda x: round(x, 1))),
)


def _make_phase(
    i: int, spec: tuple[float, float, float, float, float, float, float | None]
) -> proto.Phase | None:
    dur, rate, onset_frac, width, prate, lag_frac, cur = spec
    try:
        return proto.Phase(
            name=f"p{i}",
            duration_ms=dur,
            pre=proto.StimTrain(
                rate_hz=rate, pulse_width_us=width, onset_ms=round(onset_frac * dur, 2)
            ),
            post=proto.PostDrive(
                target_rate_hz=prate,
                current_pa=cur if prate > 0 else None,
                lag_ms=round(lag_frac * dur, 2),
            ),
        )
    except ValueError:
        return None


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(_phase, min_size=1, max_size=4),
    repeats=st.integers(1, 12),
    gap=st.floats(0, 1000).map(lambda x: round(x, 2)),
    lead=st.floats(0, 500).map(lambda x: round(x, 3)),
    fs=st.sampled_from(RATES_FS),
)
def test_compile_is_sample_exact(
    specs: list[tuple[float, float, float, float, float, float, float | None]],
    repeats: int,
    gap: float,
    lead: float,
    fs: float,
) -> None:
    phases = [_make_phase(i, s) for i, s in enumerate(specs)]
    if any(p is None for p in phases):
        return
    ok = [p for p in phases if p is not None]
    ind = proto.Induction(
        phases=tuple(ok), window_ms=None, repeats=repeats, gap_ms=gap, lead_in_ms=lead
    )
    sweep = proto.compile_induction(ind)

    # Independent expectation: every pulse and epoch from absolute time.
    stride = sum(F(p.duration_ms) for p in ok) + F(gap)
    want_pulses: list[tuple[Fraction, Fraction]] = []
    want_epochs: list[tuple[Fraction, Fraction, float]] = []
    for w in range(repeats):
        t0 = F(lead) + w * stride
        for p in ok:
            period = 1000 / F(p.pre.rate_hz)
            n = math.ceil((F(p.duration_ms) - F(p.pre.onset_ms)) / period)
            assert n == p.pulse_count()
            width = F(p.pre.pulse_width_us) / 1000
            want_pulses += [(t0 + F(p.pre.onset_ms) + k * period, width) for k in range(n)]
            if p.post.target_rate_hz > 0:
                s = t0 + F(p.post.lag_ms)
                want_epochs.append((s, t0 + F(p.duration_ms), p.post.current_pa or 0.0))
            t0 += F(p.duration_ms)
    got = [(e.start, e.duration) for e in sweep.of_kind("pre_pulse")]
    assert got == want_pulses

    on_idx = [idx(t, fs) for t, _ in want_pulses]
    off_idx = [idx(t + wd, fs) for t, wd in want_pulses]
    try:
        wave = sweep.waveforms(fs)
    except proto.CompileError:
        # Refused only for a genuine reason: a pulse under one sample, or two pulses with
        # no low sample between them.
        assert any(b <= a for a, b in zip(on_idx, off_idx, strict=True)) or any(
            nxt <= prev for prev, nxt in zip(off_idx, on_idx[1:], strict=False)
        )
        return
    n_expected = idx(F(lead) + repeats * stride, fs) + 1
    assert wave.n_samples == n_expected
    on, off = edges(wave.stim)
    assert on.tolist() == on_idx
    assert off.tolist() == off_idx
    assert set(np.unique(wave.stim).tolist()) <= {0, 1}
    # Command current: each epoch's samples carry its amplitude, all others are 0.
    expected_cmd = np.zeros(n_expected)
    for s, e, amp in want_epochs:
        expected_cmd[idx(s, fs) : idx(e, fs)] = amp
    np.testing.assert_array_equal(wave.command_pa, expected_cmd)
    assert wave.stim[-1] == 0 and wave.command_pa[-1] == 0.0
    # Target postsynaptic spikes: the rate's count per phase, inside its drive.
    assert len(sweep.post_targets) == repeats * sum(p.post_spike_count() for p in ok)


_TIMES = st.fractions(min_value=0, max_value=10**7, max_denominator=10**6)


@given(start=_TIMES, duration=_TIMES, fs=st.sampled_from([1000, 20000, 44100, 50000, 3333.3]))
@settings(max_examples=300, deadline=None)
def test_edge_samples_are_the_sample_index_of_start_and_stop(
    start: Fraction, duration: Fraction, fs: float
) -> None:
    from rigctl.protocol.timing import edge_samples

    rate = proto.exact(fs)
    assert edge_samples(start, duration, rate) == (
        proto.sample_index(start, rate),
        proto.sample_index(start + duration, rate),
    )


def test_phase_onsets_are_grouped_by_span_length_and_read_only() -> None:
    sweep = proto.compile_induction(proto.paper_condition(25, 50).induction)
    groups = sweep.phase_onsets_ms
    assert list(groups) == ["prediction", "outcome"]
    ((length, onsets),) = groups["prediction"]
    assert length == 100.0
    np.testing.assert_array_equal(onsets, 200.0 + 600.0 * np.arange(10))
    np.testing.assert_array_equal(groups["outcome"][0][1], 300.0 + 600.0 * np.arange(10))
    assert not onsets.flags.writeable and sweep.phase_onsets_ms is groups  # computed once
