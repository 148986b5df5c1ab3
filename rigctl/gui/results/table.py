"""The statistics table of the Results tab, and its CSV export.

One list of rows (:func:`statistics_rows`) feeds both the table widget and the CSV, so
what is exported is what is shown. Sections:

* **vs 1** — each condition against 1 (no change): n, mean with its 95 % CI, t, p, the
  Holm-corrected p over the conditions, Cohen's d with its CI;
* **ANOVA** — prediction rate x outcome rate (2 x 2, Type II): each term's F, df, p and
  partial η²;
* **contrast** — the interaction (difference of differences) and the rate-change contrast
  (low→high minus high→low). The temporal-derivative hypothesis predicts opposite main
  effects and *no* interaction; the rate-change contrast is its prediction, the interaction
  tests for something beyond it. The row labels say so.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Final

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from rigctl.engine.group import condition_label
from rigctl.io.results import ResultsSummary

__all__ = ["COLUMNS", "StatisticsTable", "statistics_rows", "write_csv"]

COLUMNS: Final = (
    "section",
    "row",
    "n / df",
    "estimate",
    "95% CI",
    "statistic",
    "p",
    "p (Holm)",
    "effect size [95% CI]",
)


def _f(x: float, spec: str = ".3f") -> str:
    return format(x, spec) if math.isfinite(x) else ""


def _p(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def _ci(lo: float, hi: float, spec: str = ".3f") -> str:
    return f"[{_f(lo, spec)}, {_f(hi, spec)}]" if math.isfinite(lo) and math.isfinite(hi) else ""


def statistics_rows(result: ResultsSummary) -> list[list[str]]:
    """The table's rows (strings, one per cell of :data:`COLUMNS`)."""
    return _condition_rows(result) + _anova_rows(result)


def _condition_rows(result: ResultsSummary) -> list[list[str]]:
    rows: list[list[str]] = []
    for t in result.tests.tests:
        rows.append(
            [
                "vs 1",
                condition_label(t.condition),
                str(t.n),
                _f(t.mean),
                _ci(t.ci_low, t.ci_high),
                f"t = {_f(t.t, '.2f')}" if math.isfinite(t.t) else "",
                _p(t.p),
                _p(t.p_holm),
                f"d = {_f(t.cohens_d, '+.2f')} {_ci(t.d_ci_low, t.d_ci_high, '+.2f')}".strip()
                if math.isfinite(t.cohens_d)
                else "",
            ]
        )
    return rows


def _anova_rows(result: ResultsSummary) -> list[list[str]]:
    rows: list[list[str]] = []
    a = result.anova
    if a is None:
        rows.append(
            ["ANOVA", "no 2 x 2 design (needs 2 prediction x 2 outcome rates, n >= 2)"] + [""] * 7
        )
        return rows
    for term in a.terms:
        rows.append(
            [
                "ANOVA",
                {"prediction": "prediction rate", "outcome": "outcome rate"}.get(
                    term.term, term.term
                ),
                f"{term.df:.0f}",
                f"SS = {term.sum_sq:.4f}",
                "",
                f"F = {_f(term.f, '.2f')}" if math.isfinite(term.f) else "",
                _p(term.p),
                "",
                f"partial η² = {_f(term.partial_eta_sq)}"
                if math.isfinite(term.partial_eta_sq)
                else "",
            ]
        )
    a1, a2 = a.prediction_rates
    b1, b2 = a.outcome_rates
    n = str(sum(a.n.values()))
    rows.append(
        [
            "contrast",
            "interaction (difference of differences; the hypothesis predicts none)",
            n,
            _f(a.interaction_estimate, "+.3f"),
            _ci(*a.interaction_ci, "+.3f"),
            f"F = {_f(a.term('interaction').f, '.2f')}",
            _p(a.term("interaction").p),
            "",
            "",
        ]
    )
    rows.append(
        [
            "contrast",
            f"rate change {a1:g}→{b2:g} minus {a2:g}→{b1:g} Hz (the temporal-derivative "
            "prediction: opposite main effects, additive)",
            n,
            _f(a.change_estimate, "+.3f"),
            _ci(*a.change_ci, "+.3f"),
            f"t = {_f(a.change_t, '.2f')}",
            _p(a.change_p),
            "",
            "",
        ]
    )
    return rows


def write_csv(result: ResultsSummary, path: str | os.PathLike[str]) -> Path:
    """Write the statistics table as CSV (UTF-8, header row first); returns the path.

    Raises
    ------
    OSError
        The file cannot be written.
    """
    out = Path(path)
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(statistics_rows(result))
    return out


class StatisticsTable(QTableWidget):
    """Read-only table of :func:`statistics_rows`."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        rows = self.verticalHeader()
        assert rows is not None
        rows.setVisible(False)
        rows.setDefaultSectionSize(rows.fontMetrics().height() + 6)
        header = self.horizontalHeader()
        assert header is not None
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def show_result(self, result: ResultsSummary | None) -> None:
        """Fill the table (None empties it)."""
        rows = [] if result is None else statistics_rows(result)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if c >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(r, c, item)
