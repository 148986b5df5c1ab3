"""The fast paths agree with the per-step loop on protocols they have not seen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigctl.plasticity import (
    KinaseParams,
    KinaseResult,
    TrainTiming,
    kinase_dwt,
    kinase_dwt_batch,
    kinase_loop,
    rasterize_batch,
    spike_train,
    window_readout_steps,
)

TOL = 1e-9
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Case:
    pre_ms: FloatArray
    post_ms: FloatArray
    window_starts_ms: FloatArray
    window_ms: float
    end_ms: float | None
    params: KinaseParams


times_ms = st.floats(0.0, 400.0, allow_nan=False).map(lambda t: round(t, 3))
timings: st.SearchStrategy[TrainTiming] = st.sampled_from(["regular", "jittered", "quasi_regular"])


@st.composite
def phases(draw: st.DrawFn) -> tuple[float, float, float, float, TrainTiming, float]:
    duration = draw(st.floats(5.0, 150.0).map(lambda t: round(t, 2)))
    lag = draw(st.floats(0.0, 0.9).map(lambda f: round(f * duration, 2)))
    return (
        duration,
        draw(st.floats(0.0, 120.0)),
        draw(st.floats(0.0, 120.0)),
        lag,
        draw(timings),
        draw(st.floats(0.0, 10.0)),
    )


@st.composite
def kinase_params(draw: st.DrawFn) -> KinaseParams:
    if draw(st.booleans()):
        return KinaseParams()
    tau = st.floats(1.0, 80.0)
    return KinaseParams(
        spike_ca_syn=draw(st.floats(0.5, 12.0)),
        ca_syn_tau_ms=draw(tau),
        syn_ca_gain=draw(st.floats(0.5, 12.0)),
        m_tau_ms=draw(tau),
        p_tau_ms=draw(tau),
        d_tau_ms=draw(tau),
        p_scale=draw(st.floats(0.5, 1.5)),
        d_scale=draw(st.floats(0.5, 1.5)),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A random theta protocol: phases, repeats, gaps, lead-in, lags, train kinds."""
    window_phases = draw(st.lists(phases(), min_size=1, max_size=3))
    phases_ms = sum(p[0] for p in window_phases)
    window_ms = phases_ms + draw(st.sampled_from([0.0, 0.0, 17.5, 50.0]))
    repeats = draw(st.integers(1, 5))
    gap_ms = draw(st.sampled_from([0.0, 13.0, 100.0, 400.0]))
    lead_ms = draw(times_ms)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    starts = np.asarray(lead_ms + np.arange(repeats) * (window_ms + gap_ms), dtype=np.float64)
    pre: list[FloatArray] = []
    post: list[FloatArray] = []
    for t0 in starts:
        onset = float(t0)
        for duration, pre_hz, post_hz, lag, timing, jitter in window_phases:
            pre.append(spike_train(timing, onset, duration, pre_hz, rng=rng, jitter_ms=jitter))
            post.append(
                spike_train(timing, onset, duration, post_hz, rng=rng, jitter_ms=jitter, lag_ms=lag)
            )
            onset += duration
    pre_ms, post_ms = np.concatenate(pre), np.concatenate(post)
    if draw(st.booleans()):  # pre and post in sync, as in the paper
        post_ms = pre_ms
    last_end = float(starts[-1]) + window_ms
    end_ms = draw(st.sampled_from([None, last_end, last_end + gap_ms + 1.0]))
    return Case(pre_ms, post_ms, starts, window_ms, end_ms, draw(kinase_params()))


def assert_close(fast: KinaseResult, slow: KinaseResult) -> None:
    assert fast.n_steps == slow.n_steps
    np.testing.assert_array_equal(fast.readout_steps, slow.readout_steps)
    np.testing.assert_allclose(fast.per_window, slow.per_window, rtol=TOL, atol=TOL)
    assert abs(fast.total - slow.total) <= TOL * max(1.0, abs(slow.total))
    assert abs(fast.hebbian - slow.hebbian) <= TOL * max(1.0, abs(slow.hebbian))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_fast_paths_match_the_loop(case: Case) -> None:
    args = (case.pre_ms, case.post_ms, case.window_starts_ms, case.window_ms, case.params)
    slow = kinase_loop(*args, end_ms=case.end_ms)
    assert_close(kinase_dwt(*args, end_ms=case.end_ms), slow)

    readouts = window_readout_steps(case.window_starts_ms, case.window_ms)
    n_steps = slow.n_steps
    pre = rasterize_batch([case.pre_ms, case.post_ms], n_steps)
    post = rasterize_batch([case.post_ms, case.pre_ms], n_steps)
    swapped = kinase_loop(
        case.post_ms, case.pre_ms, case.window_starts_ms, case.window_ms, case.params
    )
    for method in ("events", "cascade"):
        batch = kinase_dwt_batch(pre, post, readouts, case.params, method=method)
        np.testing.assert_allclose(batch[0], slow.per_window, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(batch[1], swapped.per_window, rtol=TOL, atol=TOL)


@settings(max_examples=25, deadline=None)
@given(cases())
def test_fast_traces_match_the_loop(case: Case) -> None:
    args = (case.pre_ms, case.post_ms, case.window_starts_ms, case.window_ms, case.params)
    fast = kinase_dwt(*args, end_ms=case.end_ms, return_traces=True).traces
    slow = kinase_loop(*args, end_ms=case.end_ms, return_traces=True).traces
    assert fast is not None
    assert slow is not None
    for name in ("ca_syn_pre", "ca_syn_post", "ca", "cam", "cap", "cad"):
        np.testing.assert_allclose(
            getattr(fast, name), getattr(slow, name), rtol=TOL, atol=TOL, err_msg=name
        )
    np.testing.assert_allclose(fast.dwt, slow.dwt, rtol=TOL, atol=TOL)


spike_lists = st.lists(
    st.one_of(
        st.floats(-20.0, 320.0, allow_nan=False),
        st.integers(-5, 310).map(float),
        st.integers(1, 300).map(lambda k: k - 1e-12),  # float error just below a step
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    spike_lists,
    spike_lists,
    st.lists(st.floats(0.0, 250.0).map(lambda t: round(t, 1)), min_size=1, max_size=4),
    st.floats(1.0, 60.0),
)
def test_arbitrary_spike_times_match_the_loop(
    pre: list[float], post: list[float], starts: list[float], window_ms: float
) -> None:
    # Negative spikes, spikes past the end, several spikes in one step, overlapping windows.
    slow = kinase_loop(pre, post, starts, window_ms)
    assert_close(kinase_dwt(pre, post, starts, window_ms), slow)
