"""Test rigs wrapping the simulated rig: gated (the test lets each sweep through), failing."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from rigctl.hardware import ChunkCallback, PreparedSweep, RigError, SimRig, SweepResult, load_rig
from rigctl.protocol import CompiledSweep, Waveforms


class WrappedRig:
    """Delegates to a SimRig; subclasses change what happens around each sweep."""

    def __init__(self, seed: int = 1) -> None:
        self.inner = SimRig(load_rig(), seed=seed)
        self.definition = self.inner.definition
        self.runs = 0
        self.safe_calls = 0

    def prepare(self, source: CompiledSweep | Waveforms, label: str = "sweep") -> PreparedSweep:
        return self.inner.prepare(source, label)

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        self.runs += 1
        return self.inner.run(prepared, on_chunk, at_s=at_s)

    def abort(self) -> None:
        self.inner.abort()

    def safe_state(self) -> None:
        self.safe_calls += 1
        self.inner.safe_state()

    def close(self) -> None:
        self.inner.close()


class GatedRig(WrappedRig):
    """Each sweep waits for the test to release it (or for an abort)."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__(seed)
        self.gate = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.aborted = threading.Event()
        self.outputs_active = False

    def release(self, n: int = 1) -> None:
        for _ in range(n):
            self.gate.release()

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        self.outputs_active = True
        self.started.release()
        while not self.gate.acquire(timeout=0.01):
            if self.aborted.is_set():
                self.aborted.clear()
                self.outputs_active = False
                result = super().run(prepared, on_chunk, at_s=at_s)
                return replace(result, complete=False)
        result = super().run(prepared, on_chunk, at_s=at_s)
        self.outputs_active = False
        return result

    def abort(self) -> None:
        self.aborted.set()
        super().abort()

    def safe_state(self) -> None:
        self.outputs_active = False
        super().safe_state()


class FailingRig(WrappedRig):
    """Raises a rig error on sweep number ``fail_at`` (counting from 1)."""

    def __init__(self, fail_at: int, seed: int = 1) -> None:
        super().__init__(seed)
        self.fail_at = fail_at

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        if self.runs + 1 == self.fail_at:
            self.runs += 1
            self.inner.output_pa = 250.0  # as if the failure struck mid-sweep
            raise RigError("DAQ error -200279: the application is not able to keep up")
        return super().run(prepared, on_chunk, at_s=at_s)


def short(exp: Any, baseline_min: float = 1.0, followup_min: float = 2.0) -> Any:
    """The experiment with a short probe schedule (20 s interval)."""
    return exp.replace(
        probes=exp.probes.replace(baseline_min=baseline_min, followup_min=followup_min)
    )
