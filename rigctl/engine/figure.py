"""The paper-style figure of a group summary (matplotlib's Agg canvas; no pyplot, no Qt).

:func:`write_figure` draws what the paper shows: the normalized EPSP over time per
condition (mean ± SEM across cells in one-minute bins, induction at t = 0) and bars of the
30-35 min means with every cell as a point. Colours are the house palette of
:mod:`rigctl.engine.style`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rigctl.engine.group import ConditionStats, GroupSummary
from rigctl.engine.style import condition_color

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["write_figure"]


def _stars(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _panel_letter(ax: Axes, letter: str, x: float) -> None:
    ax.text(
        x,
        1.02,
        letter,
        transform=ax.transAxes,
        fontweight="bold",
        fontsize=10,
        va="bottom",
        ha="right",
    )


def _time_course(ax_t: Axes, summary: GroupSummary, bin_min: float) -> None:
    """Panel A: normalized EPSP over time per condition, induction at 0."""
    lo, hi = summary.window_min
    conds = summary.conditions
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
        col = condition_color(c.condition, i)
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
    _panel_letter(ax_t, "A", -0.11)


def _bars(ax_b: Axes, conds: tuple[ConditionStats, ...]) -> float:
    """Panel B's bars, error bars and cells; the top of what was drawn."""
    rng = np.random.default_rng(0)
    xs = np.arange(len(conds), dtype=np.float64)
    top = 1.0
    for i, c in enumerate(conds):
        col = condition_color(c.condition, i)
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
    return top


def _bar_panel(ax_b: Axes, summary: GroupSummary) -> None:
    """Panel B: the summary window's mean ± SEM per condition, each cell a point, stars."""
    lo, hi = summary.window_min
    conds = summary.conditions
    xs = np.arange(len(conds), dtype=np.float64)
    top = _bars(ax_b, conds)
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
    _panel_letter(ax_b, "B", -0.27)


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
        _time_course(fig.add_subplot(grid[0]), summary, bin_min)
        _bar_panel(fig.add_subplot(grid[1]), summary)
        if title:
            fig.suptitle(title, fontsize=9.5)
        out = Path(path_png)
        fig.savefig(out, dpi=dpi, facecolor="white")
    return out
