"""What the run panel keeps of a running experiment, for its plots (plain Python, no Qt).

The runner reports every acquired sweep; the panel keeps a small :class:`SweepInfo` of
each (no arrays) in a :class:`RunHistory`, which gives the plots their points: the
EPSP normalized to the baseline mean, input resistance and resting Vm over time since
the induction, the baseline band, and which probes were flagged for which quantity.

With a manual induction the onset is not known until the user starts it; until then
the time axis counts from the earliest possible onset (the next sweep slot), and the
points move into place when the induction sweep arrives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.engine import AnalysisSettings, ProbeAnalysis, SweepRecord, health_flags
from rigctl.engine.analysis import SPIKE_FLAG, sd_sem
from rigctl.engine.sweep_analysis import finite_mean

__all__ = ["BaselineStats", "PhaseRateInfo", "RunHistory", "SweepInfo"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class PhaseRateInfo:
    """How one induction phase fired, judged by its spike count per window (the engine's verdict).

    Attributes
    ----------
    phase, target_hz
        The phase and its target rate.
    achieved_hz
        The rate the mean spike count implies.
    ok
        The engine's verdict: the count is within 10 % and off in at most one window.
    expected_per_window
        Spikes per window the target implies (0: not known).
    windows_missed, n_windows
        Windows whose count differs from the expected one, of all windows delivered.
    first_latency_ms
        Mean latency of the first spike from the phase start (NaN: no spike).
    """

    phase: str
    target_hz: float
    achieved_hz: float
    ok: bool
    expected_per_window: int = 0
    windows_missed: int = 0
    n_windows: int = 0
    first_latency_ms: float = math.nan

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> PhaseRateInfo:
        """From one entry of an induction sweep's ``phase_rates`` analysis."""
        return cls(
            phase=str(data.get("phase", "")),
            target_hz=_float(data.get("target_hz")),
            achieved_hz=_float(data.get("achieved_hz")),
            ok=bool(data.get("ok", True)),
            expected_per_window=int(_float(data.get("expected_per_window", 0)) or 0),
            windows_missed=int(_float(data.get("windows_missed", 0)) or 0),
            n_windows=int(_float(data.get("n_windows", 0)) or 0),
            first_latency_ms=_float(data.get("first_latency_ms")),
        )


@dataclass(frozen=True)
class SweepInfo:
    """What the panel keeps of one acquired sweep (its analysis, no arrays).

    Attributes
    ----------
    index
        Position of the sweep in the recording (0-based).
    kind
        ``"probe"`` or ``"induction"``.
    segment
        ``"baseline"``, ``"induction"`` or ``"followup"``.
    at_s
        Experiment time of the sweep start (s).
    since_induction_s
        Time relative to the induction onset (s); NaN while a manual onset is unknown.
    epsp_mv, rin_mohm, rest_mv
        The probe analysis (NaN for the induction sweep).
    flags
        Health warnings the runner raised for this probe.
    phase_rates
        Achieved rate per phase (induction sweep only).
    planned_s
        The sweep's slot in the compiled schedule (NaN: not known).
    complete, cut
        Whether the sweep played to its end; else why it was cut (abort, halt, fault).
    windows_delivered, windows_planned
        Theta windows delivered and planned (induction sweep only).
    """

    index: int
    kind: str
    segment: str
    at_s: float
    since_induction_s: float
    epsp_mv: float = math.nan
    rin_mohm: float = math.nan
    rest_mv: float = math.nan
    flags: tuple[str, ...] = ()
    phase_rates: tuple[PhaseRateInfo, ...] = ()
    planned_s: float = math.nan
    complete: bool = True
    cut: str | None = None
    windows_delivered: int = 0
    windows_planned: int = 0

    @property
    def spike_in_probe(self) -> bool:
        """The probe fired an action potential: its EPSP is excluded (the engine's flag)."""
        return SPIKE_FLAG in self.flags

    @classmethod
    def of(cls, record: SweepRecord) -> SweepInfo:
        """The summary of a sweep record (called on the runner's thread)."""
        info = cls.from_parts(
            index=record.index,
            kind=record.kind,
            segment=record.segment,
            at_s=record.at_s,
            since_induction_s=record.since_induction_s,
            analysis=record.analysis,
        )
        planned = math.nan if record.planned_s is None else float(record.planned_s)
        return replace(info, planned_s=planned, complete=record.complete, cut=record.cut)

    @classmethod
    def from_parts(
        cls,
        *,
        index: int,
        kind: str,
        segment: str,
        at_s: float,
        since_induction_s: float,
        analysis: Mapping[str, Any],
    ) -> SweepInfo:
        """Build from the fields of a sweep record and its analysis dictionary."""
        rates = tuple(
            PhaseRateInfo.of(r) for r in analysis.get("phase_rates", ()) if isinstance(r, Mapping)
        )
        return cls(
            index=int(index),
            kind=str(kind),
            segment=str(segment),
            at_s=float(at_s),
            since_induction_s=_float(since_induction_s),
            epsp_mv=_float(analysis.get("epsp_mv")),
            rin_mohm=_float(analysis.get("rin_mohm")),
            rest_mv=_float(analysis.get("rest_mv")),
            flags=tuple(str(f) for f in analysis.get("flags", ())),
            phase_rates=rates,
            windows_delivered=int(_float(analysis.get("windows_delivered", 0)) or 0),
            windows_planned=int(_float(analysis.get("windows_planned", 0)) or 0),
        )


def _finite_sd(values: Sequence[float]) -> float:
    sd, _ = sd_sem(np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64))
    return sd


@dataclass(frozen=True)
class BaselineStats:
    """Means of the baseline probes (what the follow-up is compared with)."""

    n: int
    epsp_mean_mv: float
    epsp_sd_mv: float
    rin_mean_mohm: float
    rest_mean_mv: float

    @property
    def normalized_sd(self) -> float:
        """SD of the baseline EPSPs in units of their mean (the band's half-width)."""
        if math.isfinite(self.epsp_mean_mv) and self.epsp_mean_mv > 0:
            return self.epsp_sd_mv / self.epsp_mean_mv
        return math.nan


@dataclass
class RunHistory:
    """The sweeps of one run, as the plots need them (GUI thread only).

    Parameters
    ----------
    interval_s
        Time between probe sweeps (places a manual induction's provisional onset).
    settings
        Thresholds of the health flags (as the runner used them).
    """

    interval_s: float
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    probes: list[SweepInfo] = field(default_factory=list)
    induction: SweepInfo | None = None
    _planned_onset_s: float | None = None

    def add(self, info: SweepInfo) -> None:
        """Keep one acquired sweep."""
        if info.kind == "induction":
            self.induction = info
            return
        self.probes.append(info)
        if (
            self._planned_onset_s is None
            and info.segment == "baseline"
            and math.isfinite(info.since_induction_s)
        ):
            self._planned_onset_s = info.at_s - info.since_induction_s

    # ------------------------------------------------------------------ onset

    @property
    def onset_known(self) -> bool:
        """Whether the induction onset is fixed (it is in advance with an automatic one)."""
        return self.induction is not None or self._planned_onset_s is not None

    @property
    def onset_s(self) -> float:
        """Experiment time of the induction onset (s), provisional while unknown."""
        if self.induction is not None:
            return self.induction.at_s
        if self._planned_onset_s is not None:
            return self._planned_onset_s
        base = [p.at_s for p in self.probes if p.segment == "baseline"]
        return (max(base) + self.interval_s) if base else 0.0

    # ------------------------------------------------------------------ series

    def __len__(self) -> int:
        return len(self.probes)

    def times_min(self) -> FloatArray:
        """Time of every probe since the induction onset (min)."""
        onset = self.onset_s
        return np.array([(p.at_s - onset) / 60.0 for p in self.probes], dtype=np.float64)

    def epsp_mv(self) -> FloatArray:
        """EPSP amplitude of every probe (mV)."""
        return np.array([p.epsp_mv for p in self.probes], dtype=np.float64)

    def rin_mohm(self) -> FloatArray:
        """Input resistance of every probe (MΩ)."""
        return np.array([p.rin_mohm for p in self.probes], dtype=np.float64)

    def rest_mv(self) -> FloatArray:
        """Resting Vm of every probe (mV)."""
        return np.array([p.rest_mv for p in self.probes], dtype=np.float64)

    def is_baseline(self) -> BoolArray:
        """Which probes belong to the baseline."""
        return np.array([p.segment == "baseline" for p in self.probes], dtype=np.bool_)

    def excluded(self) -> BoolArray:
        """Which probes had a spike: excluded from the EPSP time course and the summary."""
        return np.array([p.spike_in_probe for p in self.probes], dtype=np.bool_)

    def baseline(self) -> BaselineStats:
        """Means (and the EPSP's SD) of the baseline probes so far (spiking probes excluded)."""
        base = [p for p in self.probes if p.segment == "baseline"]
        epsps = [p.epsp_mv for p in base if not p.spike_in_probe]
        return BaselineStats(
            n=len(base),
            epsp_mean_mv=finite_mean(epsps),
            epsp_sd_mv=_finite_sd(epsps),
            rin_mean_mohm=finite_mean([p.rin_mohm for p in base]),
            rest_mean_mv=finite_mean([p.rest_mv for p in base]),
        )

    def normalized(self, *, excluded: bool = False) -> FloatArray:
        """EPSP of every probe divided by the baseline mean (NaN before a baseline).

        A probe with a spike is NaN (excluded) unless ``excluded`` asks for its ratio
        anyway, to mark where it would have been.
        """
        mean = self.baseline().epsp_mean_mv
        e = self.epsp_mv()
        if not (math.isfinite(mean) and mean > 0):
            return np.full_like(e, math.nan)
        norm = e / mean
        if not excluded:
            norm[self.excluded()] = math.nan
        return norm

    def flagged(self) -> tuple[BoolArray, BoolArray]:
        """Which probes were flagged for their input resistance, and for their resting Vm.

        The runner's verdict decides whether a probe is flagged at all; the engine's own
        :func:`~rigctl.engine.health_flags` applied to one quantity at a time says which
        plot shows it. A flagged probe that neither quantity alone explains is marked in
        both.
        """
        stats = self.baseline()
        rin = np.zeros(len(self.probes), dtype=np.bool_)
        rest = np.zeros(len(self.probes), dtype=np.bool_)
        for i, p in enumerate(self.probes):
            if not [f for f in p.flags if f != SPIKE_FLAG]:  # a spike is no health flag
                continue
            only_rin = ProbeAnalysis(math.nan, math.nan, math.nan, p.rin_mohm)
            only_rest = ProbeAnalysis(math.nan, math.nan, p.rest_mv, math.nan)
            rin[i] = bool(health_flags(only_rin, stats.rin_mean_mohm, math.nan, self.settings))
            rest[i] = bool(health_flags(only_rest, math.nan, stats.rest_mean_mv, self.settings))
            if not (rin[i] or rest[i]):
                rin[i] = rest[i] = True
        return rin, rest

    def flagged_count(self) -> int:
        """Number of probes the runner flagged for their health (a spike is no health flag)."""
        return sum(1 for p in self.probes if any(f != SPIKE_FLAG for f in p.flags))
