"""How fast the test pulse can run on the simulated rig, and what each part costs.

Run from the repository root::

    .venv/bin/python benchmarks/bench_setup.py            # 200 pulses per measurement
    .venv/bin/python benchmarks/bench_setup.py --pulses 50

Measures (medians over the pulses, ``time.perf_counter``):

1. the analysis alone (``analyze_test_pulse``: the curve_fit of one 100 ms sweep at
   20 kHz) in pulses/s;
2. the simulated sweep plus analysis (``TestPulse.pulse`` on an unpaced ``SimRig``) in
   pulses/s -- the rate a display would be fed at, against the 10 pulses/s the test pulse
   needs (target: >= 10x headroom);
3. a paced run at the 10 Hz maximum for 2 s: achieved pulses/s and the worst lateness;
4. a whole headless set-up (``rigctl setup --auto`` on the sim rig) in wall seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from rigctl import protocol as proto
from rigctl.engine.setup_run import VirtualClock, run_setup
from rigctl.engine.testpulse import TestPulse, TestPulseSettings, analyze_test_pulse
from rigctl.hardware import SimRig, load_rig


def _median_s(samples: list[float]) -> float:
    return statistics.median(samples)


def bench_analysis(n: int) -> float:
    """Pulses/s of the analysis alone."""
    rig = SimRig(load_rig(), seed=1)
    settings = TestPulseSettings()
    prepared = rig.prepare(settings.waveforms(rig.definition.sample_rate_hz), "test pulse")
    traces = [rig.run(prepared).vm_mv for _ in range(min(n, 50))]
    times = []
    for i in range(n):
        t = time.perf_counter()
        analyze_test_pulse(traces[i % len(traces)], rig.definition.sample_rate_hz, settings)
        times.append(time.perf_counter() - t)
    return 1.0 / _median_s(times)


def bench_sweep_and_analysis(n: int) -> float:
    """Pulses/s of simulate + deliver + analyse (unpaced)."""
    tp = TestPulse(SimRig(load_rig(), seed=2), sleep=lambda s: None)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        tp.pulse()
        times.append(time.perf_counter() - t)
    return 1.0 / _median_s(times)


def bench_paced(seconds: float = 2.0) -> tuple[float, float]:
    """Achieved rate and worst lateness (ms) of a paced 10 Hz test pulse."""
    tp = TestPulse(SimRig(load_rig(), seed=3, paced=True))
    n = round(seconds * tp.settings.rate_hz)
    t0 = time.monotonic()
    starts: list[float] = []
    tp.run(n, on_pulse=lambda r, s: starts.append(r.at_s))
    elapsed = time.monotonic() - t0
    late = max((s - (starts[0] + i / tp.settings.rate_hz)) * 1000.0 for i, s in enumerate(starts))
    return n / elapsed, late


def bench_headless_setup() -> float:
    """Wall seconds of a whole headless automatic set-up on the sim rig."""
    vc = VirtualClock()
    t = time.perf_counter()
    run_setup(
        SimRig(load_rig(), seed=4),
        proto.paper_condition(25, 50),
        auto=True,
        clock=vc.now,
        sleep=vc.sleep,
    )
    return time.perf_counter() - t


def main() -> None:
    """Run every measurement and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulses", type=int, default=200)
    args = parser.parse_args()
    a = bench_analysis(args.pulses)
    print(f"analysis alone:          {a:8.0f} pulses/s ({1000 / a:.2f} ms per pulse)")
    b = bench_sweep_and_analysis(args.pulses)
    print(
        f"sim sweep + analysis:    {b:8.0f} pulses/s ({1000 / b:.2f} ms per pulse; "
        f"{b / 10:.0f}x the 10 pulses/s needed)"
    )
    rate, late = bench_paced()
    print(f"paced at 10 Hz for 2 s:  {rate:8.2f} pulses/s achieved, worst lateness {late:.1f} ms")
    print(f"headless set-up (--auto): {bench_headless_setup():7.2f} s wall")


if __name__ == "__main__":
    main()
