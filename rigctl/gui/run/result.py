"""The Run tab's result view: how the run ended, the summary, pauses, and the data folder.

Labels have object names (``runSummary``, ``runVerdict``, ``runPauses``,
``runFolderLink``) so tests and scripts read them through Qt.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from PyQt6.QtCore import Qt, QUrl
from PyQt6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from rigctl.engine import DataFolderError, RunResult, RunState, RunStatus, load_recording
from rigctl.gui.run.status import BLUE, GREEN, GREY, clock, label

__all__ = ["ResultView", "pauses_text", "run_pauses", "summary_lines"]

_log = logging.getLogger(__name__)

_HEADLINE = {
    RunState.DONE: "The recording is complete.",
    RunState.STOPPED: "Stopped by the user; the record is complete up to the stop.",
    RunState.ABORTED: "Aborted: the sweep in flight was cut; the record is marked aborted.",
    RunState.FAILED: "The run failed; what was acquired is kept.",
}


def summary_lines(result: RunResult) -> tuple[list[str], str]:
    """The summary's lines (plain text) and the direction (``LTP``, ``LTD``, ``""``)."""
    s = result.summary
    headline = _HEADLINE.get(result.state, "")
    if result.message and result.state == RunState.FAILED:
        headline += f" {result.message[0].upper()}{result.message[1:]}"
    lines = [headline]
    induction = s.get("induction")
    if isinstance(induction, dict) and not induction.get("complete", True):
        note = str(induction.get("note", ""))
        lines.append(note[:1].upper() + note[1:] + ".")
    window = s.get("window_min", [30.0, 35.0])
    lo, hi = (float(window[0]), float(window[1])) if len(window) == 2 else (30.0, 35.0)
    mean = float(s.get("normalized_mean", math.nan))
    direction = ""
    if math.isfinite(mean):
        sem = float(s.get("normalized_sem", math.nan))
        pm = f" ± {sem:.2f} (SEM)" if math.isfinite(sem) else ""
        direction = str(s.get("direction", ""))
        lines.append(
            f"Mean normalized EPSP {lo:g}–{hi:g} min after induction: "  # noqa: RUF001
            f"{mean:.2f}{pm}, n = {int(s.get('n_window', 0))} probes → {direction}"
        )
    else:
        lines.append(
            f"No probe {lo:g}–{hi:g} min after the induction: no summary "  # noqa: RUF001
            "(the follow-up ended earlier)."
        )
    excluded = int(s.get("n_spike_excluded", 0) or 0)
    if excluded:
        lines.append(f"{excluded} probes with a spike excluded from the EPSP time course.")
    b_mean = float(s.get("baseline_mean_mv", math.nan))
    if math.isfinite(b_mean):
        b_sd = float(s.get("baseline_sd_mv", math.nan))
        sd = f" ± {b_sd:.2f}" if math.isfinite(b_sd) else ""
        lines.append(
            f"Baseline EPSP {b_mean:.2f}{sd} mV (mean ± SD, n = {int(s.get('n_baseline', 0))})"
        )
    saved = f"{result.sweeps} sweeps saved"
    if result.nwb_path is not None:
        saved += f"; NWB: {result.nwb_path.name}"
    lines.append(saved)
    return lines, direction


def pauses_text(events: Sequence[dict[str, Any]]) -> str:
    """Every pause and every skipped probe of a run, from its journal events (``""``: none)."""
    pauses = [
        (float(e.get("paused_at_s", math.nan)), float(e.get("paused_for_s", math.nan)))
        for e in events
        if e.get("event") == "resumed"
    ]
    skipped = [float(e.get("planned_s", math.nan)) for e in events if e.get("event") == "skipped"]
    lines = []
    if pauses:
        total = sum(d for _, d in pauses if math.isfinite(d))
        each = ", ".join(f"at {clock(at)} for {clock(d)}" for at, d in pauses)
        lines.append(f"Paused {len(pauses)}× ({clock(total)} in all): {each}.")  # noqa: RUF001
    if skipped:
        at = ", ".join(clock(t) for t in skipped)
        lines.append(
            f"{len(skipped)} probes skipped (their slot passed while paused), planned at {at}."
        )
    return "\n".join(lines)


def run_pauses(result: RunResult, status: RunStatus | None) -> str:
    """Every pause and skipped probe of a run that had any, as its journal recorded them."""
    if status is None or not (status.pauses or status.skipped_probes):
        return ""
    try:
        return pauses_text(load_recording(result.folder).events)
    except (DataFolderError, OSError) as exc:
        _log.warning("the journal of %s could not be read: %s", result.folder, exc)
        return f"Paused {status.pauses}×; {status.skipped_probes} probes skipped."  # noqa: RUF001


class ResultView(QGroupBox):
    """The *Result* box, shown when a run has ended.

    Attributes
    ----------
    copyFolderButton
        Copies the data folder's path (the panel wires it).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Result", parent)
        self.setObjectName("runResult")
        self._summary = label("runSummary", selectable=True)
        self._verdict = label("runVerdict")
        bold = self._verdict.font()
        bold.setBold(True)
        self._verdict.setFont(bold)
        self._pauses = label("runPauses", selectable=True)
        self._link = QLabel()
        self._link.setObjectName("runFolderLink")
        self._link.setWordWrap(True)
        self._link.setTextFormat(Qt.TextFormat.RichText)
        self._link.setOpenExternalLinks(True)
        self._link.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.copyFolderButton = QPushButton("Copy path")
        self.copyFolderButton.setToolTip("Copy the data folder's path to the clipboard")
        row = QHBoxLayout()
        row.addWidget(self._link, 1)
        row.addWidget(self.copyFolderButton, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        for w in (self._summary, self._verdict, self._pauses):
            layout.addWidget(w)
        layout.addLayout(row)

    def showResult(self, result: RunResult, pauses: str) -> None:
        """Show how ``result`` ended, its summary, its pauses and its folder."""
        lines, direction = summary_lines(result)
        self._summary.setText("\n".join(lines))
        color = {"LTP": GREEN, "LTD": BLUE}.get(direction, GREY).name()
        self._verdict.setText(direction)
        self._verdict.setStyleSheet(f"color: {color};")
        self._verdict.setVisible(bool(direction))
        self._pauses.setText(pauses)
        self._pauses.setVisible(bool(pauses))
        url = QUrl.fromLocalFile(str(result.folder)).toString()
        self._link.setText(f"Data folder: <a href='{escape(url)}'>{escape(str(result.folder))}</a>")
        self._link.setToolTip("Open the data folder")
        self.setVisible(True)
