"""Field widgets of the protocol editors: one widget per model field.

Every field widget has the same small interface, whatever Qt widget it is built on:

- ``fieldValue()`` returns the value in the model's terms (``float``, ``int``, ``str``,
  ``None`` for an optional field left empty, a tuple of tags);
- ``setFieldValue(value)`` shows a value without emitting anything;
- ``edited`` is emitted when the *user* changes the value (a typed number counts once
  it is entered: Enter, leaving the field, or a step of the arrows);
- ``committed`` is emitted when the user finishes editing (Enter, focus leaves).

The ranges of the number fields are deliberately wide: the model's validators are the
source of truth for limits, and the editor shows their message at the field (see
:func:`set_problem`) instead of silently clamping what the user typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from PyQt6.QtCore import QLocale, QSize, QTimer, pyqtBoundSignal, pyqtSignal
from PyQt6.QtGui import QFocusEvent, QValidator, QWheelEvent
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QWidget,
)

__all__ = [
    "INVALID_STYLE",
    "ChoiceField",
    "Field",
    "IntField",
    "OptionalQuantityField",
    "QuantityField",
    "TagsField",
    "TextAreaField",
    "TextField",
    "problem_of",
    "set_problem",
]

#: Largest magnitude a number field accepts (far beyond any model limit).
_WIDE = 1e6
_DECIMALS = 6
_INVALID = "invalid"
_BASE_TIP = "baseToolTip"

INVALID_STYLE = f"""
*[{_INVALID}="true"] {{
    border: 2px solid #c62828;
    border-radius: 3px;
    background-color: #ffebee;
    color: #000000;
}}
QAbstractSpinBox[{_INVALID}="true"]::up-button,
QAbstractSpinBox[{_INVALID}="true"]::down-button {{
    width: 0px;
    border: none;
}}
"""
"""Style sheet rule that draws a field flagged by :func:`set_problem` (red border, pink)."""


def _compact(locale: QLocale, value: float, decimals: int) -> str:
    """``value`` in ``locale`` with at most ``decimals`` decimals and no trailing zeros."""
    text = locale.toString(value, "f", decimals)
    point = locale.decimalPoint()
    if point in text:
        text = text.rstrip("0").rstrip(point)
    return "0" if text in ("-0", "") else text


def _plain_locale(locale: QLocale) -> QLocale:
    plain = QLocale(locale)
    plain.setNumberOptions(QLocale.NumberOption.OmitGroupSeparator)
    return plain


def _setup_number(
    box: QSpinBox | QDoubleSpinBox,
    unit: str,
    edited: pyqtBoundSignal,
    committed: pyqtBoundSignal,
) -> None:
    """What every number field does: typed numbers count on Enter, the unit as suffix."""
    box.setAccelerated(True)
    box.setKeyboardTracking(False)  # a typed number counts on Enter or leaving the field
    box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)
    if unit:
        box.setSuffix(f" {unit}")
    box.valueChanged.connect(edited)
    box.editingFinished.connect(committed)


def _narrowed(box: QWidget, hint: QSize, sample: str) -> QSize:
    """``hint`` made no wider than ``sample`` (a typical value) needs in ``box``."""
    width = box.fontMetrics().horizontalAdvance(sample) + 36
    return QSize(min(hint.width(), width), hint.height())


class _NoWheelMixin:
    """Ignore the mouse wheel unless the field has focus (scrolling must not edit values)."""

    def _wheel_allowed(self, widget: QWidget, event: QWheelEvent) -> bool:
        if widget.hasFocus():
            return True
        event.ignore()
        return False


class _NumberSizeMixin(_NoWheelMixin):
    """Size and wheel of a number field (put first among the bases of a spin box)."""

    def _typical_text(self) -> str:
        """Text of a typical value with its unit: the room the field asks for."""
        raise NotImplementedError

    def sizeHint(self: Any) -> QSize:
        """Room for a typical value, not for the (wide) range limits."""
        return _narrowed(self, QAbstractSpinBox.sizeHint(self), self._typical_text())

    def minimumSizeHint(self: Any) -> QSize:
        """Same as :meth:`sizeHint` (a number field must not be squeezed unreadable)."""
        hint = QAbstractSpinBox.minimumSizeHint(self)
        return QSize(min(hint.width(), self.sizeHint().width()), hint.height())

    def wheelEvent(self: Any, e: QWheelEvent | None) -> None:
        """Step only when focused, so scrolling the form never changes a value."""
        if e is not None and self._wheel_allowed(self, e):
            QAbstractSpinBox.wheelEvent(self, e)


class QuantityField(_NumberSizeMixin, QDoubleSpinBox):
    """A physical quantity with its unit as suffix, e.g. ``25 Hz``.

    Shows the shortest exact text (``100 ms``, ``0.25 ms``) in the user's locale.

    Parameters
    ----------
    unit
        Unit shown after the number (``"Hz"``, ``"ms"``); empty for none.
    step
        Increment of the arrow keys and buttons.
    parent
        Parent widget.
    """

    edited = pyqtSignal()
    committed = pyqtSignal()

    def __init__(self, unit: str = "", *, step: float = 1.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLocale(_plain_locale(self.locale()))
        self.setDecimals(_DECIMALS)
        self.setRange(-_WIDE, _WIDE)
        self.setSingleStep(step)
        _setup_number(self, unit, self.edited, self.committed)

    def textFromValue(self, v: float) -> str:
        """Shortest text for ``v`` (no trailing zeros)."""
        return _compact(self.locale(), v, self.decimals())

    def _typical_text(self) -> str:
        return self.textFromValue(-99999.99) + self.suffix()

    def fieldValue(self) -> float | None:
        """The number shown."""
        return float(self.value())

    def setFieldValue(self, value: Any) -> None:
        """Show ``value`` without emitting :attr:`edited`."""
        if value is None or float(value) == self.value():
            return
        self.blockSignals(True)
        try:
            self.setValue(float(value))
        finally:
            self.blockSignals(False)


class OptionalQuantityField(QuantityField):
    """A quantity that may be left empty (``None``), shown as ``empty_text``.

    Clearing the text sets ``None``; typing a number sets the number; the arrows step
    from 0 when the field is empty.
    """

    def __init__(
        self,
        unit: str = "",
        *,
        empty_text: str,
        step: float = 1.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(unit, step=step, parent=parent)
        self._empty = -(_WIDE * 1000)
        self.setMinimum(self._empty)
        self.setSpecialValueText(empty_text)

    def _bare(self, text: str) -> str:
        text = text.strip()
        suffix = self.suffix().strip()
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)].strip()
        return text

    def validate(self, input: str | None, pos: int) -> tuple[QValidator.State, str, int]:
        """Accept an empty text (meaning "no value") besides numbers."""
        text = input or ""
        if not self._bare(text):
            return QValidator.State.Acceptable, text, pos
        return super().validate(text, pos)

    def valueFromText(self, text: str | None) -> float:
        """Empty text means the empty marker value."""
        if not self._bare(text or ""):
            return self.minimum()
        return super().valueFromText(text)

    def stepBy(self, steps: int) -> None:
        """Step from 0 when empty."""
        if self.fieldValue() is None:
            self.setValue(0.0)
            self.selectAll()
            return
        super().stepBy(steps)

    def focusInEvent(self, e: QFocusEvent | None) -> None:
        """Select the empty marker text so typing replaces it."""
        super().focusInEvent(e)
        if self.fieldValue() is None:
            QTimer.singleShot(0, self.selectAll)

    def fieldValue(self) -> float | None:
        """The number shown, or ``None`` when the field is empty."""
        value = float(self.value())
        return None if value == self.minimum() else value

    def setFieldValue(self, value: Any) -> None:
        """Show ``value`` (``None`` shows the empty text) without emitting."""
        target = self.minimum() if value is None else float(value)
        if target == self.value():
            return
        self.blockSignals(True)
        try:
            self.setValue(target)
        finally:
            self.blockSignals(False)


class IntField(_NumberSizeMixin, QSpinBox):
    """A whole number (seed, repeat count).

    Parameters
    ----------
    unit
        Unit or word shown after the number; empty for none.
    parent
        Parent widget.
    """

    edited = pyqtSignal()
    committed = pyqtSignal()

    def __init__(self, unit: str = "", *, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(-2_147_483_647, 2_147_483_647)
        _setup_number(self, unit, self.edited, self.committed)

    def _typical_text(self) -> str:
        return "-999999" + self.suffix()

    def fieldValue(self) -> int:
        """The number shown."""
        return int(self.value())

    def setFieldValue(self, value: Any) -> None:
        """Show ``value`` without emitting."""
        if int(value) == self.value():
            return
        self.blockSignals(True)
        try:
            self.setValue(int(value))
        finally:
            self.blockSignals(False)


class TextField(QLineEdit):
    """A one-line text (name, author)."""

    edited = pyqtSignal()
    committed = pyqtSignal()

    def __init__(self, *, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.textEdited.connect(self.edited)
        self.editingFinished.connect(self.committed)

    def fieldValue(self) -> str:
        """The text."""
        return self.text()

    def setFieldValue(self, value: Any) -> None:
        """Show ``value`` (kept if equal, so the cursor does not jump)."""
        if self.text() != str(value):
            self.setText(str(value))


class TagsField(TextField):
    """Comma-separated tags, as a tuple of non-empty strings."""

    def fieldValue(self) -> tuple[str, ...]:  # type: ignore[override]
        """The tags, stripped, empty ones dropped."""
        return tuple(t.strip() for t in self.text().split(",") if t.strip())

    def setFieldValue(self, value: Any) -> None:
        """Show the tags unless the text already means them (keeps the cursor)."""
        tags = tuple(value)
        if self.fieldValue() != tags:
            self.setText(", ".join(tags))


class TextAreaField(QPlainTextEdit):
    """A multi-line text (description)."""

    edited = pyqtSignal()
    committed = pyqtSignal()

    def __init__(self, *, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.textChanged.connect(self.edited)

    def sizeHint(self) -> QSize:
        """Three lines high; the field grows into whatever room the layout has."""
        lines = self.fontMetrics().lineSpacing()
        return QSize(super().sizeHint().width(), 3 * lines + 2 * self.frameWidth() + 8)

    def minimumSizeHint(self) -> QSize:
        """Two lines high."""
        lines = self.fontMetrics().lineSpacing()
        return QSize(super().minimumSizeHint().width(), 2 * lines + 2 * self.frameWidth() + 8)

    def focusOutEvent(self, e: QFocusEvent | None) -> None:
        """Leaving the field finishes the edit."""
        super().focusOutEvent(e)
        self.committed.emit()

    def fieldValue(self) -> str:
        """The text."""
        return self.toPlainText()

    def setFieldValue(self, value: Any) -> None:
        """Show ``value`` without emitting."""
        if self.toPlainText() == str(value):
            return
        self.blockSignals(True)
        try:
            self.setPlainText(str(value))
        finally:
            self.blockSignals(False)


class ChoiceField(QComboBox, _NoWheelMixin):
    """One of a fixed set of values (e.g. ``regular`` / ``jittered``).

    Parameters
    ----------
    choices
        ``(label, value)`` pairs, in display order.
    parent
        Parent widget.
    """

    edited = pyqtSignal()
    committed = pyqtSignal()

    def __init__(
        self, choices: Sequence[tuple[str, Any]], *, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        for label, value in choices:
            self.addItem(label, value)
        self.currentIndexChanged.connect(self._changed)

    def _changed(self) -> None:
        self.edited.emit()
        self.committed.emit()

    def wheelEvent(self, e: QWheelEvent | None) -> None:
        """Change only when focused."""
        if e is not None and self._wheel_allowed(self, e):
            super().wheelEvent(e)

    def fieldValue(self) -> Any:
        """The value of the selected choice."""
        return self.currentData()

    def setFieldValue(self, value: Any) -> None:
        """Select the choice of ``value`` without emitting."""
        index = self.findData(value)
        if index == self.currentIndex():
            return
        self.blockSignals(True)
        try:
            self.setCurrentIndex(index)
        finally:
            self.blockSignals(False)


Field = (
    QuantityField
    | OptionalQuantityField
    | IntField
    | TextField
    | TagsField
    | TextAreaField
    | ChoiceField
)
"""Any field widget (they share ``fieldValue``, ``setFieldValue``, ``edited``, ``committed``)."""


def set_problem(widget: QWidget, message: str | None) -> None:
    """Flag ``widget`` as invalid with ``message`` as its tooltip, or clear the flag.

    The widget's own tooltip comes back when the flag is cleared. The red look needs
    :data:`INVALID_STYLE` in a style sheet of the widget or one of its parents.
    """
    flagged = bool(widget.property(_INVALID))
    if message is None and not flagged:
        return
    if not flagged:
        widget.setProperty(_BASE_TIP, widget.toolTip())
    if message is None:
        widget.setToolTip(str(widget.property(_BASE_TIP) or ""))
    else:
        widget.setToolTip(f"<p><b>Invalid:</b> {escape(message)}</p>")
    if flagged != (message is not None):
        widget.setProperty(_INVALID, message is not None)
        style: QStyle | None = widget.style()
        if style is not None:
            style.unpolish(widget)
            style.polish(widget)
        widget.update()
    widget.setProperty("problem", message)


def problem_of(widget: QWidget) -> str | None:
    """The problem message :func:`set_problem` put on ``widget`` (``None`` if valid)."""
    message = widget.property("problem")
    return str(message) if message else None
