"""Dialog that edits the kinase-rule constants and the spike trains of the preview.

The dialog knows only the model: :class:`~rigctl.plasticity.KinaseParams` and
:class:`~rigctl.plasticity.preview.TrainOptions`. Every edit is validated by them; a
value they refuse is flagged at its field with their message (and OK is disabled), so
nothing invalid ever leaves the dialog and nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import ValidationError
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.widgets.fields import (
    INVALID_STYLE,
    ChoiceField,
    IntField,
    QuantityField,
    problem_of,
    set_problem,
)
from rigctl.plasticity import ONSET_COMPENSATED_D_SCALE, KinaseParams
from rigctl.plasticity.preview import TrainOptions

__all__ = ["PARAM_FIELDS", "TRAIN_FIELDS", "KinaseParamsDialog", "ParamsAndTrains"]

ParamsAndTrains = tuple[KinaseParams, TrainOptions]
"""What the dialog edits: the cascade constants and the trains fed to them."""


@dataclass(frozen=True)
class _Spec:
    name: str
    label: str
    axon_name: str
    unit: str
    step: float


_PARAMS: Final = (
    _Spec("spike_ca_syn", "Calcium per spike", "SpikeCaSyn", "Ca units", 0.5),
    _Spec("ca_syn_tau_ms", "CaSyn time constant", "CaSynTau", "ms", 1.0),
    _Spec("syn_ca_gain", "Synaptic Ca gain", "SynCaGain", "×", 0.5),  # noqa: RUF001
    _Spec("m_tau_ms", "CaM time constant", "MTau", "ms", 1.0),
    _Spec("p_tau_ms", "CaP (CaMKII) time constant", "PTau", "ms", 1.0),
    _Spec("d_tau_ms", "CaD (DAPK1) time constant", "DTau", "ms", 1.0),
    _Spec("p_scale", "CaP readout scale", "PScale", "×", 0.01),  # noqa: RUF001
    _Spec("d_scale", "CaD readout scale", "DScale", "×", 0.01),  # noqa: RUF001
    _Spec("lrate", "Learning rate (weight mapping)", "lrate", "", 0.005),
)

PARAM_FIELDS: Final = tuple(s.name for s in _PARAMS)
"""Names of the editable :class:`KinaseParams` fields (``dt_ms`` is fixed and only shown)."""

TRAIN_FIELDS: Final = ("timing", "n_seeds", "seed", "jitter_ms")
"""Names of the :class:`TrainOptions` fields."""

_TIMINGS: Final = (
    ("Regular: the compiled pulses", "regular"),
    ("Jittered: each spike moved at random", "jittered"),
    ("Quasi-regular (Axon): ISI = 1 ms + Poisson", "quasi_regular"),
)
_TIMING_HINTS: Final = {
    "regular": (
        "Exactly the trains the rig is asked to produce (stimulation pulses and the "
        "target postsynaptic spikes); seeds and jitter are not used."
    ),
    "jittered": (
        "Both trains drawn with every spike moved by up to the jitter, for each seed; "
        "the prediction is the mean over seeds (± SD shown)."
    ),
    "quasi_regular": (
        "Both trains drawn like Axon's: inter-spike interval 1 ms + Poisson(1000 / rate) "
        "ms, for each seed; the prediction is the mean over seeds (± SD shown)."
    ),
}
_SEED_HINT = "Each seed adds about 1 ms to every update of the preview."
_DEFAULT_STYLE = "color: #757575;"
_CHANGED_STYLE = "color: #e65100; font-weight: 600;"


def _number(value: float) -> str:
    return f"{value:g}"


def _message(error: object) -> str:
    """The validator's own sentence (pydantic wraps it in ``Value error, ...``)."""
    return str(error)


class KinaseParamsDialog(QDialog):
    """Edit the kinase-cascade constants and the spike trains of the plasticity preview.

    Every :class:`KinaseParams` field has a spin box with its unit and, beside it, the
    Axon v2 default (highlighted when the value differs). ``dt_ms`` is shown but fixed at
    one 1 ms Axon cycle. Values the models refuse are flagged at their field with the
    models' message; OK is disabled until every field is valid.

    The dialog is meant to be opened with :meth:`open` (never ``exec``): read
    :meth:`value` when it is ``accepted``.

    Parameters
    ----------
    value
        Parameters and train options to show first (default: Axon v2 defaults and
        regular trains).
    parent
        Parent widget.

    Signals
    -------
    valueChanged(tuple[KinaseParams, TrainOptions])
        The user (or :meth:`setValue`) changed the value, and it is valid.
    """

    valueChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(self, value: ParamsAndTrains | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Kinase model parameters")
        self.setStyleSheet(INVALID_STYLE)
        self._value: ParamsAndTrains = (KinaseParams(), TrainOptions())
        self._problems: dict[str, str] = {}
        self._fields: dict[str, QWidget] = {}
        self._quantities: dict[str, QuantityField] = {}
        self._default_labels: dict[str, QLabel] = {}
        cascade = self._build_cascade()
        trains = self._build_trains()
        self._summary = QLabel()
        self._summary.setObjectName("problemSummary")
        self._summary.setWordWrap(True)
        self._summary.setStyleSheet("color: #c62828;")
        self._summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._buttons = self._build_buttons()
        spins = [w for w in self._fields.values() if w is not self._timing]
        width = max(w.sizeHint().width() for w in spins)
        for widget in spins:
            widget.setMinimumWidth(width)  # one column of equally wide spin boxes
        layout = QVBoxLayout(self)
        # Grow (never squeeze the fields) when the list of problems appears.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addWidget(cascade)
        layout.addWidget(trains)
        layout.addWidget(self._summary)
        layout.addWidget(self._buttons)

        self.setValue(self._value if value is None else value)

    def _build_cascade(self) -> QGroupBox:
        defaults = KinaseParams()
        descriptions = {
            name: info.description or "" for name, info in KinaseParams.model_fields.items()
        }
        cascade = QGroupBox("Kinase cascade (Axon v2 CaMKII / DAPK1 rule)")
        form = QFormLayout(cascade)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for spec in _PARAMS:
            field = QuantityField(spec.unit, step=spec.step)
            field.setObjectName(spec.name)
            tip = f"<p><b>{spec.axon_name}</b>: {descriptions[spec.name]}</p>"
            if spec.name == "d_scale":
                tip += (
                    f"<p>{ONSET_COMPENSATED_D_SCALE:g} is the older Axon value that offsets "
                    "the onset bias of flat protocols (onset compensation).</p>"
                )
            if spec.name == "lrate":
                tip += (
                    "<p>Used only by the uncalibrated Axon weight mapping; it does not "
                    "change dWt.</p>"
                )
            field.setToolTip(tip)
            field.edited.connect(self._revalidate)
            default = QLabel(f"Axon: {_number(getattr(defaults, spec.name))}")
            default.setStyleSheet(_DEFAULT_STYLE)
            row = QHBoxLayout()
            row.addWidget(field)
            row.addWidget(default)
            row.addStretch(1)
            form.addRow(f"{spec.label} ({spec.axon_name}):", row)
            self._fields[spec.name] = field
            self._quantities[spec.name] = field
            self._default_labels[spec.name] = default
        step = QLabel(f"{defaults.dt_ms:g} ms (fixed: one Axon cycle)")
        step.setToolTip(descriptions["dt_ms"])
        form.addRow("Integration step (dt):", step)
        return cascade

    def _build_trains(self) -> QGroupBox:
        trains = QGroupBox("Spike trains fed to the model")
        tform = QFormLayout(trains)
        tform.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self._timing = ChoiceField(_TIMINGS)
        self._timing.setObjectName("timing")
        self._timing.edited.connect(self._revalidate)
        self._n_seeds = IntField("seeds")
        self._n_seeds.setObjectName("n_seeds")
        self._n_seeds.setToolTip(f"Number of random draws averaged. {_SEED_HINT}")
        self._n_seeds.edited.connect(self._revalidate)
        self._seed = IntField()
        self._seed.setObjectName("seed")
        self._seed.setToolTip("First seed; draw k uses seeds (base, k), reproducibly.")
        self._seed.edited.connect(self._revalidate)
        self._jitter = QuantityField("ms", step=0.5)
        self._jitter.setObjectName("jitter_ms")
        self._jitter.setToolTip("Largest shift of a jittered spike (uniform, either way).")
        self._jitter.edited.connect(self._revalidate)
        self._timing_hint = QLabel()
        self._timing_hint.setWordWrap(True)
        self._timing_hint.setStyleSheet(_DEFAULT_STYLE)
        tform.addRow("Timing:", self._timing)
        tform.addRow("", self._timing_hint)
        tform.addRow("Average over:", self._n_seeds)
        tform.addRow("Base seed:", self._seed)
        tform.addRow("Jitter:", self._jitter)
        self._fields.update(
            timing=self._timing, n_seeds=self._n_seeds, seed=self._seed, jitter_ms=self._jitter
        )
        return trains

    def _build_buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self._reset = QPushButton("Reset to Axon defaults")
        self._reset.setObjectName("resetDefaults")
        self._reset.setToolTip(
            "Set every cascade constant to its Axon v2 default (the trains are kept)."
        )
        self._reset.setAutoDefault(False)
        self._reset.clicked.connect(self.resetToDefaults)
        buttons.addButton(self._reset, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        return buttons

    # ------------------------------------------------------------------ public API

    def value(self) -> ParamsAndTrains:
        """The parameters and train options (the last valid ones while a field is invalid)."""
        return self._value

    def setValue(self, value: ParamsAndTrains) -> None:
        """Show ``value``; emits :attr:`valueChanged` if it differs from the current one."""
        params, options = value
        for name, field in self._quantities.items():
            field.setFieldValue(getattr(params, name))
        self._timing.setFieldValue(options.timing)
        self._n_seeds.setFieldValue(options.n_seeds)
        self._seed.setFieldValue(options.seed)
        self._jitter.setFieldValue(options.jitter_ms)
        self._revalidate()

    def isValid(self) -> bool:
        """Whether every field holds a value the models accept."""
        return not self._problems

    def problems(self) -> dict[str, str]:
        """Field name -> the models' message, for every field flagged invalid."""
        return dict(self._problems)

    def field(self, name: str) -> QWidget:
        """The editor widget of a :data:`PARAM_FIELDS` or :data:`TRAIN_FIELDS` name."""
        return self._fields[name]

    def resetToDefaults(self) -> None:
        """Set every cascade constant to its Axon v2 default (train options are kept)."""
        defaults = KinaseParams()
        for name, field in self._quantities.items():
            field.setFieldValue(getattr(defaults, name))
        self._revalidate()

    def okButton(self) -> QPushButton:
        """The OK button (disabled while a field is invalid)."""
        button = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert button is not None
        return button

    def accept(self) -> None:
        """Close with the current value, unless a field is invalid."""
        if self.isValid():
            super().accept()

    # ------------------------------------------------------------------ validation

    def _revalidate(self) -> None:
        problems: dict[str, str] = {}
        raw = {name: field.fieldValue() for name, field in self._quantities.items()}
        params: KinaseParams | None = None
        try:
            params = KinaseParams.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                name = str(err["loc"][0]) if err["loc"] else ""
                ctx = err.get("ctx") or {}
                text = _message(ctx["error"]) if "error" in ctx else err["msg"]
                problems.setdefault(name, text)

        timing = self._timing.fieldValue()
        n_seeds = self._n_seeds.fieldValue()
        seed = self._seed.fieldValue()
        jitter = float(self._jitter.fieldValue() or 0.0)
        try:
            TrainOptions(n_seeds=n_seeds)
        except ValueError as exc:
            problems["n_seeds"] = str(exc)
        try:
            TrainOptions(jitter_ms=jitter)
        except ValueError as exc:
            problems["jitter_ms"] = str(exc)
        if seed < 0:
            problems["seed"] = f"seed: {seed} — random seeds are whole numbers >= 0"

        for name, widget in self._fields.items():
            set_problem(widget, problems.get(name))
        self._problems = problems
        self._timing_hint.setText(_TIMING_HINTS.get(str(timing), ""))
        _pin_height(self._timing_hint)
        self._show_defaults()
        self.okButton().setEnabled(not problems)
        if problems:
            lines = [f"{_label_of(n)}: {m}" for n, m in problems.items()]
            self._summary.setText("Not applied until fixed:\n" + "\n".join(lines))
            self._summary.show()
            _pin_height(self._summary)
            return
        self._summary.hide()
        assert params is not None
        value = (
            params,
            TrainOptions(timing=timing, n_seeds=n_seeds, seed=seed, jitter_ms=jitter),
        )
        if value != self._value:
            self._value = value
            self.valueChanged.emit(value)

    def _show_defaults(self) -> None:
        defaults = KinaseParams()
        for name, label in self._default_labels.items():
            changed = self._quantities[name].fieldValue() != getattr(defaults, name)
            label.setStyleSheet(_CHANGED_STYLE if changed else _DEFAULT_STYLE)
            label.setToolTip("Differs from the Axon v2 default" if changed else "Axon v2 default")

    def fieldProblem(self, name: str) -> str | None:
        """The message flagged at field ``name`` (``None`` if it is valid)."""
        return problem_of(self._fields[name])


def _pin_height(label: QLabel) -> None:
    """Make a word-wrapped label claim the height its text needs.

    Qt layouts under-estimate wrapped labels; without this, a longer text squeezes the
    spin boxes instead of growing the dialog.
    """
    width = label.width() if label.isVisible() else label.sizeHint().width()
    label.setMinimumHeight(label.heightForWidth(max(width, 240)))


def _label_of(name: str) -> str:
    for spec in _PARAMS:
        if spec.name == name:
            return f"{spec.label} ({spec.axon_name})"
    return {
        "timing": "Timing",
        "n_seeds": "Average over",
        "seed": "Base seed",
        "jitter_ms": "Jitter",
    }.get(name, name)
