"""Speed of the plasticity pane: how long an edit takes to reach the screen.

Run from the repository root (offscreen Qt, no window appears)::

    .venv/bin/python benchmarks/bench_plasticity_pane.py
    .venv/bin/python benchmarks/bench_plasticity_pane.py --repeats 50

Measures, for the paper's four conditions edited one after another (each call is a real
change of the induction):

1. ``setExperiment(exp, sweep)`` with the sweep already compiled (as the main window
   shares it with the waveform preview): prediction, headline, comparators and traces;
2. the same plus compiling the induction (``setExperiment(exp)``);
3. (1) plus everything the event loop then does (``processEvents()``: layout, scene
   updates and painting the 900 x 800 pane with the offscreen raster engine), i.e. until
   the frame is drawn; target for (1): well within one 60 Hz frame (16.7 ms);
4. (1) with random trains (jittered, 20 seeds), which may be slower but should stay well
   under 100 ms;
5. the rate map (46 x 46 rates, 5-50 Hz): one computation through ``rate_map`` as the
   pane runs it (on the GUI thread), and the pane's request-to-shown time;
6. dragging the map's marker: each step previews new rates (prediction, EPSP-ratio
   headline with its interval, marker; the map itself is cached), until painted.

The compiled kernel is loaded first (``warm_up_kernel``); ``--numpy`` measures the
fallback instead.

Prints median and 95th percentile (ms) of each.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse
import time
from collections.abc import Callable

import numpy as np
from PyQt6.QtWidgets import QApplication

from rigctl.gui.plasticity.pane import RATE_MAP_HZ, PlasticityPane
from rigctl.plasticity import KinaseParams, _events, warm_up_kernel
from rigctl.plasticity.preview import TrainOptions, rate_map
from rigctl.protocol import CompiledSweep, Experiment, compile_induction, paper_condition

FRAME_MS = 1000.0 / 60.0
CONDITIONS = ((25.0, 50.0), (50.0, 25.0), (25.0, 25.0), (50.0, 50.0))


def percentiles(times_s: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in ms."""
    ms = np.asarray(times_s) * 1000.0
    return float(np.median(ms)), float(np.percentile(ms, 95))


def measure(step: Callable[[int], None], repeats: int) -> tuple[float, float]:
    """Time ``step(i)`` for ``i`` in range(repeats), after a warm-up round."""
    for i in range(len(CONDITIONS)):
        step(i)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def report(label: str, result: tuple[float, float], target_ms: float | None = None) -> None:
    median, p95 = result
    verdict = ""
    if target_ms is not None:
        verdict = "  ok" if p95 <= target_ms else f"  over {target_ms:.1f} ms"
    print(f"{label:<58} median {median:7.2f} ms   p95 {p95:7.2f} ms{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=80, help="timed edits per measurement")
    parser.add_argument("--numpy", action="store_true", help="measure the numpy fallback")
    args = parser.parse_args()
    if args.numpy:
        _events.set_backend("numpy")
    else:
        warm_up_kernel()
    print(f"kernel backend: {_events.backend()}")
    app = QApplication.instance() or QApplication([])

    experiments: list[Experiment] = [paper_condition(m, p) for m, p in CONDITIONS]
    sweeps: list[CompiledSweep] = [compile_induction(e.induction) for e in experiments]
    n = len(experiments)

    pane = PlasticityPane()
    pane.resize(900, 800)
    pane.show()
    app.processEvents()

    print(
        f"PlasticityPane, paper conditions, {args.repeats} edits each (frame = {FRAME_MS:.1f} ms)"
    )

    pane.setExperiment(experiments[0], sweeps[0])
    pane.waitForMap()  # time the edits, not the first map computing beside them
    app.processEvents()

    def shared(i: int) -> None:
        pane.setExperiment(experiments[i % n], sweeps[i % n])

    def compiled_here(i: int) -> None:
        pane.setExperiment(experiments[i % n])

    def painted(i: int) -> None:
        pane.setExperiment(experiments[i % n], sweeps[i % n])
        app.processEvents()

    report("setExperiment(exp, sweep): headline + traces", measure(shared, args.repeats), FRAME_MS)
    report("setExperiment(exp): compile + headline + traces", measure(compiled_here, args.repeats))
    report("setExperiment(exp, sweep) + processEvents (painted)", measure(painted, args.repeats))
    print(f"{'(pane.lastUpdateMs() of the last edit)':<58} {pane.lastUpdateMs():7.2f} ms")

    pane.setTrainOptions(TrainOptions(timing="jittered", n_seeds=20))
    report(
        "random trains (jittered, 20 seeds): headline + traces",
        measure(shared, max(10, args.repeats // 4)),
        100.0,
    )
    pane.setTrainOptions(TrainOptions())

    # Rate map: the computation itself, as the worker runs it.
    rates = np.asarray(RATE_MAP_HZ)
    times = []
    for i in range(max(5, args.repeats // 10)):
        params = KinaseParams(d_scale=1.0 + 0.001 * i)
        t0 = time.perf_counter()
        rate_map(experiments[0], rates, rates, params)
        times.append(time.perf_counter() - t0)
    report(f"rate_map {rates.size}x{rates.size} (GUI thread)", percentiles(times))

    # Rate map through the pane: request (a parameter change) to the map on screen.
    times = []
    before = pane.mapComputations()
    for i in range(max(5, args.repeats // 10)):
        t0 = time.perf_counter()
        pane.setParams(KinaseParams(d_scale=1.0 + 0.002 * (i + 1)))
        if not pane.waitForMap():
            raise SystemExit("the rate map did not arrive")
        app.processEvents()
        times.append(time.perf_counter() - t0)
    report("setParams -> rate map shown (pane, incl. headline)", percentiles(times))
    computed = pane.mapComputations() - before
    print(f"{'map computations for those parameter changes':<58} {computed:7d}")

    # Dragging the marker across the map: each step is a new protocol (new rates).
    pane.setParams(KinaseParams())
    path = [(25.0 + (k % 20), 50.0 - (k % 30)) for k in range(args.repeats)]

    def drag(i: int) -> None:
        x, y = path[i % len(path)]
        pane.rateMapView().marker().setPos(x, y)  # what a drag step does
        app.processEvents()

    def drag_model(i: int) -> None:
        x, y = path[(i + 7) % len(path)]
        pane.rateMapView().marker().setPos(x, y)  # what a drag step does

    report("drag the marker: preview + headline (no paint)", measure(drag_model, args.repeats))
    report("drag the marker: preview + headline + paint", measure(drag, args.repeats))

    # An edit the map does not depend on must not recompute it.
    before = pane.mapComputations()
    t0 = time.perf_counter()
    for i in range(20):
        exp = experiments[0]
        pane.setExperiment(exp.replace(metadata=exp.metadata.replace(name=f"renamed {i}")))
    elapsed = (time.perf_counter() - t0) / 20 * 1000.0
    print(
        f"{'metadata-only edit (no model, no map)':<58} median {elapsed:7.2f} ms   "
        f"map computations {pane.mapComputations() - before}"
    )
    print(f"wall-clock times on {os.cpu_count()} CPUs")
    pane.close()


if __name__ == "__main__":
    main()
