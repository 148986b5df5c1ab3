"""Statistics across recordings: the paper's summary of each condition, and its figure.

Each recording gives one number, its mean normalized EPSP 30-35 min after the induction
(:func:`rigctl.engine.analysis.summarize_recording`). Recordings are grouped by condition
by what the induction delivered (:func:`rigctl.engine.summary.condition_of`: "25-50" for the
paper's inductions, else the :func:`rigctl.protocol.condition_key` such as
"25→50 Hz, 50+150 ms \u00d710"; never by the free-text name, which is shown beside it); each group
is summarized as mean ± SEM across cells and tested against 1 (no change) with a two-tailed
one-sample t-test, and every pair of conditions is compared with a two-tailed Welch t-test
(unequal variances; p values uncorrected for multiple comparisons, as in the paper).

:func:`write_figure` draws the figure the paper shows: the normalized EPSP over time per
condition (mean ± SEM across cells in one-minute bins, induction at t = 0) and bars of the
30-35 min means with every cell as a point. It uses matplotlib's Agg canvas directly (no
pyplot, no GUI backend).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from rigctl.engine.analysis import AnalysisSettings, summarize_recording
from rigctl.engine.journal import SWEEP_DIR, DataFolderError, Recording, load_recording
from rigctl.engine.summary import condition_of

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
    "write_figure",
]

FloatArray = npt.NDArray[np.float64]

#: Display order of the paper's conditions (the 2 x 2 design); others follow by name.
PAPER_ORDER = ("25-25", "25-50", "50-25", "50-50")
_COLORS = {
    "25-25": "#8c8c8c",
    "25-50": "#c0392b",
    "50-25": "#2471a3",
    "50-50": "#2b2b2b",
}
_OTHER_COLORS = ("#e67e22", "#27ae60", "#8e44ad", "#16a085", "#b7950b", "#6d4c41")


class GroupError(Exception):
    """The recordings cannot be summarized (none found, none usable); one sentence."""


def condition_label(condition: str) -> str:
    """Display form of a condition: ``"25-50"`` becomes ``"25→50 Hz"``, names are kept."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", condition)
    return f"{m.group(1)}→{m.group(2)} Hz" if m else condition


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _num(x: float, width: int, decimals: int) -> str:
    return f"{x:{width}.{decimals}f}" if math.isfinite(x) else f"{'n/a':>{width}}"


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


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
            "normalized_epsp": _finite(self.value),
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
            "mean": _finite(self.mean),
            "sd": _finite(self.sd),
            "sem": _finite(self.sem),
            "t_vs_1": _finite(self.t),
            "p_vs_1": _finite(self.p),
            "values": [_finite(v) for v in self.values],
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
            "t": _finite(self.t),
            "df": _finite(self.df),
            "p": _finite(self.p),
            "difference": _finite(self.difference),
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
            "mean": [_finite(v) for v in self.mean],
            "sem": [_finite(v) for v in self.sem],
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
            sems.append(
                float(vals.std(ddof=1) / math.sqrt(vals.size)) if vals.size > 1 else math.nan
            )
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
                f"{cs.display:<{width}} {cs.n:3d}  {_num(cs.mean, 6, 3)}  {_num(cs.sem, 5, 3)}  "
                f"{_num(cs.sd, 6, 3)}  {_num(cs.t, 7, 2)}  {_p_text(cs.p):>7}{star}"
            )
        lines += ["", f"{mark}; two-tailed one-sample t-test against 1 (no change)."]
        if self.comparisons:
            lines += ["", "Between conditions (two-tailed Welch t-test, uncorrected):"]
            pairs = [f"{condition_label(c.a)} vs {condition_label(c.b)}" for c in self.comparisons]
            pair_w = max(len(p) for p in pairs)
            for pair, comp in zip(pairs, self.comparisons, strict=True):
                star = "  *" if math.isfinite(comp.p) and comp.p < self.alpha else ""
                lines.append(
                    f"  {pair:<{pair_w}}  diff {comp.difference:+.3f}  t = {_num(comp.t, 6, 2)}  "
                    f"df = {_num(comp.df, 5, 1)}  p = {_p_text(comp.p)}{star}"
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
    onset = rec.induction_at_s
    times: list[float] = []
    epsps: list[float] = []
    for s in rec.probes():
        e = s.meta.get("analysis", {}).get("epsp_mv")
        if e is None or onset is None:
            continue
        times.append((float(s.meta["at_s"]) - onset) / 60.0)
        epsps.append(float(e))
    rs = summarize_recording(times, epsps, settings)
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


def _one_sample(values: FloatArray) -> tuple[float, float]:
    if values.size < 2 or not np.ptp(values) > 0:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_1samp(values, 1.0)
    return float(res.statistic), float(res.pvalue)


def _welch(a: FloatArray, b: FloatArray) -> tuple[float, float, float]:
    if a.size < 2 or b.size < 2:
        return math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if not va + vb > 0:
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(res.statistic), float(df), float(res.pvalue)


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
    groups: list[ConditionStats] = []
    values: dict[str, FloatArray] = {}
    for name in order:
        v = np.array([c.value for c in cells if c.condition == name], dtype=np.float64)
        values[name] = v
        sd = float(v.std(ddof=1)) if v.size > 1 else math.nan
        t, p = _one_sample(v)
        groups.append(
            ConditionStats(
                condition=name,
                n=int(v.size),
                mean=float(v.mean()),
                sd=sd,
                sem=sd / math.sqrt(v.size) if v.size > 1 else math.nan,
                t=t,
                p=p,
                values=tuple(float(x) for x in v),
                names=tuple(sorted({c.protocol_name for c in cells if c.condition == name} - {""})),
            )
        )
    comparisons = []
    for a, b in combinations(order, 2):
        if values[a].size >= 2 and values[b].size >= 2:
            t, df, p = _welch(values[a], values[b])
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


# --------------------------------------------------------------------------- the figure


def _color(condition: str, i: int) -> str:
    return _COLORS.get(condition, _OTHER_COLORS[i % len(_OTHER_COLORS)])


def _stars(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def write_figure(
    summary: GroupSummary,
    path_png: str | os.PathLike[str],
    *,
    bin_min: float = 1.0,
    dpi: int = 200,
    title: str | None = None,
) -> Path:
    """Draw the paper-style figure of a group summary and save it as PNG.

    Left: normalized EPSP over time per condition (mean ± SEM across cells, ``bin_min``
    bins, induction at t = 0, dashed line at 1, the summary window shaded). Right: the
    summary window's mean ± SEM per condition as bars, each cell a point, n below, and
    the one-sample test against 1 marked above (* p < 0.05, ** p < 0.01, *** p < 0.001).

    Parameters
    ----------
    summary
        From :func:`summarize_paths`.
    path_png
        Output file (``.png``); its folder must exist.
    bin_min
        Width of the time bins (min).
    dpi
        Resolution.
    title
        Optional figure title.

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with mpl.rc_context(
        {
            "font.size": 8.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.linewidth": 0.8,
            "xtick.major.width": 0.8,
            "ytick.major.width": 0.8,
            "xtick.major.size": 3,
            "ytick.major.size": 3,
            "legend.frameon": False,
        }
    ):
        fig = Figure(figsize=(7.2, 3.0), layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(1, 2, width_ratios=(1.9, 1.0))
        ax_t = fig.add_subplot(grid[0])
        ax_b = fig.add_subplot(grid[1])
        lo, hi = summary.window_min
        conds = summary.conditions

        # ---- time course
        ax_t.axvspan(lo, hi, color="0.92", lw=0, zorder=0)
        ax_t.axhline(1.0, color="0.45", lw=0.8, ls=(0, (4, 3)), zorder=1)
        ax_t.axvline(0.0, color="0.3", lw=0.8, ls=":", zorder=1)
        t_min = math.inf
        t_max = -math.inf
        for i, c in enumerate(conds):
            tc = summary.time_course(c.condition, bin_min)
            x = np.asarray(tc.centers_min)
            m = np.asarray(tc.mean)
            s = np.nan_to_num(np.asarray(tc.sem), nan=0.0)
            if x.size == 0:
                continue
            t_min, t_max = min(t_min, float(x.min())), max(t_max, float(x.max()))
            col = _color(c.condition, i)
            ax_t.fill_between(x, m - s, m + s, color=col, alpha=0.18, lw=0)
            ax_t.plot(x, m, "o-", color=col, ms=2.6, lw=1.0, mew=0, label=c.label, zorder=3)
        if math.isfinite(t_min):
            ax_t.set_xlim(math.floor(min(t_min, -1.0)) - 0.5, math.ceil(max(t_max, hi)) + 0.5)
        ymin, ymax = ax_t.get_ylim()
        ax_t.set_ylim(min(0.4, ymin), max(1.8, ymax))
        ax_t.annotate(
            "induction",
            xy=(0.0, ax_t.get_ylim()[1]),
            xytext=(3, -2),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=7.5,
            color="0.3",
        )
        ax_t.text(
            (lo + hi) / 2,
            ax_t.get_ylim()[0],
            f"{lo:g}\N{EN DASH}{hi:g} min",
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.35",
        )
        ax_t.set_xlabel("Time from induction (min)")
        ax_t.set_ylabel("Normalized EPSP amplitude")
        ax_t.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            fontsize=7.5,
            handlelength=1.6,
            ncols=min(4, len(conds)),
            borderaxespad=0.2,
            columnspacing=1.4,
        )
        ax_t.text(
            -0.11,
            1.02,
            "A",
            transform=ax_t.transAxes,
            fontweight="bold",
            fontsize=10,
            va="bottom",
            ha="right",
        )

        # ---- bars
        rng = np.random.default_rng(0)
        xs = np.arange(len(conds), dtype=np.float64)
        top = 1.0
        for i, c in enumerate(conds):
            col = _color(c.condition, i)
            sem = c.sem if math.isfinite(c.sem) else 0.0
            ax_b.bar(
                xs[i],
                c.mean,
                width=0.62,
                color=col,
                alpha=0.28,
                edgecolor=col,
                lw=1.0,
                zorder=1,
            )
            if c.n > 1:
                ax_b.errorbar(
                    xs[i],
                    c.mean,
                    yerr=sem,
                    color=col,
                    lw=1.2,
                    capsize=3.5,
                    capthick=1.2,
                    zorder=3,
                )
            jitter = rng.uniform(-0.16, 0.16, size=len(c.values))
            ax_b.scatter(
                xs[i] + jitter,
                c.values,
                s=11,
                color=col,
                edgecolors="white",
                linewidths=0.4,
                zorder=4,
            )
            top = max(top, max(c.values, default=c.mean), c.mean + sem)
        span = max(top, 1.0)
        for i, c in enumerate(conds):
            star = _stars(c.p)
            if not star:
                continue
            sem = c.sem if math.isfinite(c.sem) else 0.0
            if c.mean < 1.0:  # below the bar, clear of the line at 1
                y = min(min(c.values, default=c.mean), c.mean - sem) - 0.03 * span
                va = "top"
            else:
                y = max(max(c.values, default=c.mean), c.mean + sem) + 0.03 * span
                va = "bottom"
            ax_b.text(
                xs[i],
                y,
                star,
                ha="center",
                va=va,
                fontsize=8 if star == "n.s." else 10,
                color="0.15",
                zorder=5,
            )
        ax_b.axhline(1.0, color="0.45", lw=0.8, ls=(0, (4, 3)), zorder=2)
        ax_b.set_xticks(xs, [c.label.replace(" Hz", "") for c in conds])
        ax_b.set_xlim(-0.6, len(conds) - 0.4)
        ax_b.set_ylim(0.0, span * 1.18)
        for i, c in enumerate(conds):
            ax_b.text(
                xs[i], 0.03 * span, f"n={c.n}", ha="center", va="bottom", fontsize=6.5, color="0.25"
            )
        ax_b.set_xlabel(
            "Prediction→outcome (Hz)"
            if all(re.fullmatch(r"[\d.]+-[\d.]+", c.condition) for c in conds)
            else "Condition"
        )
        ax_b.set_ylabel(f"Normalized EPSP ({lo:g}\N{EN DASH}{hi:g} min)")
        ax_b.text(
            -0.27,
            1.02,
            "B",
            transform=ax_b.transAxes,
            fontweight="bold",
            fontsize=10,
            va="bottom",
            ha="right",
        )
        if title:
            fig.suptitle(title, fontsize=9.5)
        out = Path(path_png)
        fig.savefig(out, dpi=dpi, facecolor="white")
    return out
