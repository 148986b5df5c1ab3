"""Rasterisation, readouts, batches and input validation of the kinase functions."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from rigctl.plasticity import (
    KinaseParams,
    hebbian_batch,
    hebbian_coincidence,
    kinase_dwt,
    kinase_dwt_batch,
    kinase_loop,
    kinase_traces,
    rasterize,
    rasterize_batch,
    spike_steps,
    window_readout_steps,
)
from tests.plasticity._helpers import CONDITIONS, END_MS, WINDOW_STARTS_MS, paper_train

# ----------------------------------------------------------------------------- rasters


def test_spike_steps_follow_the_spec() -> None:
    spikes = [39.9999999999, 39.99, 0.0, -0.5, -1e-12, 12.2, 12.7, 7.0, 100.0]
    assert spike_steps(spikes).tolist() == [0, 7, 12, 39, 40, 100]
    assert spike_steps(spikes, n_steps=100).tolist() == [0, 7, 12, 39, 40]
    assert spike_steps([]).tolist() == []


def test_rasterize_marks_at_most_one_spike_per_step() -> None:
    raster = rasterize([1.0, 1.5, 3.2, 9.0, 10.0], 10)
    assert raster.dtype == np.bool_
    assert np.flatnonzero(raster).tolist() == [1, 3, 9]


def test_rasterize_batch_matches_rasterize() -> None:
    trains = [[1.0, 1.5, 3.2], [], [-4.0, 0.0, 25.0, 31.0], [29.999999999999]]
    batch = rasterize_batch(trains, 30)
    assert batch.shape == (4, 30)
    for row, train in zip(batch, trains, strict=True):
        np.testing.assert_array_equal(row, rasterize(train, 30))
    assert rasterize_batch([], 30).shape == (0, 30)


def test_several_spikes_in_one_step_count_once() -> None:
    starts = [0.0]
    once = kinase_dwt([10.0, 50.0], [10.0, 50.0], starts)
    twice = kinase_dwt([10.0, 10.6, 50.2, 50.9], [10.3, 50.0, 50.5], starts)
    np.testing.assert_array_equal(once.per_window, twice.per_window)


def test_readout_steps() -> None:
    assert window_readout_steps([0.0, 600.0], 200.0).tolist() == [199, 799]
    assert window_readout_steps([0.4, 0.6], 200.0).tolist() == [199, 200]
    assert window_readout_steps([0.5, 1.5], 200.0).tolist() == [199, 201]  # half to even
    assert window_readout_steps([], 200.0).tolist() == []


@pytest.mark.parametrize(
    ("starts", "window_ms", "match"),
    [
        ([-1.0], 200.0, "before t = 0"),
        ([0.0], 0.0, "positive"),
        ([0.0], float("nan"), "positive"),
        ([0.0], 0.4, "first 1 ms step"),
        ([float("inf")], 200.0, "finite"),
        ([[0.0, 1.0]], 200.0, "1-D"),
    ],
)
def test_bad_windows_are_refused(starts: list[float], window_ms: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kinase_dwt([], [], starts, window_ms)
    with pytest.raises(ValueError, match=match):
        kinase_loop([], [], starts, window_ms)


def test_bad_spikes_and_ends_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        kinase_dwt([1.0, float("nan")], [], [0.0])
    with pytest.raises(ValueError, match="1-D"):
        kinase_dwt([[1.0]], [], [0.0])
    with pytest.raises(ValueError, match="before the end of the last theta window"):
        kinase_dwt([], [], [0.0, 600.0], end_ms=700.0)
    with pytest.raises(ValueError, match="end_ms"):
        kinase_traces([], [], end_ms=-1.0)


def test_no_windows_and_no_spikes() -> None:
    empty = kinase_dwt([], [], [])
    assert (empty.total, empty.n_windows, empty.n_steps, empty.hebbian) == (0.0, 0, 0, 0.0)
    quiet = kinase_dwt([], [], [0.0, 600.0], end_ms=1000.0, return_traces=True)
    assert quiet.per_window.tolist() == [0.0, 0.0]
    assert quiet.traces is not None
    assert quiet.traces.n_steps == 1000


def test_result_arrays_are_read_only() -> None:
    spikes = paper_train(25.0, 50.0)
    res = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, return_traces=True)
    assert res.traces is not None
    for array in (res.per_window, res.readout_steps, res.traces.ca, res.traces.cad):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1.0


def test_traces_layout() -> None:
    spikes = paper_train(25.0, 50.0)
    traces = kinase_traces(spikes, spikes, END_MS)
    assert traces.n_steps == 6000
    assert traces.t_ms[:3].tolist() == [0.0, 1.0, 2.0]
    res = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, end_ms=END_MS)
    # The traces come from the IIR filters, dWt from the event kernel: equal to rounding.
    np.testing.assert_allclose(traces.dwt[res.readout_steps], res.per_window, rtol=0, atol=1e-13)
    assert float(np.sum(traces.ca)) == pytest.approx(res.hebbian, rel=1e-12)
    # ca is the gain times the product of the two CaSyn traces
    np.testing.assert_allclose(traces.ca, 8.0 * traces.ca_syn_pre * traces.ca_syn_post)
    assert traces.ca_syn_pre[0] == pytest.approx(8.0 / 30.0)


def test_window_order_is_kept() -> None:
    spikes = paper_train(25.0, 50.0)
    forward = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS)
    backward = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS[::-1])
    np.testing.assert_array_equal(backward.per_window, forward.per_window[::-1])
    assert backward.total == pytest.approx(forward.total, rel=1e-15)


# ----------------------------------------------------------------------------- batches


@pytest.mark.parametrize("method", ["events", "cascade"])
def test_batch_equals_individual(method: Literal["events", "cascade"]) -> None:
    rng = np.random.default_rng(7)
    trains = [paper_train(a, b) for a, b in CONDITIONS]
    trains += [paper_train(a, b, timing="quasi_regular", rng=rng) for a, b in CONDITIONS]
    posts = [paper_train(a, b, timing="jittered", rng=rng) for a, b in CONDITIONS] * 2
    readouts = window_readout_steps(WINDOW_STARTS_MS)
    params = KinaseParams(d_scale=1.05, m_tau_ms=3.0)
    pre_r, post_r = rasterize_batch(trains, 6000), rasterize_batch(posts, 6000)
    batch = kinase_dwt_batch(pre_r, post_r, readouts, params, method=method)
    sync = kinase_dwt_batch(pre_r, pre_r, readouts, params, method=method)
    assert batch.shape == (8, 10)
    for i, (pre, post) in enumerate(zip(trains, posts, strict=True)):
        one = kinase_dwt(pre, post, WINDOW_STARTS_MS, params=params)
        np.testing.assert_allclose(batch[i], one.per_window, rtol=1e-10, atol=1e-12)
        alone = kinase_dwt(pre, pre, WINDOW_STARTS_MS, params=params)
        np.testing.assert_allclose(sync[i], alone.per_window, rtol=1e-10, atol=1e-12)


def test_batch_shapes_and_dtypes() -> None:
    trains = [paper_train(a, b) for a, b in CONDITIONS]
    rasters = rasterize_batch(trains, 5600)
    readouts = window_readout_steps(WINDOW_STARTS_MS)
    flat = kinase_dwt_batch(rasters, rasters, readouts)
    grid = rasters.reshape(2, 2, 5600)
    np.testing.assert_array_equal(kinase_dwt_batch(grid, grid, readouts), flat.reshape(2, 2, 10))
    as_float = rasters.astype(np.float64)
    np.testing.assert_allclose(kinase_dwt_batch(as_float, as_float.copy(), readouts), flat)
    one = kinase_dwt_batch(rasters[1], rasters[1], readouts)
    np.testing.assert_array_equal(one, flat[1])
    assert kinase_dwt_batch(rasters, rasters, []).shape == (4, 0)
    # duplicated readouts are allowed and read the same step
    twice = kinase_dwt_batch(rasters, rasters, [199, 199, 799])
    np.testing.assert_array_equal(twice[:, 0], twice[:, 1])
    np.testing.assert_allclose(twice[:, [0, 2]], flat[:, :2], rtol=1e-12, atol=1e-15)


def test_long_quiet_stretches_in_a_batch() -> None:
    # Quiet stretches longer than the dense table of matrix powers take the other route.
    starts = np.array([0.0, 9000.0])
    spikes = paper_train(25.0, 50.0, window_starts_ms=starts)
    rasters = rasterize_batch([spikes], 9200)
    readouts = window_readout_steps(starts)
    loop = kinase_loop(spikes, spikes, starts)
    np.testing.assert_allclose(kinase_dwt_batch(rasters, rasters, readouts)[0], loop.per_window)


def test_bad_batches_are_refused() -> None:
    rasters = rasterize_batch([paper_train(25.0, 50.0)], 5600)
    readouts = window_readout_steps(WINDOW_STARTS_MS)
    with pytest.raises(ValueError, match="same shape"):
        kinase_dwt_batch(rasters, rasters[:, :100], readouts)
    with pytest.raises(ValueError, match="0 or 1"):
        kinase_dwt_batch(rasters * 2.0, rasters, readouts)
    with pytest.raises(ValueError, match="inside"):
        kinase_dwt_batch(rasters, rasters, [5600])
    with pytest.raises(ValueError, match="whole step"):
        kinase_dwt_batch(rasters, rasters, [199.5])
    with pytest.raises(ValueError, match="method"):
        kinase_dwt_batch(rasters, rasters, readouts, method="fft")  # type: ignore[arg-type]


def test_hebbian_functions_agree() -> None:
    trains = [paper_train(a, b) for a, b in CONDITIONS]
    rasters = rasterize_batch(trains, int(END_MS))
    batch = hebbian_batch(rasters, rasters)
    post = rasterize_batch(trains[::-1], int(END_MS))
    crossed = hebbian_batch(rasters, post)
    for i, train in enumerate(trains):
        single = hebbian_coincidence(train, train, END_MS)
        assert batch[i] == pytest.approx(single, rel=1e-12)
        full = kinase_dwt(train, train, WINDOW_STARTS_MS, end_ms=END_MS)
        assert full.hebbian == pytest.approx(single, rel=1e-12)
        other = hebbian_coincidence(train, trains[::-1][i], END_MS)
        assert crossed[i] == pytest.approx(other, rel=1e-12)
