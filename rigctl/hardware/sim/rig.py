"""The simulated rig: the default backend, a CA1 neuron with a plastic synapse.

It takes the same prepared waveforms as the NI rig, simulates the cell's membrane
potential, and delivers it in chunks, either paced in real time (like a rig) or as fast
as possible (dry runs, tests). During a sweep with theta windows, the synaptic weight
changes by the kinase rule computed from the stimulation pulses actually delivered and
the spikes the simulated cell actually fired; the change is expressed in later EPSPs with
a time course.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.hardware.base import (
    Chunk,
    ChunkCallback,
    PreparedSweep,
    SweepResult,
    prepare_checked,
    pulse_edges,
    recheck_prepared,
    take_latched_abort,
)
from rigctl.hardware.definition import RigDefinition, SimCellSettings
from rigctl.hardware.intensity import check_intensity
from rigctl.hardware.sim.cell import CellOutput, CellParams, simulate_cell
from rigctl.hardware.sim.recruitment import (
    DEFAULT_REFERENCE_UA,
    RecruitmentCurve,
    recruitment_curve,
    series_resistance_mohm,
)
from rigctl.plasticity import KinaseParams, kinase_dwt, weight_from_dwt
from rigctl.protocol import CompiledSweep, Waveforms

__all__ = ["SimRig", "SimulatedCell", "cell_params", "cell_variation"]


def cell_variation(settings: SimCellSettings, seed: int) -> tuple[float, float]:
    """Per-cell EPSP trend (fraction per hour) and plasticity scale, from ``variability``.

    Real cells differ in how much plasticity they express and their EPSPs run up or down
    over a long recording; both spread the outcome across cells far more than the cells'
    passive properties do. Zero variability gives an ideal, stable cell. The plasticity
    scale is lognormal with its mean corrected to 1 (``exp(s N - s**2 / 2)``, ``s = 3 cv``),
    so cells are on average as plastic as the rig file's ``expression_lrate`` says.
    """
    if settings.variability <= 0:
        return 0.0, 1.0
    rng = np.random.default_rng([seed, 0x5EED])
    cv = settings.variability
    trend = float(2.0 * cv * rng.standard_normal())
    s = 3.0 * cv
    scale = float(math.exp(s * rng.standard_normal() - s * s / 2.0))
    return trend, scale


def cell_params(settings: SimCellSettings, seed: int) -> CellParams:
    """The cell of a rig file, with seeded cell-to-cell variability if requested."""
    p = CellParams(
        resting_mv=settings.resting_mv,
        input_resistance_mohm=settings.input_resistance_mohm,
        tau_m_ms=settings.tau_m_ms,
        epsp_mv=settings.epsp_mv,
        epsp_cv=settings.epsp_cv,
        noise_mv=settings.noise_mv,
        series_resistance_mohm=series_resistance_mohm(seed),
    )
    if settings.variability <= 0:
        return p
    rng = np.random.default_rng([seed, 0xCE11])
    cv = settings.variability

    def jitter(x: float) -> float:
        return float(x * math.exp(cv * rng.standard_normal() - cv * cv / 2))

    return replace(
        p,
        input_resistance_mohm=jitter(p.input_resistance_mohm),
        tau_m_ms=jitter(p.tau_m_ms),
        epsp_mv=jitter(p.epsp_mv),
        resting_mv=p.resting_mv + 2.0 * rng.standard_normal(),
        adapt_pa=jitter(p.adapt_pa),
    )


@dataclass
class _WeightChange:
    at_s: float
    before: float
    after: float


class SimulatedCell:
    """A simulated neuron with a plastic synapse and a clock (seconds of experiment time).

    Parameters
    ----------
    params
        The cell's biophysics.
    seed
        Seed of every random draw (EPSP variability, noise).
    plasticity
        Whether theta-window sweeps change the synaptic weight.
    expression_tau_s
        Time constant with which a weight change is expressed in EPSPs.
    kinase
        Cascade constants of the synapse's kinase rule (Axon v2 defaults).
    epsp_trend_per_hour, plasticity_scale
        This cell's slow EPSP trend and its plasticity relative to the typical cell.
    expression_lrate
        Learning rate of the dWt -> weight mapping of the typical cell (the rig file's
        ``sim.expression_lrate``, with its basis there).
    """

    def __init__(
        self,
        params: CellParams,
        seed: int = 0,
        *,
        plasticity: bool = True,
        expression_tau_s: float = 30.0,
        kinase: KinaseParams | None = None,
        epsp_trend_per_hour: float = 0.0,
        plasticity_scale: float = 1.0,
        expression_lrate: float = 0.03378,
    ) -> None:
        self.params = params
        self.seed = seed
        self.plasticity = plasticity
        self.expression_tau_s = expression_tau_s
        self.kinase = KinaseParams() if kinase is None else kinase
        self.epsp_trend_per_hour = epsp_trend_per_hour
        self.plasticity_scale = plasticity_scale
        self.recruitment: RecruitmentCurve | None = None
        self.stim_intensity_ua = DEFAULT_REFERENCE_UA
        self.expression_lrate = expression_lrate
        self.clock_s = 0.0
        self._sweeps = 0
        self._change = _WeightChange(0.0, 1.0, 1.0)
        self.history: list[dict[str, Any]] = []

    def state(self) -> dict[str, float | int]:
        """The cell's changing state (clock, sweep count, weight change), as plain data."""
        c = self._change
        return {
            "seed": self.seed,
            "clock_s": self.clock_s,
            "sweeps": self._sweeps,
            "change_at_s": c.at_s,
            "weight_before": c.before,
            "weight_after": c.after,
        }

    def restore(self, state: dict[str, float | int]) -> None:
        """Continue from a :meth:`state` (the same cell, patched across commands)."""
        if int(state["seed"]) != self.seed:
            raise ValueError(
                f"the saved cell has seed {state['seed']}, this rig's cell has seed {self.seed}"
            )
        self.clock_s = float(state["clock_s"])
        self._sweeps = int(state["sweeps"])
        self._change = _WeightChange(
            float(state["change_at_s"]), float(state["weight_before"]), float(state["weight_after"])
        )

    def weight_at(self, t_s: float) -> float:
        """Synaptic weight expressed at experiment time ``t_s`` (1 = baseline)."""
        c = self._change
        if t_s <= c.at_s:
            return c.before
        if self.expression_tau_s <= 0:
            return c.after
        return c.after + (c.before - c.after) * math.exp(-(t_s - c.at_s) / self.expression_tau_s)

    @property
    def target_weight(self) -> float:
        """Weight the synapse is heading to (after expression completes)."""
        return self._change.after

    def respond(
        self,
        command_pa: np.ndarray,
        stim: np.ndarray,
        sample_rate_hz: float,
        *,
        sweep: CompiledSweep | None = None,
        at_s: float | None = None,
        learn: bool = True,
    ) -> tuple[CellOutput, dict[str, Any]]:
        """Simulate one sweep; apply plasticity if it has theta windows. Advances the clock.

        With ``learn=False`` the plasticity is left to :meth:`learn`, so that a rig can
        apply it only for the part of the sweep it actually delivered.
        """
        t0 = self.clock_s if at_s is None else max(at_s, 0.0)
        # Slow run-up or run-down of the synapse over the recording, on top of plasticity.
        weight = self.weight_at(t0) * max(0.2, 1.0 + self.epsp_trend_per_hour * t0 / 3600.0)
        if self.recruitment is not None:  # fibres recruited at the isolator's intensity
            weight *= self.recruitment.relative(self.stim_intensity_ua)
        rng = np.random.default_rng([self.seed, self._sweeps])
        self._sweeps += 1
        out = simulate_cell(command_pa, stim, sample_rate_hz, self.params, weight=weight, rng=rng)
        duration_s = command_pa.shape[0] / sample_rate_hz
        info: dict[str, Any] = {
            "sim_weight": weight,
            "sim_spike_times_ms": out.spike_times_ms(sample_rate_hz).tolist(),
            "sim_pulse_times_ms": (out.pulse_index * 1000.0 / sample_rate_hz).tolist(),
            "sim_at_s": t0,
        }
        self.clock_s = t0 + duration_s
        if learn:
            info.update(self.learn(stim, out, sample_rate_hz, sweep, t0))
        return out, info

    def learn(
        self,
        stim: np.ndarray,
        out: CellOutput,
        sample_rate_hz: float,
        sweep: CompiledSweep | None,
        t0: float,
        delivered: int | None = None,
    ) -> dict[str, Any]:
        """Change the synaptic weight by the kinase rule for the theta windows delivered.

        Uses the stimulation pulses and the cell's spikes in the first ``delivered``
        samples (all by default); a window cut short by an abort does not count.
        """
        if not self.plasticity or sweep is None or sweep.window_length is None:
            return {}
        n = stim.shape[0] if delivered is None else min(delivered, stim.shape[0])
        window_ms = float(sweep.window_length)
        starts = sweep.window_starts_ms
        starts = starts[starts + window_ms <= n * 1000.0 / sample_rate_hz]
        if starts.size == 0:
            return {"sim_dwt_total": 0.0, "sim_weight_ratio": 1.0}
        on, _ = pulse_edges(stim[:n])
        spikes = out.spike_index[out.spike_index < n]
        res = kinase_dwt(
            on * 1000.0 / sample_rate_hz,
            spikes * 1000.0 / sample_rate_hz,
            starts,
            window_ms,
            self.kinase,
            end_ms=math.floor(n * 1000.0 / sample_rate_hz),
        )
        lrate = self.expression_lrate * self.plasticity_scale
        ratio = weight_from_dwt(res.per_window, lrate)
        t_end = t0 + n / sample_rate_hz
        now = self.weight_at(t_end)
        self._change = _WeightChange(t_end, now, self._change.after * ratio)
        self.history.append({"at_s": t_end, "dwt": res.total, "ratio": ratio})
        return {
            "sim_dwt_total": res.total,
            "sim_dwt_per_window": res.per_window.tolist(),
            "sim_weight_ratio": ratio,
            "sim_target_weight": self._change.after,
        }


class SimRig:
    """The simulated rig (default backend): same interface and safety as the NI rig.

    Parameters
    ----------
    definition
        The rig file (``backend = "sim"``).
    paced
        Deliver chunks in real time (as a rig would); otherwise as fast as possible.
    seed
        Overrides the rig file's cell seed.
    """

    def __init__(
        self,
        definition: RigDefinition,
        *,
        paced: bool = False,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.definition = definition
        self.paced = paced
        s = definition.sim.seed if seed is None else seed
        trend, scale = cell_variation(definition.sim, s)
        self.cell = SimulatedCell(
            cell_params(definition.sim, s),
            s,
            plasticity=definition.sim.plasticity,
            expression_tau_s=definition.sim.expression_tau_s,
            epsp_trend_per_hour=trend,
            plasticity_scale=scale,
            expression_lrate=definition.sim.expression_lrate,
        )
        reference = definition.stimulator.amplitude_ua or DEFAULT_REFERENCE_UA
        self.cell.recruitment = recruitment_curve(s, reference)
        self.cell.stim_intensity_ua = reference
        self._clock = clock
        self._sleep = sleep
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self.output_pa = 0.0
        self.output_ttl = 0
        self.running = False
        self._closed = False
        atexit.register(self.safe_state)

    # ------------------------------------------------------------------ Rig protocol

    def prepare(self, source: CompiledSweep | Waveforms, label: str = "sweep") -> PreparedSweep:
        """Render ``source`` at the rig's rate and check it against the rig's limits."""
        return prepare_checked(self.definition, source, label)

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        """Simulate and deliver the sweep in chunks; outputs end at rest whatever happens."""
        if self._closed:
            raise RuntimeError("the simulated rig is closed")
        recheck_prepared(self.definition, prepared)  # limits, again: nothing output yet
        with self._lock:
            started = datetime.now(UTC)
            fs = prepared.sample_rate_hz
            n = prepared.n_samples
            if take_latched_abort(self._abort):
                self.safe_state()
                return self._not_started(prepared, started, at_s)
            self.running = True
            try:
                # The sweep starts now: chunk k is due when its last sample has been
                # "acquired", counted from here (the simulation itself runs ahead).
                t_start = self._clock()
                self.output_pa = float(prepared.command_pa[0])
                self.output_ttl = int(prepared.stim[0])
                out, info = self.cell.respond(
                    prepared.command_pa,
                    prepared.stim,
                    fs,
                    sweep=prepared.sweep,
                    at_s=at_s,
                    learn=False,
                )
                acquired = self._deliver(out.vm_mv, n, fs, t_start, on_chunk)
            finally:
                self.safe_state()
                self.running = False
            complete = acquired == n
            if not complete:
                info["aborted_at_sample"] = acquired
                self._abort.clear()  # honoured: the request is consumed by this sweep
            # The synapse learns from what the cell actually received.
            info.update(
                self.cell.learn(prepared.stim, out, fs, prepared.sweep, info["sim_at_s"], acquired)
            )
            return SweepResult(
                label=prepared.label,
                sample_rate_hz=fs,
                vm_mv=out.vm_mv[:acquired].copy(),
                command_pa=np.array(prepared.command_pa[:acquired]),
                stim=np.array(prepared.stim[:acquired]),
                started_at=started,
                settings=self.definition.settings_record(),
                complete=complete,
                at_s=at_s,
                extra=info,
            )

    def _deliver(
        self,
        vm_mv: npt.NDArray[np.float64],
        n: int,
        fs: float,
        t_start: float,
        on_chunk: ChunkCallback | None,
    ) -> int:
        """Hand ``n`` samples of ``vm_mv`` out in chunks, paced if asked; those acquired."""
        chunk = max(1, round(self.definition.chunk_ms * fs / 1000.0))
        for start in range(0, n, chunk):
            if self._abort.is_set():
                return start
            stop = min(n, start + chunk)
            if self.paced:
                wait = t_start + stop / fs - self._clock()
                if wait > 0:
                    self._sleep(wait)
            if on_chunk is not None:
                on_chunk(Chunk(start, vm_mv[start:stop], fs, n))
        return n

    def _not_started(
        self, prepared: PreparedSweep, started: datetime, at_s: float | None
    ) -> SweepResult:
        return SweepResult(
            label=prepared.label,
            sample_rate_hz=prepared.sample_rate_hz,
            vm_mv=np.zeros(0),
            command_pa=np.zeros(0),
            stim=np.zeros(0, dtype=np.uint8),
            started_at=started,
            settings=self.definition.settings_record(),
            complete=False,
            at_s=at_s,
            extra={"aborted_at_sample": 0},
        )

    def abort(self) -> None:
        """Stop the running sweep at the next chunk boundary, or the next sweep at once.

        The request is latched: it is consumed by the sweep it stops (the one running, or
        the next one, which then outputs nothing), never cleared by a sweep's start.
        """
        self._abort.set()

    def clear_abort(self) -> None:
        """Forget an abort request no sweep has honoured (a new run starts afresh)."""
        self._abort.clear()

    def safe_state(self) -> None:
        """Outputs at rest: 0 pA, TTL low."""
        self.output_pa = 0.0
        self.output_ttl = 0

    def close(self) -> None:
        """Rest the outputs and refuse further sweeps."""
        self.safe_state()
        self._closed = True
        atexit.unregister(self.safe_state)

    # ------------------------------------------------------------------ capabilities

    def set_paced(self, paced: bool) -> None:
        """Deliver chunks in real time (``True``) or as fast as possible (:class:`PacedRig`)."""
        self.paced = paced

    def state(self) -> dict[str, float | int]:
        """The simulated cell's state, JSON-able (:class:`StatefulRig`)."""
        return self.cell.state()

    def restore_state(self, state: Mapping[str, float | int], *, elapsed_s: float = 0.0) -> None:
        """Restore the cell saved by :meth:`state`, then advance its clock by ``elapsed_s``."""
        self.cell.restore(dict(state))
        self.cell.clock_s += elapsed_s

    @property
    def outputs_at_rest(self) -> bool:
        """Whether the command is 0 pA and the TTL low."""
        return self.output_pa == 0.0 and self.output_ttl == 0

    @property
    def stim_intensity_ua(self) -> float:
        """The isolator's current intensity (µA): front panel or analog line."""
        return self.cell.stim_intensity_ua

    def set_stim_intensity_ua(self, ua: float) -> None:
        """Turn the simulated isolator's knob (manual) or drive its analog input (analog).

        Raises
        ------
        RigError
            If ``ua`` is outside 0 to the isolator's ``max_intensity_ua``.
        """
        check_intensity(self.definition, ua)
        self.cell.stim_intensity_ua = float(ua)
