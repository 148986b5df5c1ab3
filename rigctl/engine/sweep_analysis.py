"""The runner's online analysis of each sweep: the probe tracker and the induction step.

:class:`ProbeTracker` keeps what the probes of one run have shown so far (the baseline
probes, the EPSP series) and analyses each new probe against it: EPSP and input
resistance, the EPSP normalized to the baseline mean, health flags and the Rin auto-stop
of the follow-up. :func:`induction_outcome` and :func:`induction_analysis` describe how
much of the induction was delivered and how each phase fired. Nothing here emits,
journals or locks: the runner does that with what these return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rigctl import protocol as proto
from rigctl.engine.analysis import (
    SPIKE_FLAG,
    AnalysisSettings,
    BaselineCheck,
    ProbeAnalysis,
    analyze_probe,
    check_baseline,
    health_flags,
    summarize_recording,
    windows_delivered,
)
from rigctl.engine.lifecycle import Segment
from rigctl.engine.measures import probe_measures
from rigctl.engine.rinwatch import RinStopSettings, RinWatch
from rigctl.engine.spikes import PhaseRate, phase_rates
from rigctl.hardware import SweepResult

__all__ = ["ProbeStep", "ProbeTracker", "finite_mean", "induction_analysis", "induction_outcome"]

_FLAGS_AFTER = 3
"""Baseline probes needed before a baseline probe is checked against their means."""


def finite_mean(values: Iterable[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


@dataclass(frozen=True)
class ProbeStep:
    """What the analysis of one probe found.

    Attributes
    ----------
    probe
        EPSP, baseline, resting Vm and input resistance of the probe.
    normalized
        The EPSP over the baseline mean (NaN when the probe spiked or there is no mean).
    analysis
        The sweep record's analysis dictionary (measures, ``normalized_epsp``, ``flags``).
    flags
        The health flags, :data:`~rigctl.engine.analysis.SPIKE_FLAG` first if it spiked.
    auto_stop
        Why the Rin watch ends the follow-up at this probe (None: keep going).
    """

    probe: ProbeAnalysis
    normalized: float
    analysis: dict[str, Any]
    flags: list[str] = field(default_factory=list)
    auto_stop: str | None = None


class ProbeTracker:
    """The probes of one run so far, and the analysis of the next one against them.

    Parameters
    ----------
    settings
        Windows and thresholds of the online analysis.
    rin_stop
        Stop the follow-up when Rin leaves its band (None: off).
    """

    def __init__(self, settings: AnalysisSettings, rin_stop: RinStopSettings | None) -> None:
        self.settings = settings
        self.baseline: list[ProbeAnalysis] = []
        self.baseline_times_min: list[float] = []
        self.probe_at: list[float] = []
        self.epsps: list[float] = []
        self.spiked: list[bool] = []
        self._rin_watch = RinWatch(rin_stop) if rin_stop else None

    def analyze(
        self, result: SweepResult, sweep: proto.CompiledSweep, segment: Segment, actual: float
    ) -> ProbeStep:
        """Analyse a complete probe played at ``actual`` s and add it to the series."""
        fs = result.sample_rate_hz
        pa = analyze_probe(result.vm_mv, fs, sweep, self.settings)
        analysis: dict[str, Any] = pa.as_dict()
        extra = probe_measures(result.vm_mv, fs, sweep, self.settings)
        analysis.update({k: v for k, v in extra.as_dict().items() if k != "epsp_mv"})
        if segment == Segment.BASELINE and not pa.spike_in_probe:
            self.baseline.append(pa)
            self.baseline_times_min.append(actual / 60.0)
        base_mean = finite_mean(b.epsp_mv for b in self.baseline)
        usable = not pa.spike_in_probe and base_mean and math.isfinite(base_mean)
        norm = pa.epsp_mv / base_mean if usable else math.nan
        analysis["normalized_epsp"] = norm
        base_rin = finite_mean(b.rin_mohm for b in self.baseline)
        base_rest = finite_mean(b.rest_mv for b in self.baseline)
        checked = segment != Segment.BASELINE or len(self.baseline) > _FLAGS_AFTER
        flags = health_flags(pa, base_rin, base_rest, self.settings) if checked else []
        if pa.spike_in_probe:
            flags.insert(0, SPIKE_FLAG)
        analysis["flags"] = flags
        stop = None
        if segment == Segment.FOLLOWUP and self._rin_watch is not None:
            stop = self._rin_watch.observe(pa.rin_mohm, base_rin)
        self.probe_at.append(actual)
        self.epsps.append(pa.epsp_mv)
        self.spiked.append(pa.spike_in_probe)
        return ProbeStep(pa, norm, analysis, flags, stop)

    def check_baseline(self) -> BaselineCheck:
        """Stability of the baseline probes so far."""
        return check_baseline(
            self.baseline_times_min,
            [b.epsp_mv for b in self.baseline],
            [b.rin_mohm for b in self.baseline],
            self.settings,
        )

    def summary(self, induction_s: float | None) -> dict[str, Any]:
        """The recording summary of the probes so far (induction at ``induction_s``)."""
        t_ind = math.inf if induction_s is None else induction_s
        rs = summarize_recording(
            [(a - t_ind) / 60.0 for a in self.probe_at],
            self.epsps,
            self.settings,
            excluded=self.spiked,
        )
        return rs.as_dict()


def induction_outcome(
    result: SweepResult, sweep: proto.CompiledSweep, cut: str | None
) -> dict[str, Any]:
    """How much of the induction was delivered (the journal's ``induction_cut`` fields).

    ``cut`` is why an incomplete sweep ended (``abort``, ``halt`` or ``fault``).
    """
    return {
        "complete": result.complete,
        "windows_delivered": windows_delivered(sweep, result.n_samples, result.sample_rate_hz),
        "windows_planned": len(sweep.window_starts),
        "cut": None if result.complete else cut,
    }


def induction_analysis(
    result: SweepResult, sweep: proto.CompiledSweep, outcome: dict[str, Any]
) -> tuple[list[PhaseRate], dict[str, Any]]:
    """The firing of each phase of the delivered windows, and the sweep's analysis."""
    delivered = outcome["windows_delivered"]
    rates = phase_rates(result.vm_mv, result.sample_rate_hz, sweep, windows=delivered)
    analysis = {
        "phase_rates": [r.as_dict() for r in rates],
        "windows_delivered": delivered,
        "windows_planned": outcome["windows_planned"],
    }
    return rates, analysis
