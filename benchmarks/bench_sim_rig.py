"""Simulated rig speed: fast-mode speed-up over real time, and paced-mode chunk timing.

Run: .venv/bin/python benchmarks/bench_sim_rig.py
"""

from __future__ import annotations

import statistics
import time

from rigctl import protocol as proto
from rigctl.hardware import Chunk, SimRig, load_rig


def fast_mode(repeats: int = 20) -> None:
    rig = SimRig(load_rig(), seed=1)
    for key in ("25-50", "50-25"):
        exp = proto.load(f"protocols/theta-{key}.json")
        prepared = rig.prepare(proto.compile_induction(exp.induction), "induction")
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            rig.run(prepared)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(
            f"induction {key} at 20 kHz ({prepared.duration_s:.2f} s sweep): "
            f"median {med * 1e3:.1f} ms -> {prepared.duration_s / med:.0f}x faster than real time"
            f" (target >= 100x)"
        )


def paced_mode() -> None:
    rig = SimRig(load_rig(), seed=1, paced=True)
    exp = proto.load("protocols/theta-25-50.json")
    prepared = rig.prepare(proto.compile_induction(exp.induction), "induction")
    lateness: list[float] = []
    t0 = time.monotonic()

    def on_chunk(chunk: Chunk) -> None:
        due = chunk.stop / chunk.sample_rate_hz
        lateness.append(time.monotonic() - t0 - due)

    rig.run(prepared, on_chunk)
    worst = max(abs(x) for x in lateness)
    print(
        f"paced induction ({prepared.duration_s:.2f} s, {len(lateness)} chunks of 50 ms): chunk "
        f"delivery vs schedule median {statistics.median(lateness) * 1e3:+.2f} ms, "
        f"worst {worst * 1e3:.2f} ms (target within 10 ms)"
    )


if __name__ == "__main__":
    fast_mode()
    paced_mode()
