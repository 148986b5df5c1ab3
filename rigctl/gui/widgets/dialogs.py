"""One way to ask the user to choose between a few named actions (a modal warning box)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from PyQt6.QtWidgets import QMessageBox, QWidget

__all__ = ["ask_choice"]

T = TypeVar("T")


def ask_choice(
    parent: QWidget | None,
    title: str,
    text: str,
    details: str,
    choices: Sequence[tuple[T, str, QMessageBox.ButtonRole]],
    safe: T,
) -> T:
    """Ask (modal warning box) which of ``choices`` to take; closing it answers ``safe``.

    Parameters
    ----------
    parent
        The window the box belongs to.
    title, text, details
        Window title, question and informative text.
    choices
        ``(answer, button label, button role)`` per button, in order.
    safe
        The answer of the default and Escape button (one of the answers in ``choices``),
        and of a box closed without a click.

    Returns
    -------
    T
        The answer of the button clicked.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(details)
    buttons = [(answer, box.addButton(label, role)) for answer, label, role in choices]
    default = next(button for answer, button in buttons if answer == safe)
    box.setDefaultButton(default)
    box.setEscapeButton(default)
    box.exec()
    clicked = box.clickedButton()
    return next((answer for answer, button in buttons if button is clicked), safe)
