"""Speed of the kinase rule: the event kernel against the per-step reference loop.

Run from the repository root::

    .venv/bin/python benchmarks/bench_kinase.py            # full run (~20 s)
    .venv/bin/python benchmarks/bench_kinase.py --quick    # loop map estimated from a subset

Measures (medians of repeated ``time.perf_counter`` runs; the machine may be shared, so
the minimum is printed beside the median):

1. one paper protocol (25 -> 50 Hz: ten [100 ms | 100 ms] windows, 400 ms gaps) through
   ``kinase_dwt`` with the compiled event kernel and with the numpy fallback, and through
   ``kinase_loop`` (targets: <= 100 us and >= 100x the loop);
2. the 46 x 46 rate map (5-50 Hz in 1 Hz steps) end to end through
   ``rigctl.plasticity.rate_map`` (compiling the protocol and building the trains
   included; target <= 15 ms), the raster batch ``kinase_dwt_batch``, and the loop;
3. the first preview after import, in fresh processes: ``import rigctl.plasticity`` then
   the pane's first preview (``predict``, EPSP-ratio outlook, rate map), with numba allowed
   and with ``RIGCTL_KINASE_BACKEND=numpy`` (the compiled kernel loads in the background
   after first use and must not delay it), and the one-off
   cost of compiling the kernels (empty cache) and of loading them from the disk cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from rigctl.plasticity import (
    KinaseResult,
    _events,
    kinase_dwt,
    kinase_dwt_batch,
    kinase_loop,
    rasterize_batch,
    rate_map,
    regular_train,
    warm_up_kernel,
    window_readout_steps,
)
from rigctl.protocol import paper_condition

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]

N_WINDOWS = 10
PHASE_MS = 100.0
WINDOW_MS = 2 * PHASE_MS
GAP_MS = 400.0
STARTS_MS = np.asarray(np.arange(N_WINDOWS) * (WINDOW_MS + GAP_MS), dtype=np.float64)
RATES_HZ = np.arange(5.0, 51.0)  # 46 rates
N_STEPS = int(STARTS_MS[-1] + WINDOW_MS)  # the last readout is the last step that matters


MIN_TIMES: dict[int, float] = {}


def median_time(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Median wall time (s) of ``repeats`` calls, after one warm-up call (min kept aside)."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    MIN_TIMES[id(fn)] = min(times)
    return statistics.median(times), result


COLD = """
import time
t0 = time.perf_counter()
import numpy as np
from rigctl.plasticity import predict, rate_map
from rigctl.plasticity.mapping import fit_mapping, paper_dataset
from rigctl.plasticity.outlook import epsp_outlook
from rigctl.protocol import paper_condition
import os
if os.environ.get("BENCH_LOADING"):
    from rigctl.plasticity import set_kernel_loading
    set_kernel_loading(os.environ["BENCH_LOADING"])
exp = paper_condition(25, 50)
fit = fit_mapping(paper_dataset())
t1 = time.perf_counter()
pred = predict(exp, fit.params)
outlook = epsp_outlook(pred, fit, exp)
rates = np.arange(5.0, 51.0)
values = rate_map(exp, rates, rates)
t2 = time.perf_counter()
print(f"{(t2 - t0) * 1e3:.1f} {(t2 - t1) * 1e3:.1f} {outlook.ratio:.4f}")
"""

LOAD = """
from rigctl.plasticity import warm_up_kernel
k = warm_up_kernel()
print("none" if k is None else f"{k.load_s * 1e3:.1f}")
"""


def in_fresh_process(code: str, **env: str) -> str:
    """Run ``code`` in a new interpreter (this checkout first on the path); its output."""
    full = {**os.environ, "PYTHONPATH": os.getcwd(), **env}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, check=True
    )
    return res.stdout.strip()


def cold_start() -> None:
    """First preview after import, and the kernels' compile and load costs."""
    print(
        "first preview after import (fresh process: import, fit, then predict + EPSP-ratio "
        "outlook + 46x46 rate map of 25 -> 50 Hz, as the pane does)"
    )
    variants = (
        ("numba, as the GUI (loads when idle)", {"BENCH_LOADING": "idle"}),
        ("numba, as a script (loads at once)", {"BENCH_LOADING": "eager"}),
        ("numpy only", {"RIGCTL_KINASE_BACKEND": "numpy"}),
    )
    for label, env in variants:
        runs = [in_fresh_process(COLD, **env).split() for _ in range(3)]
        total = statistics.median(float(r[0]) for r in runs)
        first = statistics.median(float(r[1]) for r in runs)
        print(f"  {label:<36} import to first preview {total:7.1f} ms   preview {first:6.1f} ms")
    with tempfile.TemporaryDirectory() as cache:
        compiled = in_fresh_process(LOAD, NUMBA_CACHE_DIR=cache)
        cached = in_fresh_process(LOAD, NUMBA_CACHE_DIR=cache)
    print(f"  compiling the kernels (empty cache, background thread)  {compiled:>8} ms")
    print(f"  loading them from the disk cache (background thread)    {cached:>8} ms")


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

    kernels = warm_up_kernel()
    print(f"compiled kernel: {'ready' if kernels else 'unavailable: ' + str(_events.failure())}")
    print()

    # ------------------------------------------------------------------ one protocol
    spikes = protocol_spikes(25.0, 50.0)

    def one() -> KinaseResult:
        return kinase_dwt(spikes, spikes, STARTS_MS, WINDOW_MS)

    fast_one, fast_res = median_time(one, repeats * 50)
    fast_min = MIN_TIMES[id(one)]
    _events.set_backend("numpy")

    def one_numpy() -> KinaseResult:
        return kinase_dwt(spikes, spikes, STARTS_MS, WINDOW_MS)

    numpy_one, _ = median_time(one_numpy, repeats * 5)
    _events.set_backend(None)

    def loop() -> KinaseResult:
        return kinase_loop(spikes, spikes, STARTS_MS, WINDOW_MS)

    loop_one, loop_res = median_time(loop, max(5, repeats))
    diff_one = float(np.max(np.abs(fast_res.per_window - loop_res.per_window)))
    print(f"one paper protocol (25 -> 50 Hz), dWt = {fast_res.total:+.4f}")
    print(
        f"  kinase_dwt, event kernel       {fmt_ms(fast_one)}   (min {fast_min * 1e6:.1f} us)"
        f"   target <= 100 us: {verdict(fast_one <= 1e-4)}"
    )
    print(f"  kinase_dwt, numpy fallback     {fmt_ms(numpy_one)}")
    print(f"  kinase_loop (per-step oracle)  {fmt_ms(loop_one)}")
    print(
        f"  speed-up (median / median)     {loop_one / fast_one:10.1f} x   target >= 100x: "
        f"{verdict(loop_one / fast_one >= 100)}"
    )
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

    exp = paper_condition(25.0, 50.0)

    def end_to_end() -> FloatArray:
        return rate_map(exp, RATES_HZ, RATES_HZ)

    full_map, totals = median_time(end_to_end, repeats)
    full_min = MIN_TIMES[id(end_to_end)]
    _events.set_backend("numpy")
    numpy_map, _ = median_time(end_to_end, max(3, repeats // 4))
    _events.set_backend(None)

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
        f"  rate_map end to end            {fmt_ms(full_map)}   (min {full_min * 1e3:.2f} ms)   "
        f"target <= 15 ms: {verdict(full_map <= 0.015)}"
    )
    print(f"  rate_map, numpy fallback       {fmt_ms(numpy_map)}")
    print(f"  kinase_dwt_batch (rasters)     {fmt_ms(core_events)}")
    print(f"  kinase_dwt_batch, cascade      {fmt_ms(core_cascade)}")
    print(f"  kinase_loop x {n_map}           {fmt_ms(loop_full)}   ({label})")
    print(
        f"  speed-up, end to end           {loop_full / full_map:10.1f} x   "
        "(counts building the trains, which the loop is given)"
    )
    print(f"  max |batch - loop|             {diff_map:10.2e}")
    i25, i50 = 20, 45
    print(f"  map check: 25->50 {totals[i25, i50]:+.4f}, 50->25 {totals[i50, i25]:+.4f}")
    print()
    cold_start()


if __name__ == "__main__":
    main()
