"""A rich-text line that changes on every edit without relaying out the window.

A word-wrapped rich-text ``QLabel`` recomputes its size hints from its text on every
``setText`` (several layouts of a text document, ~0.4 ms each time) and asks every layout
above it to recompute. The previews show a dozen such lines, rewritten on each edit.
:class:`LiveText` keeps a fixed height of its own (grown, never shrunk while the width
stays, when a text needs more lines), lays its text out once at its width, and only
repaints itself when the text changes.
"""

from __future__ import annotations

import math

from PyQt6.QtCore import QEvent, QRectF, QSize, Qt
from PyQt6.QtGui import (
    QAbstractTextDocumentLayout,
    QAction,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextDocument,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget

__all__ = ["LiveText"]


class LiveText(QWidget):
    """Word-wrapped rich text of a steady height, for values rewritten on every edit.

    The height holds ``lines`` lines; a text that needs more at the current width makes
    it taller (once: a shorter text keeps the height, so the views below do not jump
    between edits). Right click offers *Copy* (the text as shown, plain).

    Parameters
    ----------
    name
        Object name.
    lines
        Lines of text the height holds at least.
    parent
        Parent widget.
    """

    def __init__(self, name: str, *, lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._text = ""
        self._lines = lines
        self._document = QTextDocument(self)
        self._document.setDocumentMargin(0.0)
        self._min_height = 0
        self._height = 0
        self._use_font()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        copy = QAction("Copy", self)
        copy.triggered.connect(self._copy)
        self.addAction(copy)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def text(self) -> str:
        """The text shown (rich text, as given to :meth:`setText`)."""
        return self._text

    def plainText(self) -> str:
        """The text as shown, without markup."""
        return self._document.toPlainText()

    def setText(self, text: str) -> None:
        """Show ``text`` (Qt rich text); nothing happens when it is the text shown."""
        if text == self._text:
            return
        self._text = text
        self._document.setHtml(text)
        self._fit(self.width(), shrink=False)
        self.update()

    def neededHeight(self, width: int) -> int:
        """Height (px) the text needs at ``width``."""
        self._document.setTextWidth(max(1, width))
        return math.ceil(self._document.size().height())

    def sizeHint(self) -> QSize:  # noqa: D102 (Qt override)
        return QSize(200, self._height)

    def minimumSizeHint(self) -> QSize:  # noqa: D102 (Qt override)
        return QSize(60, self._height)

    def resizeEvent(self, a0: QResizeEvent | None) -> None:  # noqa: D102 (Qt override)
        if a0 is not None and a0.oldSize().width() != a0.size().width():
            self._fit(a0.size().width(), shrink=True)

    def paintEvent(self, a0: QPaintEvent | None) -> None:  # noqa: D102 (Qt override)
        if self._document.textWidth() != self.width():
            self._document.setTextWidth(max(1, self.width()))
        context = QAbstractTextDocumentLayout.PaintContext()
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Text, palette.color(QPalette.ColorRole.WindowText))
        context.palette = palette
        context.clip = QRectF(self.rect())
        painter = QPainter(self)
        painter.setClipRect(context.clip)
        layout = self._document.documentLayout()
        assert layout is not None
        layout.draw(painter, context)
        painter.end()

    def changeEvent(self, a0: QEvent | None) -> None:  # noqa: D102 (Qt override)
        super().changeEvent(a0)
        if a0 is not None and a0.type() == QEvent.Type.FontChange:
            self._use_font()

    def _use_font(self) -> None:
        """Lay the text out in the widget's font, with room for its lines in that font."""
        self._document.setDefaultFont(self.font())
        self._min_height = math.ceil(self._lines * self.fontMetrics().lineSpacing())
        self._height = max(self._min_height, self.neededHeight(self.width()) if self._text else 0)
        self.setFixedHeight(self._height)

    def _fit(self, width: int, *, shrink: bool) -> None:
        """Grow (or, after a resize, fit) the height to the text at ``width``."""
        if width <= 0:
            return
        needed = max(self._min_height, self.neededHeight(width))
        if needed > self._height or (shrink and needed != self._height):
            self._height = needed
            self.setFixedHeight(needed)

    def _copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.plainText())
