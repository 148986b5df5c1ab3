"""The compiled schedule as the runner walks it: slots and their planned times.

The times come from :func:`rigctl.protocol.compile_experiment` (the same sweeps
``rigctl show`` counts); a manual induction or an extended follow-up continues the
compiled spacing instead of calculating the times a second way.
"""

from __future__ import annotations

from dataclasses import dataclass

from rigctl import protocol as proto
from rigctl.engine.lifecycle import Segment

__all__ = ["Plan", "Slot"]


@dataclass(frozen=True)
class Slot:
    """One sweep of the plan: what, where and when (s since the run began)."""

    kind: str
    segment: Segment
    planned_s: float


@dataclass(frozen=True)
class Plan:
    """The compiled schedule as the runner walks it (no second calculation of times)."""

    baseline: tuple[float, ...]
    induction_s: float
    followup: tuple[float, ...]
    interval_s: float

    @classmethod
    def of(cls, comp: proto.CompiledExperiment) -> Plan:
        """The plan of a compiled experiment."""
        ind = next(s for s in comp.sweeps if s.kind == "induction")
        return cls(
            baseline=tuple(s.start_s for s in comp.sweeps if s.segment == "baseline"),
            induction_s=ind.start_s,
            followup=tuple(s.since_induction_s for s in comp.sweeps if s.segment == "followup"),
            interval_s=comp.experiment.probes.interval_s,
        )

    def baseline_at(self, i: int) -> float:
        """Planned start of baseline probe ``i`` (past the compiled ones: same spacing)."""
        if i < len(self.baseline):
            return self.baseline[i]
        last = self.baseline[-1] if self.baseline else -self.interval_s
        return last + (i - len(self.baseline) + 1) * self.interval_s

    def followup_offset(self, j: int) -> float:
        """Planned start of follow-up probe ``j`` relative to the induction onset."""
        if j < len(self.followup):
            return self.followup[j]
        last = self.followup[-1] if self.followup else 0.0
        return last + (j - len(self.followup) + 1) * self.interval_s
