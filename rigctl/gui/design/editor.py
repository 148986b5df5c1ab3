"""The experiment editor: every field of an :class:`~rigctl.protocol.Experiment`.

The editor knows only the model. It keeps a *draft* (the experiment's plain data),
writes each user edit into it, validates the whole draft with the model on every edit
and shows each problem the model reports at the field it names. ``valueChanged`` is
emitted only with a valid experiment, so whatever listens (the preview, the undo
stack) never sees an invalid protocol.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from html import escape
from typing import Any

from pydantic import ValidationError
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.design._draft import field_description, get_in, is_within, set_in, thaw
from rigctl.gui.design.phases import COLUMNS, PhasesTable
from rigctl.gui.widgets.fields import (
    INVALID_STYLE,
    Field,
    IntField,
    OptionalQuantityField,
    QuantityField,
    TagsField,
    TextAreaField,
    TextField,
    set_problem,
)
from rigctl.protocol import Experiment, Metadata, Problem, derive, problems_of

__all__ = ["EditInfo", "ExperimentEditor"]

_PHASES = "induction.phases"
_PHASE_PATH = re.compile(r"^induction\.phases\[(\d+)\](?:\.(.+))?$")
#: Problems listed in the message line before "and N more".
_SHOWN_PROBLEMS = 2
#: Words for paths that group several fields (problems of a whole group name these).
_GROUP_LABELS = {
    "induction": "Induction",
    "probes": "Probe sweeps",
    "probes.probe": "Probe pulse",
    "probes.test_step": "Test step",
    "metadata": "Protocol",
}


@dataclass(frozen=True, slots=True)
class EditInfo:
    """What the user's last edit changed (for undo texts and merging).

    Attributes
    ----------
    field
        Path of the edited field (``induction.phases[0].pre.rate_hz``), or ``None`` for
        a change of the phase list or a whole new value.
    session
        Increases whenever the user finishes editing a field, so two edits of one field
        merge only while the user stays in it.
    label
        What changed, in words (``Phase 1 (prediction) · Pre rate (Hz)``).
    """

    field: str | None
    session: int
    label: str

    @property
    def mergeKey(self) -> str | None:
        """Edits with the same (non-``None``) key may merge into one undo step."""
        return None if self.field is None else f"{self.field}#{self.session}"


class ExperimentEditor(QWidget):
    """Edit an experiment: phases, theta windows, probe schedule and metadata.

    Parameters
    ----------
    value
        Experiment to show first (default: the model's defaults, named "Untitled").
    parent
        Parent widget.

    Signals
    -------
    valueChanged(Experiment)
        The user (or :meth:`setValue`) changed the experiment, and it is valid.
    problemsChanged(list[Problem])
        The problems of the draft changed (empty list: the draft is valid).
    """

    valueChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    problemsChanged = pyqtSignal(list)  # noqa: N815 (Qt signal naming)

    def __init__(self, value: Experiment | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        initial = value if value is not None else Experiment(metadata=Metadata(name="Untitled"))
        self._value = initial
        self._draft: dict[str, Any] = {}
        self._problems: list[Problem] = []
        self._flagged: list[QWidget] = []
        self._fields: dict[str, Field] = {}
        self._labels: dict[str, str] = {}
        self._session = 0
        self._last_edit = EditInfo(None, 0, "")
        self._origin: Experiment | None = None
        self.setStyleSheet(INVALID_STYLE)
        self._build()
        self.setValue(initial)

    # ------------------------------------------------------------------ public API

    def value(self) -> Experiment:
        """The last valid experiment (what the fields show whenever they are valid)."""
        return self._value

    def setValue(self, value: Experiment) -> None:
        """Show ``value`` in every field; emits ``valueChanged`` if it differs."""
        self._draft = thaw(value.model_dump())
        self._sync_fields()
        self._session += 1
        self._last_edit = EditInfo(None, self._session, "Set protocol")
        self._revalidate()

    def setOrigin(self, origin: Experiment | None) -> None:
        """The protocol as opened (from the library or a file), or ``None``.

        Once set, a value that runs something else than ``origin`` gets its own identity
        (:func:`rigctl.protocol.derive`): the name is marked as modified, ``created`` is
        now, ``derived_from`` names ``origin``, and the "Expected: …" sentence goes. The
        name and description fields show it at once.
        """
        self._origin = origin

    def isValid(self) -> bool:
        """Whether the fields as shown make a valid experiment."""
        return not self._problems

    def problems(self) -> list[Problem]:
        """What is wrong with the fields as shown (empty when valid)."""
        return list(self._problems)

    def commitPending(self) -> None:
        """Apply a number that is typed but not entered yet (call before saving)."""
        for widget in self._all_fields():
            if isinstance(widget, QAbstractSpinBox):
                widget.interpretText()  # emits only if the text means another value

    def lastEdit(self) -> EditInfo:
        """What the last edit changed."""
        return self._last_edit

    @property
    def phasesTable(self) -> PhasesTable:
        """The table of phases."""
        return self._table

    @property
    def messageLabel(self) -> QLabel:
        """The line that states whether the protocol is valid and, if not, why."""
        return self._message

    def fieldWidget(self, path: str) -> Field | None:
        """The widget that edits the field at ``path`` (``None`` if no widget does).

        Paths are those of the model, e.g. ``induction.phases[0].pre.rate_hz``.
        """
        match = _PHASE_PATH.match(path)
        if match:
            return self._table.cell(int(match[1]), match[2] or "")
        return self._fields.get(path)

    def _all_fields(self) -> list[Field]:
        cells = [
            cell
            for row in range(self._table.rowCount())
            for column in COLUMNS
            if (cell := self._table.cell(row, column.key)) is not None
        ]
        return [*self._fields.values(), *cells]

    def describe(self, path: str) -> str:
        """A field path in words: ``Phase 1 (prediction) · Pre rate (Hz)``."""
        if path in self._labels:
            return self._labels[path]
        if path in _GROUP_LABELS:
            return _GROUP_LABELS[path]
        if path == _PHASES:
            return "Phases"
        match = _PHASE_PATH.match(path)
        if match:
            row = int(match[1])
            phases = self._draft["induction"]["phases"]
            name = phases[row].get("name") if row < len(phases) else None
            where = f"Phase {row + 1}" + (f" ({name})" if name else "")
            key = match[2]
            if not key:
                return where
            column = next((c for c in COLUMNS if c.key == key), None)
            return f"{where} · {column.label if column else key}"
        parent = max((p for p in self._labels if is_within(path, p)), key=len, default=None)
        return self._labels[parent] if parent else path

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        lower = QHBoxLayout()
        lower.addWidget(self._build_probes(), 1)
        lower.addWidget(self._build_metadata(), 1)
        self._message = QLabel()
        self._message.setObjectName("problemMessage")
        self._message.setTextFormat(Qt.TextFormat.RichText)
        self._message.setMinimumHeight(2 * self._message.fontMetrics().lineSpacing() + 4)
        self._message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._build_induction())
        layout.addLayout(lower)
        layout.addWidget(self._message)

    def _build_induction(self) -> QGroupBox:
        self._table = PhasesTable()
        self._table.fieldEdited.connect(self._on_phase_edited)
        self._table.fieldCommitted.connect(lambda _row, _key: self._end_session())
        self._table.addRequested.connect(self._add_phase)
        self._table.removeRequested.connect(self._remove_phase)
        self._table.moveRequested.connect(self._move_phase)

        timing = QHBoxLayout()
        timing.setSpacing(6)
        for path, label, widget in (
            (
                "induction.window_ms",
                "Window",
                OptionalQuantityField("ms", empty_text="sum of phases", step=10),
            ),
            ("induction.repeats", "Repeats", IntField("windows")),
            ("induction.gap_ms", "Gap after each", QuantityField("ms", step=50)),
            ("induction.lead_in_ms", "Lead-in", QuantityField("ms", step=50)),
        ):
            caption = QLabel(label)
            caption.setBuddy(widget)
            timing.addWidget(caption)
            timing.addWidget(widget)
            timing.addSpacing(12)
            self._register(path, label, widget)
        timing.addStretch(1)

        induction = QGroupBox("Induction: theta window phases, repeated with quiet gaps")
        ind_layout = QVBoxLayout(induction)
        ind_layout.addWidget(self._table)
        ind_layout.addLayout(timing)
        return induction

    def _build_probes(self) -> QGroupBox:
        schedule = self._form(
            [
                ("probes.interval_s", "Probe every", QuantityField("s", step=5)),
                ("probes.baseline_min", "Baseline", QuantityField("min", step=1)),
                ("probes.followup_min", "Follow-up", QuantityField("min", step=5)),
                ("probes.sweep_ms", "Sweep length", QuantityField("ms", step=100)),
            ]
        )
        sweep = self._form(
            [
                ("probes.probe.time_ms", "Probe pulse at", QuantityField("ms", step=10)),
                ("probes.probe.pulse_width_us", "Probe pulse width", QuantityField("µs", step=10)),
                ("probes.test_step.amplitude_pa", "Test step", QuantityField("pA", step=1)),
                ("probes.test_step.start_ms", "Test step at", QuantityField("ms", step=10)),
                ("probes.test_step.duration_ms", "Test step length", QuantityField("ms", step=10)),
            ]
        )
        self._probe_counts = QLabel()
        self._probe_counts.setObjectName("probeCounts")
        self._probe_counts.setStyleSheet("color: #555;")
        probes = QGroupBox("Probe sweeps: baseline and follow-up")
        probes_layout = QVBoxLayout(probes)
        columns = QHBoxLayout()
        columns.addLayout(schedule)
        columns.addSpacing(12)
        columns.addLayout(sweep)
        probes_layout.addLayout(columns)
        probes_layout.addWidget(self._probe_counts)
        return probes

    def _build_metadata(self) -> QGroupBox:
        description = TextAreaField(placeholder="What the protocol is for, how to calibrate…")
        meta_form = self._form(
            [
                ("metadata.name", "Name", TextField(placeholder="protocol name")),
                ("metadata.author", "Author", TextField(placeholder="who designed it")),
                ("metadata.tags", "Tags", TagsField(placeholder="comma, separated")),
                ("metadata.description", "Description", description),
            ]
        )
        metadata = QGroupBox("Protocol")
        QVBoxLayout(metadata).addLayout(meta_form)
        return metadata

    def _form(self, rows: list[tuple[str, str, Field]]) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(4)
        for path, label, widget in rows:
            form.addRow(label, widget)
            self._register(path, label, widget)
        return form

    def _register(self, path: str, label: str, widget: Field) -> None:
        self._fields[path] = widget
        self._labels[path] = label
        widget.setToolTip(field_description(Experiment, path))
        widget.edited.connect(lambda: self._on_field_edited(path))
        widget.committed.connect(self._end_session)

    # ------------------------------------------------------------------ edits

    def _on_field_edited(self, path: str) -> None:
        set_in(self._draft, path, self._fields[path].fieldValue())
        self._edited(path)

    def _on_phase_edited(self, row: int, key: str, value: object) -> None:
        path = f"{_PHASES}[{row}].{key}"
        set_in(self._draft, path, value)
        self._edited(path)

    def _edited(self, path: str | None, label: str | None = None) -> None:
        text = label if label is not None else self.describe(path or "")
        self._last_edit = EditInfo(path, self._session, text)
        if path is None:
            self._end_session()
        self._revalidate()

    def _end_session(self) -> None:
        self._session += 1

    def _phases(self) -> list[dict[str, Any]]:
        phases: list[dict[str, Any]] = self._draft["induction"]["phases"]
        return phases

    def _add_phase(self, row: int) -> None:
        phases = self._phases()
        source = phases[row] if 0 <= row < len(phases) else phases[-1]
        new = copy.deepcopy(source)
        names = {p.get("name") for p in phases}
        new["name"] = next(
            f"phase {i}" for i in range(len(phases) + 1, 10_000) if f"phase {i}" not in names
        )
        at = row + 1 if 0 <= row < len(phases) else len(phases)
        phases.insert(at, new)
        self._table.setPhases(phases)
        self._table.setCurrentRow(at)
        self._edited(None, f"Add phase {new['name']!r}")

    def _remove_phase(self, row: int) -> None:
        phases = self._phases()
        if not 0 <= row < len(phases) or len(phases) <= 1:
            return
        removed = phases.pop(row)
        self._table.setPhases(phases)
        self._table.setCurrentRow(min(row, len(phases) - 1))
        self._edited(None, f"Remove phase {removed.get('name')!r}")

    def _move_phase(self, row: int, delta: int) -> None:
        phases = self._phases()
        to = row + delta
        if not (0 <= row < len(phases) and 0 <= to < len(phases)):
            return
        phases[row], phases[to] = phases[to], phases[row]
        self._table.setPhases(phases)
        self._table.setCurrentRow(to)
        self._edited(None, f"Move phase {phases[to].get('name')!r}")

    # ------------------------------------------------------------------ validation

    def _sync_fields(self) -> None:
        self._table.setPhases(self._phases())
        for path, widget in self._fields.items():
            widget.setFieldValue(get_in(self._draft, path))

    def _revalidate(self) -> None:
        try:
            value = Experiment.model_validate(self._draft)
        except ValidationError as exc:
            self._show_problems(_root_causes(problems_of(exc)))
            return
        self._show_problems([])
        if self._origin is not None:
            value = self._derived(self._origin, value)
        changed = value != self._value
        self._value = value
        probes = value.probes
        self._probe_counts.setText(
            f"{probes.baseline_count} baseline + {probes.followup_count} follow-up probe sweeps"
        )
        if changed:
            self.valueChanged.emit(value)

    def _derived(self, origin: Experiment, value: Experiment) -> Experiment:
        derived = derive(origin, value)
        if derived.metadata != value.metadata:
            self._draft["metadata"] = thaw(derived.metadata.model_dump())
            for path in ("metadata.name", "metadata.description"):
                if path in self._fields:
                    self._fields[path].setFieldValue(get_in(self._draft, path))
        return derived

    def _widgets_for(self, path: str) -> list[QWidget]:
        """The widgets to flag for a problem at ``path``."""
        if path == _PHASES:
            return [self._table.table]
        exact = self.fieldWidget(path)
        if exact is not None:
            return [exact]
        match = _PHASE_PATH.match(path)
        if match:
            row, key = int(match[1]), match[2] or ""
            cells = (
                self._table.cell(row, c.key) for c in COLUMNS if is_within(c.key, key) or not key
            )
            return [w for w in cells if w is not None]
        inside: list[QWidget] = [w for p, w in self._fields.items() if is_within(p, path)]
        if inside:
            return inside
        parent = max((p for p in self._fields if is_within(path, p)), key=len, default=None)
        return [self._fields[parent]] if parent else []

    def _show_problems(self, problems: list[Problem]) -> None:
        flagged: dict[int, tuple[QWidget, list[str]]] = {}
        for problem in problems:
            for widget in self._widgets_for(problem.path):
                flagged.setdefault(id(widget), (widget, []))[1].append(problem.message)
        for widget in self._flagged:
            if id(widget) not in flagged:
                set_problem(widget, None)
        for widget, messages in flagged.values():
            set_problem(widget, "; ".join(messages))
        self._flagged = [w for w, _ in flagged.values()]
        changed = problems != self._problems
        self._problems = problems
        self._message.setText(self._message_html(problems))
        if changed:
            self.problemsChanged.emit(list(problems))

    def _message_html(self, problems: list[Problem]) -> str:
        if not problems:
            return "<span style='color:#2e7d32;'>✔ Valid protocol.</span>"
        lines = [
            f"<b>{escape(self.describe(p.path) if p.path else 'Protocol')}</b>: {escape(p.message)}"
            for p in problems[:_SHOWN_PROBLEMS]
        ]
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        more = len(problems) - _SHOWN_PROBLEMS
        tail = f" (and {more} more: hover the red fields)" if more > 0 else ""
        head = f"✖ {count}, the preview keeps the last valid protocol{tail}. "
        lines[0] = head + lines[0]
        return f"<span style='color:#c62828;'>{'<br>'.join(lines)}</span>"


def _root_causes(problems: list[Problem]) -> list[Problem]:
    """Drop problems that only follow from a problem inside them.

    A list whose items fail also reports "should have at least 1 item"; the item's own
    problem is the one to show.
    """
    return [
        p
        for p in problems
        if not any(q.path != p.path and p.path and is_within(q.path, p.path) for q in problems)
    ]
