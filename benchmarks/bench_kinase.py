"""Speed of the kinase rule: fast paths against the per-step reference loop.

Run from the repository root::

    .venv/bin/python benchmarks/bench_kinase.py            # full run (~15 s)
    .venv/bin/python benchmarks/bench_kinase.py --quick    # loop map estimated from a subset

Measures (medians of repeated ``time.perf_counter`` runs):

1. one paper protocol (25 -> 50 Hz: ten [100 ms | 100 ms] windows, 400 ms gaps) through
   ``kinase_dwt`` (target < 1 ms) and through ``kinase_loop``;
2. a 46 x 46 rate map (prediction x outcome rate, 5-50 Hz in 1 Hz steps, pre and post in
   sync) through ``kinase_dwt_batch`` (target < 200 ms), with and without building the
   spike trains and rasters, and through ``kinase_loop`` one protocol at a time;
3. the speed-up factors (target >= 100x) and the largest difference from the loop.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from rigctl.plasticity import (
    kinase_dwt,
    kinase_dwt_batch,
    kinase_loop,
    rasterize_batch,
    regular_train,
    window_readout_steps,
)

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]

N_WINDOWS = 10
PHASE_MS = 100.0
WINDOW_MS = 2 * PHASE_MS
GAP_MS = 400.0
STARTS_MS = np.asarray(np.arange(N_WINDOWS) * (WINDOW_MS + GAP_MS), dtype=np.float64)
RATES_HZ = np.arange(5.0, 51.0)  # 46 rates
N_STEPS = int(STARTS_MS[-1] + WINDOW_MS)  # the last readout is the last step that matters


def median_time(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Median wall time (s) of ``repeats`` calls, after one warm-up call."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def protocol_spikes(minus_hz: float, plus_hz: float) -> FloatArray:
    """Spike times of one neuron over the paper protocol (regular, phase-locked)."""
    window = np.concatenate(
        [regular_train(0.0, PHASE_MS, minus_hz), regular_train(PHASE_MS, PHASE_MS, plus_hz)]
    )
    return np.asarray((STARTS_MS[:, None] + window[None, :]).ravel(), dtype=np.float64)


def rate_map_spikes() -> list[FloatArray]:
    """Spike trains of all 46 x 46 conditions, row-major (prediction rate, outcome rate)."""
    return [protocol_spikes(a, b) for a in RATES_HZ for b in RATES_HZ]


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f} ms"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="repeats of the fast paths")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="estimate the loop rate map from a subset of conditions instead of all 2116",
    )
    args = parser.parse_args()
    repeats = max(1, args.repeats)

    print("kinase benchmark (medians of time.perf_counter runs)")
    print(f"protocol: {N_WINDOWS} windows of [100 | 100] ms, {GAP_MS:g} ms gaps, 1 ms steps")
    print()

    # ------------------------------------------------------------------ one protocol
    spikes = protocol_spikes(25.0, 50.0)
    fast_one, fast_res = median_time(
        lambda: kinase_dwt(spikes, spikes, STARTS_MS, WINDOW_MS), repeats * 10
    )
    loop_one, loop_res = median_time(
        lambda: kinase_loop(spikes, spikes, STARTS_MS, WINDOW_MS), max(3, repeats // 2)
    )
    diff_one = float(np.max(np.abs(fast_res.per_window - loop_res.per_window)))
    print(f"one paper protocol (25 -> 50 Hz), dWt = {fast_res.total:+.4f}")
    print(
        f"  kinase_dwt (lfilter cascade)   {fmt_ms(fast_one)}   target < 1 ms: "
        f"{verdict(fast_one < 1e-3)}"
    )
    print(f"  kinase_loop (per-step oracle)  {fmt_ms(loop_one)}")
    print(f"  speed-up                       {loop_one / fast_one:10.1f} x")
    print(f"  max |fast - loop|              {diff_one:10.2e}")
    print()

    # ------------------------------------------------------------------ rate map
    n_map = RATES_HZ.size**2
    readouts = window_readout_steps(STARTS_MS, WINDOW_MS)
    trains = rate_map_spikes()
    rasters = rasterize_batch(trains, N_STEPS)

    core_events, dwt_events = median_time(
        lambda: kinase_dwt_batch(rasters, rasters, readouts, method="events"), repeats
    )
    core_cascade, dwt_cascade = median_time(
        lambda: kinase_dwt_batch(rasters, rasters, readouts, method="cascade"),
        max(3, repeats // 4),
    )

    def end_to_end() -> FloatArray:
        r = rasterize_batch(rate_map_spikes(), N_STEPS)
        per_window = kinase_dwt_batch(r, r, readouts)
        return np.asarray(per_window.sum(axis=-1), dtype=np.float64).reshape(RATES_HZ.size, -1)

    full_map, totals = median_time(end_to_end, max(3, repeats // 2))

    if args.quick:
        subset = list(range(0, n_map, 23))
        label = f"estimated from {len(subset)} of {n_map} conditions, scaled"
    else:
        subset = list(range(n_map))
        label = f"all {n_map} conditions"

    def loop_map() -> FloatArray:
        return np.array(
            [kinase_loop(trains[i], trains[i], STARTS_MS, WINDOW_MS).per_window for i in subset]
        )

    loop_time, loop_dwt = median_time(loop_map, 1 if not args.quick else 3)
    loop_full = loop_time * n_map / len(subset)
    diff_map = max(
        float(np.max(np.abs(dwt_events[subset] - loop_dwt))),
        float(np.max(np.abs(dwt_cascade[subset] - loop_dwt))),
    )

    print(
        f"rate map {RATES_HZ.size} x {RATES_HZ.size} (5-50 Hz in 1 Hz steps), "
        f"{n_map} protocols x {N_STEPS} steps"
    )
    print(
        f"  kinase_dwt_batch, events       {fmt_ms(core_events)}   target < 200 ms: "
        f"{verdict(core_events < 0.2)}"
    )
    print(f"  kinase_dwt_batch, cascade      {fmt_ms(core_cascade)}")
    print(
        f"  trains + rasters + events      {fmt_ms(full_map)}   target < 200 ms: "
        f"{verdict(full_map < 0.2)}"
    )
    print(f"  kinase_loop x {n_map}           {fmt_ms(loop_full)}   ({label})")
    print(
        f"  speed-up, events               {loop_full / core_events:10.1f} x   "
        f"target >= 100x: {verdict(loop_full / core_events >= 100)}"
    )
    print(f"  speed-up, cascade              {loop_full / core_cascade:10.1f} x")
    print(
        f"  speed-up, end to end           {loop_full / full_map:10.1f} x   "
        "(counts building the trains, which the loop is given)"
    )
    print(f"  max |batch - loop|             {diff_map:10.2e}")
    i25, i50 = 20, 45
    print(f"  map check: 25->50 {totals[i25, i50]:+.4f}, 50->25 {totals[i50, i25]:+.4f}")


if __name__ == "__main__":
    main()
