"""At the rig before the baseline: the set-up clock, the EPSP search and the set-up record.

After break-in ("whole-cell") the experimenter runs a test pulse, calibrates the
postsynaptic currents and raises the isolator's intensity until the probe EPSP is about
5 mV, with 15-30 s between probes (probes themselves can induce plasticity). If that takes
longer than 5 minutes the cell is not used. :class:`SetupSession` drives these steps on a
borrowed rig without Qt; a widget calls the same methods (start/stop the test pulse, one
search step at a time) and listens to its signals. Everything found is gathered in a
:class:`SetupRecord` that the runner writes into the recording.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from rigctl import protocol as proto
from rigctl.engine.analysis import AnalysisSettings, analyze_probe
from rigctl.engine.current_calibration import calibrate_experiment
from rigctl.engine.signals import Signal
from rigctl.engine.slicelog import SliceLog
from rigctl.engine.testpulse import (
    TestPulse,
    TestPulseResult,
    TestPulseSettings,
    average_pulses,
)
from rigctl.hardware import Chunk, PreparedSweep, Rig, RigError
from rigctl.hardware.intensity import IntensityControl, check_intensity, intensity_control

__all__ = [
    "MIN_PROBE_INTERVAL_S",
    "EpspSearch",
    "ProbeOutcome",
    "SearchSettings",
    "SetupClock",
    "SetupRecord",
    "SetupSession",
    "start_warnings",
]

MIN_PROBE_INTERVAL_S = 15.0
"""Shortest interval between search probes without a stated reason (probes can induce)."""

IntensitySource = Callable[[int, "ProbeOutcome | None"], float | None]
"""Manual mode: asked before each probe for the front-panel intensity (µA); None stops."""


class SetupClock:
    """Time since "whole-cell", against the limit after which the cell is not used.

    Parameters
    ----------
    limit_s
        The set-up limit (default 5 min).
    now
        Time source in seconds (injectable: tests and the GUI's fake clock).
    """

    def __init__(self, limit_s: float = 300.0, now: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(limit_s) and limit_s > 0):
            raise ValueError(f"the set-up limit {limit_s!r} s must be a positive number")
        self.limit_s = float(limit_s)
        self._now = now
        self._t0: float | None = None
        self._t_end: float | None = None
        self.started_at: datetime | None = None
        self.over_limit_signal: Signal[float] = Signal("over_limit")
        self._warned = False

    def start(self, already_s: float = 0.0) -> None:
        """Start counting ("whole-cell"), ``already_s`` seconds ago; a restart counts anew."""
        if not (math.isfinite(already_s) and already_s >= 0):
            raise ValueError(f"whole-cell {already_s!r} s ago must be 0 or more")
        self._t0 = self._now() - already_s
        self._t_end = None
        self._warned = False
        self.started_at = datetime.now(UTC)

    def stop(self) -> float:
        """Freeze the clock (the recording starts); returns the set-up time (s)."""
        if self._t0 is None:
            raise RuntimeError("the set-up clock was never started (whole-cell)")
        if self._t_end is None:
            self._t_end = self._now()
        return self.elapsed_s

    @property
    def started(self) -> bool:
        """Whether whole-cell has been declared."""
        return self._t0 is not None

    @property
    def elapsed_s(self) -> float:
        """Seconds since whole-cell (0 before it)."""
        if self._t0 is None:
            return 0.0
        end = self._now() if self._t_end is None else self._t_end
        return max(0.0, end - self._t0)

    @property
    def remaining_s(self) -> float:
        """Seconds left before the limit (negative when over)."""
        return self.limit_s - self.elapsed_s

    @property
    def over_limit(self) -> bool:
        """Whether set-up has taken longer than the limit."""
        return self.started and self.elapsed_s > self.limit_s

    def check(self) -> bool:
        """Whether over the limit; emits ``over_limit_signal`` once when it first is."""
        over = self.over_limit
        if over and not self._warned:
            self._warned = True
            self.over_limit_signal.emit(self.elapsed_s)
        return over


@dataclass(frozen=True)
class SearchSettings:
    """The EPSP search: target band, probe interval and (analog) intensity steps.

    Attributes
    ----------
    target_mv, tolerance_mv
        The band (default 5 ± 1 mV).
    interval_s
        Time between probes (default 20 s); below :data:`MIN_PROBE_INTERVAL_S` only with
        ``interval_reason``, which is logged.
    start_ua, step_ua
        Automatic search: first intensity and step (µA). The search raises by ``step_ua``
        while below the band and bisects once it has been above it.
    confirm
        Probes at one intensity whose mean must be in the band.
    max_probes
        Give up after this many probes.
    """

    target_mv: float = 5.0
    tolerance_mv: float = 1.0
    interval_s: float = 20.0
    interval_reason: str = ""
    start_ua: float = 20.0
    step_ua: float = 10.0
    confirm: int = 2
    max_probes: int = 40

    def __post_init__(self) -> None:
        for name in ("target_mv", "tolerance_mv", "interval_s", "step_ua"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"EPSP search: {name} = {value!r} must be a positive number")
        if self.tolerance_mv >= self.target_mv:
            raise ValueError("EPSP search: tolerance_mv must be smaller than target_mv")
        if self.interval_s < MIN_PROBE_INTERVAL_S and not self.interval_reason.strip():
            raise ValueError(
                f"EPSP search: a {self.interval_s:g} s probe interval is under the "
                f"{MIN_PROBE_INTERVAL_S:g} s minimum (probes can induce plasticity); "
                "state a reason to override it"
            )
        if self.confirm < 1 or self.max_probes < 1:
            raise ValueError("EPSP search: confirm and max_probes must be at least 1")

    def in_band(self, epsp_mv: float) -> bool:
        """Whether ``epsp_mv`` lies in the target band."""
        return abs(epsp_mv - self.target_mv) <= self.tolerance_mv


@dataclass(frozen=True)
class ProbeOutcome:
    """One search probe: the intensity it was given (logged) and what it evoked."""

    index: int
    at_s: float
    intensity_ua: float
    intensity_entry: Literal["manual", "analog"]
    epsp_mv: float
    spike: bool
    rin_mohm: float
    rest_mv: float
    in_band: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files."""
        return asdict(self)


class EpspSearch:
    """Probes every ``interval_s`` until the EPSP is in the band (one :meth:`step` at a time).

    Parameters
    ----------
    rig
        The borrowed rig.
    probes
        The protocol's probe sweep (its test step and probe pulse).
    settings
        Band, interval and steps.
    auto
        Raise the intensity automatically (needs an analog isolator intensity).
    intensity_source
        Manual mode: asked for the front-panel intensity before each probe.
    clock, sleep
        Time source and sleeper (tests do not wait 20 s).
    """

    def __init__(
        self,
        rig: Rig,
        probes: proto.ProbeSchedule,
        settings: SearchSettings | None = None,
        *,
        auto: bool = False,
        intensity_source: IntensitySource | None = None,
        analysis: AnalysisSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.rig = rig
        self.settings = SearchSettings() if settings is None else settings
        self.sweep = proto.compile_probe(probes)
        self.prepared: PreparedSweep = rig.prepare(self.sweep, "EPSP search probe")
        self.control: IntensityControl | None = intensity_control(rig)
        if auto and (rig.definition.stimulator.intensity != "analog" or self.control is None):
            raise RigError(
                "an automatic EPSP search needs an isolator with an analog intensity input "
                '(stimulator.intensity = "analog" in the rig file); enter the intensity by hand'
            )
        if not auto and intensity_source is None:
            raise ValueError("a manual EPSP search needs an intensity_source (the user's entry)")
        self.auto = auto
        self.intensity_source = intensity_source
        self.analysis = analysis
        self._clock = clock
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self.outcomes: list[ProbeOutcome] = []
        self.probed = Signal[ProbeOutcome]("probed")
        self.chunk = Signal[Chunk]("chunk")  # the probe's Vm as it streams in
        self._next_at: float | None = None
        self._lo: float | None = None
        self._hi: float | None = None
        self.message = ""

    @property
    def found(self) -> ProbeOutcome | None:
        """The last probe if the search has reached the band (confirmed), else None."""
        n = self.settings.confirm
        last = self.outcomes[-n:]
        if len(last) < n or len({o.intensity_ua for o in last}) != 1:
            return None
        if any(o.spike for o in last):
            return None
        mean = sum(o.epsp_mv for o in last) / n
        return last[-1] if self.settings.in_band(mean) else None

    @property
    def found_epsp_mv(self) -> float | None:
        """Mean EPSP of the probes that confirmed the band (None until found)."""
        if self.found is None:
            return None
        last = self.outcomes[-self.settings.confirm :]
        return sum(o.epsp_mv for o in last) / len(last)

    def _next_intensity(self, last: ProbeOutcome | None) -> float | None:
        s = self.settings
        if not self.auto:
            assert self.intensity_source is not None
            value = self.intensity_source(len(self.outcomes), last)
            return None if value is None else check_intensity(self.rig.definition, value)
        limit = self.rig.definition.stimulator.max_intensity_ua
        if last is None:
            return check_intensity(self.rig.definition, min(s.start_ua, limit))
        ua = last.intensity_ua
        recent = [o for o in self.outcomes if o.intensity_ua == ua][-s.confirm :]
        mean = sum(o.epsp_mv for o in recent) / len(recent)
        if any(o.spike for o in recent) or mean > s.target_mv + s.tolerance_mv:
            self._hi = ua if self._hi is None else min(self._hi, ua)
        elif mean < s.target_mv - s.tolerance_mv:
            self._lo = ua if self._lo is None else max(self._lo, ua)
        elif len(recent) < s.confirm:
            return ua  # in band: confirm at the same intensity
        if self._hi is None:
            nxt = ua + s.step_ua
            if ua >= limit:
                self.message = (
                    f"the EPSP stays below the band at the isolator's limit of {limit:g} µA"
                )
                return None
            return min(nxt, limit)
        lo = 0.0 if self._lo is None else self._lo
        nxt = round((lo + self._hi) / 2.0, 1)
        if self._hi - lo < 1.0:
            self.message = f"no intensity between {lo:g} and {self._hi:g} µA gives the band"
            return None
        return nxt

    def step(self) -> ProbeOutcome | None:
        """Run one probe now at the next intensity; None when the search cannot continue."""
        last = self.outcomes[-1] if self.outcomes else None
        ua = self._next_intensity(last)
        if ua is None:
            return None
        if self.control is not None:
            self.control.set_stim_intensity_ua(ua)
        at = self._clock()
        try:
            result = self.rig.run(self.prepared, self.chunk.emit)
        finally:
            self.rig.safe_state()
        if not result.complete:
            raise RigError("the EPSP search probe was aborted")
        pa = analyze_probe(result.vm_mv, result.sample_rate_hz, self.sweep, self.analysis)
        spike = pa.spike_in_probe
        out = ProbeOutcome(
            index=len(self.outcomes),
            at_s=at,
            intensity_ua=ua,
            intensity_entry="analog" if self.auto else "manual",
            epsp_mv=pa.epsp_mv,
            spike=spike,
            rin_mohm=pa.rin_mohm,
            rest_mv=pa.rest_mv,
            in_band=self.settings.in_band(pa.epsp_mv) and not spike,
        )
        self.outcomes.append(out)
        self.probed.emit(out)
        return out

    def run(self, on_probe: Callable[[ProbeOutcome], None] | None = None) -> ProbeOutcome | None:
        """Probe every ``interval_s`` until found, stopped, or out of probes; the found probe."""
        while not self._stop.is_set() and len(self.outcomes) < self.settings.max_probes:
            if self._next_at is not None:
                wait = self._next_at - self._clock()
                if wait > 0:
                    self._sleep(wait)
                if self._stop.is_set():
                    break
            self._next_at = self._clock() + self.settings.interval_s
            out = self.step()
            if out is None:
                return None
            if on_probe is not None:
                on_probe(out)
            if self.found is not None:
                return self.found
        if not self._stop.is_set() and not self.message:
            self.message = f"no EPSP in the band after {len(self.outcomes)} probes"
        return None

    def stop(self) -> None:
        """Stop after the probe in flight (wakes the wait between probes)."""
        self._stop.set()


@dataclass(frozen=True)
class SetupRecord:
    """What the set-up found, carried into the recording (header, journal, NWB).

    ``test_pulse`` holds the last test-pulse values (the average of the last 10 pulses)
    with their validity; ``probes`` every search probe with its intensity.
    """

    setup_s: float
    limit_s: float
    over_limit: bool
    whole_cell_at: str | None = None
    currents_pa: dict[str, float | None] = field(default_factory=dict)
    stim_intensity_ua: float | None = None
    intensity_mode: str = "manual"
    epsp_mv: float | None = None
    test_pulse: dict[str, Any] = field(default_factory=dict)
    probes: tuple[dict[str, Any], ...] = ()
    slice_id: str | None = None
    cell_id: str | None = None
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``recording.json`` and the journal."""
        d = asdict(self)
        d["probes"] = [dict(p) for p in self.probes]
        d["notes"] = list(self.notes)
        d["describe"] = self.describe()
        return d

    def summary(self) -> dict[str, Any]:
        """The CLI's numbers (``rigctl setup --json`` keys)."""

        def value(key: str) -> float | None:
            est = self.test_pulse.get(key) or {}
            v = est.get("value")
            return float(v) if est.get("valid") and v is not None else None

        return {
            "rin_mohm": value("rin_mohm"),
            "vm_mv": value("vm_mv"),
            "tau_ms": value("tau_ms"),
            "series_resistance_mohm": value("series_resistance_mohm"),
            "epsp_mv": self.epsp_mv,
            "stim_intensity_ua": self.stim_intensity_ua,
            "currents_pa": dict(self.currents_pa),
            "setup_s": self.setup_s,
        }

    def describe(self) -> str:
        """One line for the NWB electrode description."""
        s = self.summary()
        parts = [
            f"{k} {v:.4g}"
            for k, v in s.items()
            if isinstance(v, float) and math.isfinite(v) and k != "currents_pa"
        ]
        return "set-up: " + ", ".join(parts) + (" (over the set-up limit)" * self.over_limit)


class SetupSession:
    """A set-up on a borrowed rig: clock, test pulse, calibration, EPSP search, record.

    Parameters
    ----------
    rig
        The rig (lent by the rig session; never closed here).
    experiment
        The protocol to be recorded (its test step, probe sweep and phases).
    limit_s
        The set-up limit (default 5 min).
    clock, sleep
        Injectable time source and sleeper, shared by the set-up clock, test pulse and
        search (tests and the simulated rig run without waiting).
    """

    def __init__(
        self,
        rig: Rig,
        experiment: proto.Experiment,
        *,
        limit_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        slice_id: str | None = None,
        cell_id: str | None = None,
    ) -> None:
        self.rig = rig
        self.experiment = experiment
        self.clock = SetupClock(limit_s, clock)
        self._now = clock
        self._sleep = sleep
        self.slice_id = slice_id
        self.cell_id = cell_id
        self.test_pulse_result: TestPulseResult | None = None
        self.recent_pulses: collections.deque[TestPulseResult] = collections.deque(maxlen=10)
        self.currents_pa: dict[str, float | None] = {}
        self.search: EpspSearch | None = None
        self.notes: list[str] = []
        self.pulse = Signal[TestPulseResult]("pulse")
        self.warning = Signal[str]("warning")
        self.clock.over_limit_signal.connect(
            lambda s: self.warning.emit(
                f"set-up has taken {s / 60:.1f} min, over the {self.clock.limit_s / 60:g} min "
                "limit: the cell should not be used"
            )
        )

    def whole_cell(self, already_s: float = 0.0) -> None:
        """Break-in (now, or ``already_s`` seconds ago): start the set-up clock."""
        self.clock.start(already_s)

    def test_pulse(self, settings: TestPulseSettings | None = None) -> TestPulse:
        """A test pulse on the rig (the protocol's step unless ``settings`` says otherwise).

        Every pulse updates the last values and checks the set-up clock. Refused (before
        any output) if it exceeds a limit of the rig.
        """
        s = TestPulseSettings.from_probes(self.experiment.probes) if settings is None else settings
        kwargs: dict[str, Any] = {"clock": self._now}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        tp = TestPulse(self.rig, s, **kwargs)
        tp.pulsed.connect(self._on_pulse)
        return tp

    def _on_pulse(self, result: TestPulseResult) -> None:
        self.test_pulse_result = result
        self.recent_pulses.append(result)
        self.pulse.emit(result)
        self.clock.check()

    def calibrate(self) -> dict[str, float | None]:
        """Find the currents for the protocol's phase rates; the experiment takes them."""
        try:
            cal = calibrate_experiment(self.rig, self.experiment)
        finally:
            self.rig.safe_state()
        self.experiment = cal.experiment
        self.currents_pa = cal.currents()
        for r in cal.rates:
            if not r.ok:
                self.warning.emit(f"calibration: {r.line()}")
        self.clock.check()
        return self.currents_pa

    def epsp_search(
        self,
        settings: SearchSettings | None = None,
        *,
        auto: bool = False,
        intensity_source: IntensitySource | None = None,
    ) -> EpspSearch:
        """An EPSP search with the protocol's probe sweep (logs an interval override)."""
        s = SearchSettings() if settings is None else settings
        if s.interval_s < MIN_PROBE_INTERVAL_S:
            self.notes.append(
                f"probe interval {s.interval_s:g} s (under {MIN_PROBE_INTERVAL_S:g} s): "
                f"{s.interval_reason.strip()}"
            )
        self.search = EpspSearch(
            self.rig,
            self.experiment.probes,
            s,
            auto=auto,
            intensity_source=intensity_source,
            clock=self._now,
            sleep=self._sleep,
        )
        self.search.probed.connect(lambda _: self.clock.check())
        return self.search

    def record(self) -> SetupRecord:
        """Stop the clock and gather everything for the recording."""
        setup_s = self.clock.stop() if self.clock.started else 0.0
        search = self.search
        found = search.found if search is not None else None
        last = search.outcomes[-1] if search and search.outcomes else None
        chosen = found or last
        epsp = search.found_epsp_mv if search is not None and found is not None else None
        tp = average_pulses(list(self.recent_pulses)) if self.recent_pulses else None
        return SetupRecord(
            setup_s=setup_s,
            limit_s=self.clock.limit_s,
            over_limit=self.clock.started and setup_s > self.clock.limit_s,
            whole_cell_at=self.clock.started_at.isoformat() if self.clock.started_at else None,
            currents_pa=dict(self.currents_pa),
            stim_intensity_ua=chosen.intensity_ua if chosen else None,
            intensity_mode=self.rig.definition.stimulator.intensity,
            epsp_mv=epsp if epsp is not None else (chosen.epsp_mv if chosen else None),
            test_pulse=tp.as_dict() if tp is not None else {},
            probes=tuple(o.as_dict() for o in (search.outcomes if search else [])),
            slice_id=self.slice_id,
            cell_id=self.cell_id,
            notes=tuple(self.notes),
        )

    def abort(self) -> None:
        """Stop whatever runs and put the outputs at rest now."""
        if self.search is not None:
            self.search.stop()
        with contextlib.suppress(Exception):
            self.rig.abort()
        self.rig.safe_state()


def start_warnings(record: SetupRecord, slice_log: SliceLog | None = None) -> list[str]:
    """What starting the recording must ask the user to confirm (empty: nothing to ask).

    Set-up over the limit (the cell should not be used), and the slice log's warnings for
    the record's slice (it has had an induction; too many failed set-ups).
    """
    out = []
    if record.over_limit:
        out.append(
            f"set-up took {record.setup_s / 60:.1f} min, over the {record.limit_s / 60:g} min "
            "limit: the cell should not be used"
        )
    if slice_log is not None and record.slice_id is not None:
        out.extend(slice_log.warnings(record.slice_id))
    return out
