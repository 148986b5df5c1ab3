"""Recordings grouped by condition: the paper's summary of each condition.

Each recording gives one number, its mean normalized EPSP 30-35 min after the induction
(:func:`rigctl.engine.analysis.summarize_recording`). Recordings are grouped by condition
by what the induction delivered (:func:`rigctl.engine.summary.condition_of`: "25-50" for the
paper's inductions, else the :func:`rigctl.protocol.condition_key` such as
"25→50 Hz, 50+150 ms \u00d710"; never by the free-text name, which is shown beside it); each group
is summarized as mean ± SEM across cells and tested against 1 (no change) with a two-tailed
one-sample t-test, and every pair of conditions is compared with a two-tailed Welch t-test
(unequal variances; p values uncorrected for multiple comparisons, as in the paper).

The tests themselves are :mod:`rigctl.engine.stats`; the paper-style figure of a summary
is :func:`rigctl.engine.figure.write_figure`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.engine.analysis import AnalysisSettings, summarize_recording
from rigctl.engine.recording import SWEEP_DIR, DataFolderError, Recording, load_recording
from rigctl.engine.stats import (
    finite_or_none,
    num_text,
    one_sample_t,
    p_text,
    sd_sem,
    welch_t,
)
from rigctl.engine.summary import condition_label, condition_of, probe_points

__all__ = [
    "CellResult",
    "Comparison",
    "ConditionStats",
    "GroupError",
    "GroupSummary",
    "TimeCourse",
    "condition_label",
    "find_recordings",
    "summarize_paths",
    "summarize_recordings",
]

FloatArray = npt.NDArray[np.float64]

#: Display order of the paper's conditions (the 2 x 2 design); others follow by name.
PAPER_ORDER = ("25-25", "25-50", "50-25", "50-50")


class GroupError(Exception):
    """The recordings cannot be summarized (none found, none usable); one sentence."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CellResult:
    """One recording: its condition, its 30-35 min value and its normalized time course."""

    folder: Path
    condition: str
    value: float
    n_window: int
    status: str
    times_min: tuple[float, ...]
    normalized: tuple[float, ...]
    protocol_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able; NaN as None)."""
        return {
            "folder": str(self.folder),
            "condition": self.condition,
            "protocol_name": self.protocol_name,
            "normalized_epsp": finite_or_none(self.value),
            "n_window": self.n_window,
            "status": self.status,
        }


@dataclass(frozen=True)
class ConditionStats:
    """One condition across cells: mean ± SEM and the one-sample t-test against 1."""

    condition: str
    n: int
    mean: float
    sd: float
    sem: float
    t: float
    p: float
    values: tuple[float, ...]
    names: tuple[str, ...] = ()
    """The protocol names of its recordings (sorted, each once)."""

    @property
    def label(self) -> str:
        """Display name, e.g. ``"25→50 Hz"``."""
        return condition_label(self.condition)

    @property
    def display(self) -> str:
        """The label with the protocol names, e.g. ``"25→50 Hz (Theta 25-50 Hz)"``."""
        return f"{self.label} ({', '.join(self.names)})" if self.names else self.label

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able; NaN as None)."""
        return {
            "condition": self.condition,
            "label": self.label,
            "protocol_names": list(self.names),
            "n": self.n,
            "mean": finite_or_none(self.mean),
            "sd": finite_or_none(self.sd),
            "sem": finite_or_none(self.sem),
            "t_vs_1": finite_or_none(self.t),
            "p_vs_1": finite_or_none(self.p),
            "values": [finite_or_none(v) for v in self.values],
        }


@dataclass(frozen=True)
class Comparison:
    """Two conditions compared with a two-tailed Welch t-test (``a`` minus ``b``)."""

    a: str
    b: str
    t: float
    df: float
    p: float
    difference: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able; NaN as None)."""
        return {
            "a": self.a,
            "b": self.b,
            "t": finite_or_none(self.t),
            "df": finite_or_none(self.df),
            "p": finite_or_none(self.p),
            "difference": finite_or_none(self.difference),
        }


@dataclass(frozen=True)
class TimeCourse:
    """Normalized EPSP over time for one condition, binned, mean ± SEM across cells."""

    condition: str
    centers_min: tuple[float, ...]
    mean: tuple[float, ...]
    sem: tuple[float, ...]
    n: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able; NaN as None)."""
        return {
            "condition": self.condition,
            "centers_min": list(self.centers_min),
            "mean": [finite_or_none(v) for v in self.mean],
            "sem": [finite_or_none(v) for v in self.sem],
            "n": list(self.n),
        }


@dataclass(frozen=True)
class GroupSummary:
    """Recordings summarized by condition, with the paper's tests.

    Attributes
    ----------
    cells
        Every usable recording, in condition order.
    conditions
        Per condition: n, mean ± SEM of the per-cell values, t-test against 1.
    comparisons
        Welch t-tests between every pair of conditions (with at least 2 cells each).
    window_min
        The summary window after induction (min).
    excluded
        Recordings left out, each as ``(folder, reason)``.
    alpha
        Significance level marked in the report and the figure.
    """

    cells: tuple[CellResult, ...]
    conditions: tuple[ConditionStats, ...]
    comparisons: tuple[Comparison, ...]
    window_min: tuple[float, float] = (30.0, 35.0)
    excluded: tuple[tuple[str, str], ...] = field(default=())
    alpha: float = 0.05

    def condition(self, name: str) -> ConditionStats:
        """The statistics of one condition (``KeyError`` if absent)."""
        for c in self.conditions:
            if c.condition == name:
                return c
        raise KeyError(name)

    def comparison(self, a: str, b: str) -> Comparison:
        """The Welch test between two conditions, in either order (``KeyError`` if absent)."""
        for comp in self.comparisons:
            if (comp.a, comp.b) == (a, b):
                return comp
            if (comp.a, comp.b) == (b, a):
                return Comparison(b, a, -comp.t, comp.df, comp.p, -comp.difference)
        raise KeyError((a, b))

    def cells_of(self, condition: str) -> tuple[CellResult, ...]:
        """The recordings of one condition."""
        return tuple(c for c in self.cells if c.condition == condition)

    def time_course(self, condition: str, bin_min: float = 1.0) -> TimeCourse:
        """Normalized EPSP of one condition over time, binned.

        Each cell's probes are averaged in bins of ``bin_min`` minutes, then the bins are
        averaged across the cells with data in them (mean ± SEM).
        """
        cells = self.cells_of(condition)
        per_cell: list[dict[int, float]] = []
        for c in cells:
            t = np.asarray(c.times_min, dtype=np.float64)
            v = np.asarray(c.normalized, dtype=np.float64)
            ok = np.isfinite(t) & np.isfinite(v)
            bins = np.floor(t[ok] / bin_min).astype(int)
            per_cell.append({int(b): float(v[ok][bins == b].mean()) for b in np.unique(bins)})
        keys = sorted({k for d in per_cell for k in d})
        centers, means, sems, ns = [], [], [], []
        for k in keys:
            vals = np.array([d[k] for d in per_cell if k in d])
            centers.append((k + 0.5) * bin_min)
            means.append(float(vals.mean()))
            sems.append(sd_sem(vals)[1])
            ns.append(int(vals.size))
        return TimeCourse(condition, tuple(centers), tuple(means), tuple(sems), tuple(ns))

    def as_dict(self, *, bin_min: float = 1.0) -> dict[str, Any]:
        """Everything as plain, JSON-able data (NaN as None), time courses included."""
        return {
            "window_min": list(self.window_min),
            "alpha": self.alpha,
            "conditions": [c.as_dict() for c in self.conditions],
            "comparisons": [c.as_dict() for c in self.comparisons],
            "cells": [c.as_dict() for c in self.cells],
            "excluded": [{"folder": f, "reason": r} for f, r in self.excluded],
            "time_courses": [
                self.time_course(c.condition, bin_min).as_dict() for c in self.conditions
            ],
        }

    def report(self) -> str:
        """A plain-text report: the table per condition, then the tests between conditions."""
        lo, hi = self.window_min
        mark = f"* p < {self.alpha:g}"
        width = max([len(c.display) for c in self.conditions] + [9])
        lines = [
            f"Normalized EPSP at {lo:g}-{hi:g} min after induction (per cell: mean of the "
            "probes in the window; across cells: mean ± SEM)",
            "",
            f"{'condition':<{width}}   n    mean    SEM      SD   t vs 1   p vs 1",
        ]
        for cs in self.conditions:
            star = "  *" if math.isfinite(cs.p) and cs.p < self.alpha else ""
            lines.append(
                f"{cs.display:<{width}} {cs.n:3d}  {num_text(cs.mean, 6, 3)}  "
                f"{num_text(cs.sem, 5, 3)}  {num_text(cs.sd, 6, 3)}  {num_text(cs.t, 7, 2)}  "
                f"{p_text(cs.p):>7}{star}"
            )
        lines += ["", f"{mark}; two-tailed one-sample t-test against 1 (no change)."]
        if self.comparisons:
            lines += ["", "Between conditions (two-tailed Welch t-test, uncorrected):"]
            pairs = [f"{condition_label(c.a)} vs {condition_label(c.b)}" for c in self.comparisons]
            pair_w = max(len(p) for p in pairs)
            for pair, comp in zip(pairs, self.comparisons, strict=True):
                star = "  *" if math.isfinite(comp.p) and comp.p < self.alpha else ""
                lines.append(
                    f"  {pair:<{pair_w}}  diff {comp.difference:+.3f}  "
                    f"t = {num_text(comp.t, 6, 2)}  df = {num_text(comp.df, 5, 1)}  "
                    f"p = {p_text(comp.p)}{star}"
                )
        if self.excluded:
            lines += ["", "Excluded recordings:"]
            lines += [f"  {f}: {r}" for f, r in self.excluded]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- summarizing


def _is_recording(path: Path) -> bool:
    return (path / SWEEP_DIR).is_dir()


def find_recordings(paths: Iterable[str | os.PathLike[str]], *, depth: int = 2) -> list[Path]:
    """Recording folders named by ``paths``.

    A path is either a recording folder or a folder holding recording folders, searched
    ``depth`` levels down (``depth=2`` finds a study's ``<condition>/cell-NN/`` folders).
    Each recording is listed once, in the order found.

    Raises
    ------
    GroupError
        A path does not exist, or holds no recording folder within ``depth`` levels.
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            raise GroupError(f"{p}: no such folder")
        if _is_recording(p):
            hits = [p]
        else:
            hits = []
            level = [p]
            for _ in range(depth):
                level = sorted(c for d in level for c in d.iterdir() if c.is_dir())
                hits += [c for c in level if _is_recording(c)]
                level = [c for c in level if not _is_recording(c)]
        if not hits:
            raise GroupError(
                f"{p}: not a recording folder and none found within {depth} levels below it"
            )
        for h in hits:
            if h.resolve() not in {f.resolve() for f in found}:
                found.append(h)
    return found


def _order(conditions: Iterable[str]) -> list[str]:
    names = set(conditions)
    paper = [c for c in PAPER_ORDER if c in names]
    return paper + sorted(names - set(paper))


def _cell(rec: Recording, settings: AnalysisSettings) -> CellResult:
    points = probe_points(rec) if rec.induction_at_s is not None else []
    rs = summarize_recording(  # probes with a spike are left out, as in the recording's summary
        [p.t_min for p in points],
        [p.epsp_mv for p in points],
        settings,
        excluded=[p.spiked for p in points],
    )
    return CellResult(
        folder=rec.folder,
        condition=condition_of(rec),
        value=rs.normalized_mean,
        n_window=rs.n_window,
        status=rec.status,
        times_min=rs.times_min,
        normalized=rs.normalized,
        protocol_name=str(rec.header.get("protocol_name", "")),
    )


def _condition_stats(name: str, cells: Sequence[CellResult]) -> ConditionStats:
    """The condition's cells: mean, SD, SEM and the t-test against 1."""
    v = np.array([c.value for c in cells if c.condition == name], dtype=np.float64)
    sd, sem = sd_sem(v)
    t, p = one_sample_t(v)
    return ConditionStats(
        condition=name,
        n=int(v.size),
        mean=float(v.mean()),
        sd=sd,
        sem=sem,
        t=t,
        p=p,
        values=tuple(float(x) for x in v),
        names=tuple(sorted({c.protocol_name for c in cells if c.condition == name} - {""})),
    )


def summarize_recordings(
    recordings: Sequence[Recording],
    *,
    window_min: tuple[float, float] = (30.0, 35.0),
    alpha: float = 0.05,
    excluded: Sequence[tuple[str, str]] = (),
) -> GroupSummary:
    """Summarize loaded recordings by condition (see :func:`summarize_paths`)."""
    settings = AnalysisSettings(summary_window_min=window_min)
    cells: list[CellResult] = []
    left_out = list(excluded)
    lo, hi = window_min
    for rec in recordings:
        cell = _cell(rec, settings)
        if rec.induction_at_s is None:
            left_out.append((str(rec.folder), "no induction was recorded"))
        elif not math.isfinite(cell.value):
            left_out.append(
                (str(rec.folder), f"no probe EPSP at {lo:g}-{hi:g} min after induction")
            )
        else:
            cells.append(cell)
    if not cells:
        raise GroupError(
            f"none of the {len(recordings) + len(excluded)} recordings has a normalized EPSP at "
            f"{lo:g}-{hi:g} min after induction"
        )
    order = _order(c.condition for c in cells)
    cells.sort(key=lambda c: order.index(c.condition))
    groups = [_condition_stats(name, cells) for name in order]
    values = {g.condition: np.array(g.values, dtype=np.float64) for g in groups}
    comparisons = []
    for a, b in combinations(order, 2):
        if values[a].size >= 2 and values[b].size >= 2:
            t, df, p = welch_t(values[a], values[b])
            diff = float(values[a].mean() - values[b].mean())
            comparisons.append(Comparison(a, b, t, df, p, diff))
    return GroupSummary(
        cells=tuple(cells),
        conditions=tuple(groups),
        comparisons=tuple(comparisons),
        window_min=(float(lo), float(hi)),
        excluded=tuple(left_out),
        alpha=alpha,
    )


def summarize_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    window_min: tuple[float, float] = (30.0, 35.0),
    alpha: float = 0.05,
) -> GroupSummary:
    """Load recordings and summarize them by condition with the paper's statistics.

    Parameters
    ----------
    paths
        Recording folders, or folders holding them (searched two levels down, see
        :func:`find_recordings`).
    window_min
        The summary window after induction (min); the paper uses 30-35 min.
    alpha
        Significance level marked in the report and the figure.

    Returns
    -------
    GroupSummary
        Per condition mean ± SEM, n and a two-tailed one-sample t-test against 1; two-tailed
        Welch t-tests between conditions. Recordings that cannot be read or have no probe
        in the window are listed in ``excluded``.

    Raises
    ------
    GroupError
        No recording found, or none usable.
    """
    recordings: list[Recording] = []
    excluded: list[tuple[str, str]] = []
    for folder in find_recordings(paths):
        try:
            recordings.append(load_recording(folder))
        except DataFolderError as exc:
            excluded.append((str(folder), str(exc)))
    return summarize_recordings(recordings, window_min=window_min, alpha=alpha, excluded=excluded)
