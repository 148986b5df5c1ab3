"""The exact event-driven kernel equals the per-step loop to rounding, on both backends.

The tolerance is 1e-12 relative to the size of the quantities that are subtracted at the
readout (``p_scale * CaP + d_scale * CaD``): dWt is a difference of two integrators, so its
own relative error is only bounded relative to them. For time constants just above one
step the loop's own update cancels (``x - x / tau``); the bound grows by that factor.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigctl.plasticity import (
    KinaseParams,
    _events,
    kernel_backend,
    kinase_dwt,
    kinase_dwt_batch,
    kinase_loop,
    rasterize_batch,
    warm_up_kernel,
    window_readout_steps,
)
from rigctl.protocol import paper_condition
from tests.plasticity._helpers import CONDITIONS, END_MS, WINDOW_MS, WINDOW_STARTS_MS, paper_train
from tests.plasticity.test_kinase_oracle import Case, cases

REL = 1e-12
FloatArray = npt.NDArray[np.float64]
REFERENCE = {(25, 25): 0.1726, (25, 50): 2.1444, (50, 25): -1.2347, (50, 50): 0.7132}


@pytest.fixture(scope="module", autouse=True)
def compiled() -> Iterator[None]:
    if warm_up_kernel() is None:  # numba missing: the numpy path is still tested
        pytest.skip(f"compiled kernel unavailable: {_events.failure()}")
    yield
    _events.set_backend(None)


@pytest.fixture(params=["numba", "numpy"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    _events.set_backend(request.param)
    assert kernel_backend() == request.param
    yield str(request.param)
    _events.set_backend(None)


Args = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike, float, KinaseParams]


def scale_at_readouts(case_args: Args, end_ms: float | None) -> FloatArray:
    """``p * |CaP| + d * |CaD|`` at each readout, from the loop's traces."""
    pre, post, starts, window_ms, params = case_args
    res = kinase_loop(pre, post, starts, window_ms, params, end_ms=end_ms, return_traces=True)
    tr = res.traces
    assert tr is not None
    steps = res.readout_steps
    p = res.params
    return np.asarray(p.p_scale * np.abs(tr.cap[steps]) + p.d_scale * np.abs(tr.cad[steps]))


def conditioning(params: KinaseParams) -> float:
    """How much the loop's own rounding is amplified: ``x - x / tau`` cancels when tau ~ 1.

    Each step the loop computes ``x + (0 - x) / tau``, whose relative rounding error grows
    as ``1 / (tau - 1)`` for a time constant just above one step (tau = 1 is exact: 0).
    """
    taus = (params.ca_syn_tau_ms, params.m_tau_ms, params.p_tau_ms, params.d_tau_ms)
    return 1.0 + max((1.0 / (t - 1.0) for t in taus if t > 1.0), default=0.0)


def assert_exact(fast: FloatArray, slow: FloatArray, scale: FloatArray, cond: float = 1.0) -> None:
    bound = REL * cond * np.maximum(scale, np.abs(slow)) + 1e-300
    assert np.all(np.abs(fast - slow) <= bound), (fast - slow) / np.maximum(scale, 1e-300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_kernel_equals_the_loop_on_random_protocols(case: Case) -> None:
    args: Args = (case.pre_ms, case.post_ms, case.window_starts_ms, case.window_ms, case.params)
    slow = kinase_loop(*args, end_ms=case.end_ms)
    scale = scale_at_readouts(args, case.end_ms)
    readouts = window_readout_steps(case.window_starts_ms, case.window_ms)
    pre = rasterize_batch([case.pre_ms], slow.n_steps)
    post = rasterize_batch([case.post_ms], slow.n_steps)
    for name in ("numba", "numpy"):
        _events.set_backend("numba" if name == "numba" else "numpy")
        try:
            fast = kinase_dwt(*args, end_ms=case.end_ms)
            batch = kinase_dwt_batch(pre, post, readouts, case.params)
        finally:
            _events.set_backend(None)
        cond = conditioning(case.params)
        assert_exact(fast.per_window, slow.per_window, scale, cond)
        assert_exact(batch[0], slow.per_window, scale, cond)
        assert fast.n_steps == slow.n_steps
        assert abs(fast.hebbian - slow.hebbian) <= REL * 10 * max(1.0, abs(slow.hebbian))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-50.0, 9000.0, allow_nan=False), max_size=40),
    st.lists(st.floats(-50.0, 9000.0, allow_nan=False), max_size=40),
    st.lists(st.floats(0.0, 8500.0).map(lambda t: round(t, 1)), min_size=1, max_size=5),
)
def test_unsorted_duplicate_and_far_apart_spikes(
    pre: list[float], post: list[float], starts: list[float]
) -> None:
    # Spikes in any order, several in one step, before 0 and after the end; windows in
    # any order, repeated; gaps longer than the dense table of powers (2048 steps).
    pre_ms = pre + pre[:3]
    args: Args = (pre_ms, post, starts, 60.0, KinaseParams())
    slow = kinase_loop(*args, end_ms=9000.0)
    fast = kinase_dwt(*args, end_ms=9000.0)
    assert kernel_backend() == "numba"
    assert_exact(fast.per_window, slow.per_window, scale_at_readouts(args, 9000.0))
    assert abs(fast.hebbian - slow.hebbian) <= 1e-11 * max(1.0, abs(slow.hebbian))


@pytest.mark.parametrize(("minus", "plus"), CONDITIONS)
def test_reference_values(backend: str, minus: float, plus: float) -> None:
    spikes = paper_train(minus, plus)
    res = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, WINDOW_MS, end_ms=END_MS)
    assert res.total == pytest.approx(REFERENCE[int(minus), int(plus)], abs=5e-5)
    slow = kinase_loop(spikes, spikes, WINDOW_STARTS_MS, WINDOW_MS, end_ms=END_MS)
    assert abs(res.total - slow.total) <= 1e-12 * 10


def test_readonly_and_strided_inputs(backend: str) -> None:
    spikes = np.repeat(paper_train(25, 50), 2)[::2]  # a strided view
    frozen = spikes.copy()
    frozen.flags.writeable = False
    a = kinase_dwt(spikes, frozen, WINDOW_STARTS_MS, WINDOW_MS)
    b = kinase_loop(spikes, frozen, WINDOW_STARTS_MS, WINDOW_MS)
    np.testing.assert_allclose(a.per_window, b.per_window, rtol=0, atol=1e-13)


def test_rate_map_is_exported_and_exact(backend: str) -> None:
    from rigctl.plasticity import rate_map

    rates = [20.0, 25.0, 50.0]
    values = rate_map(paper_condition(25, 50), rates, rates)
    assert values.shape == (3, 3)
    for i, minus in enumerate(rates):
        for j, plus in enumerate(rates):
            spikes = paper_train(minus, plus)
            # the paper protocol's windows start after a 200 ms lead-in
            slow = kinase_loop(spikes + 200.0, spikes + 200.0, WINDOW_STARTS_MS + 200.0)
            assert abs(values[i, j] - slow.total) <= 1e-12 * 50
    assert values[1, 2] == pytest.approx(REFERENCE[25, 50], abs=5e-5)
    assert values[2, 1] == pytest.approx(REFERENCE[50, 25], abs=5e-5)


def test_rate_map_backends_agree_on_other_geometry() -> None:
    from rigctl.plasticity import rate_map

    exp = paper_condition(25, 50)
    exp = exp.replace(induction=exp.induction.replace(gap_ms=0.0, repeats=4))
    rates = np.arange(5.0, 51.0, 5.0)
    fast = rate_map(exp, rates, rates)
    _events.set_backend("numpy")
    try:
        slow = rate_map(exp, rates, rates)
    finally:
        _events.set_backend(None)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_backend_choice_is_validated() -> None:
    with pytest.raises(ValueError, match="backend"):
        _events.set_backend("fortran")  # type: ignore[arg-type]


def test_tables_hold_exact_powers() -> None:
    params = KinaseParams(ca_syn_tau_ms=7.0)
    t = _events.tables(params)
    a, _ = _events.quiet_step(params)
    np.testing.assert_allclose(t.mats[37], np.linalg.matrix_power(a, 37), rtol=1e-13, atol=0)
    k = _events.N_DENSE + 5  # 2**5
    np.testing.assert_allclose(t.mats[k], np.linalg.matrix_power(a, 32), rtol=1e-13, atol=0)
    assert _events.tables(params) is t


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0.0, float("nan")], [1.0], [0.0]), {}, "finite"),
        (([0.0], [1.0], [-5.0]), {}, "before t = 0"),
        (([0.0], [1.0], [0.0], 0.2), {}, "ends before the first"),
        (([0.0], [1.0], [0.0], -1.0), {}, "positive time"),
        (([0.0], [1.0], [0.0], 50.0), {"end_ms": 20.0}, "before the end of the"),
        (([0.0], [1.0], [0.0], 50.0), {"end_ms": float("inf")}, "end_ms"),
        (([[0.0]], [1.0], [0.0]), {}, "1-D"),
    ],
)
def test_bad_input_is_refused_the_same_way(
    backend: str, args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        kinase_dwt(*args, **kwargs)  # type: ignore[arg-type]
