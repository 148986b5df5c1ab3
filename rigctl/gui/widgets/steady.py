"""A holder that keeps a busy widget's text changes from relaying out the whole window.

Qt passes every size-hint change up the widget tree: a label whose text changes calls
``updateGeometry()``, its layout is recomputed, and then every layout above it, up to the
tab's scroll area, is recomputed too (a few ms for the Protocol page), even when nothing
moves. The previews change a dozen labels on every edit. :class:`SteadyFrame` holds one
widget and lays it out itself: a change below it is passed up only when the widget's
minimum size or preferred height at its current width really changed.
"""

from __future__ import annotations

from PyQt6.QtCore import QCoreApplication, QEvent, QObject, QSize
from PyQt6.QtWidgets import QSizePolicy, QWidget

__all__ = ["SteadyFrame"]


class SteadyFrame(QWidget):
    """``content`` filling this frame; its size-hint churn stops here unless it matters.

    The frame asks its parent for what ``content`` asks for (size hint, minimum size,
    size policy). When something inside ``content`` changes its size hint, the frame
    re-places ``content`` and tells its own parent only if the minimum size or the
    preferred height at the current width changed, which is all a parent's layout acts on
    once the window is laid out.

    Parameters
    ----------
    content
        The widget to hold (re-parented to the frame).
    parent
        Parent widget.
    """

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._content = content
        content.setParent(self)
        self.setSizePolicy(content.sizePolicy())
        self.setMaximumSize(content.maximumSize())
        self.setObjectName(f"{content.objectName() or type(content).__name__}Frame")
        self._hints = self._current_hints()
        # Qt does not always tell a parent without a layout that a child's hints changed:
        # look again whenever the content relays itself out.
        content.installEventFilter(self)

    def content(self) -> QWidget:
        """The widget held."""
        return self._content

    def sizeHint(self) -> QSize:  # noqa: D102 (Qt override)
        return self._content.sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: D102 (Qt override)
        content = self._content
        return content.minimumSizeHint().expandedTo(content.minimumSize())

    def hasHeightForWidth(self) -> bool:  # noqa: D102 (Qt override)
        return self._content.hasHeightForWidth()

    def heightForWidth(self, a0: int) -> int:  # noqa: D102 (Qt override)
        return self._content.heightForWidth(a0)

    def _current_hints(self) -> tuple[QSize, QSize, QSize, QSizePolicy]:
        content = self._content
        if content.hasHeightForWidth() and self.width() > 0:
            height = content.heightForWidth(self.width())
        else:
            height = content.sizeHint().height()
        return (
            QSize(0, height),
            self.minimumSizeHint(),
            content.maximumSize(),
            content.sizePolicy(),
        )

    def resizeEvent(self, a0: object) -> None:  # noqa: D102 (Qt override)
        self._content.setGeometry(self.rect())
        self._hints = self._current_hints()

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:  # noqa: D102
        if a0 is self._content and a1 is not None and a1.type() == QEvent.Type.LayoutRequest:
            QCoreApplication.postEvent(self, QEvent(QEvent.Type.LayoutRequest))
        return False

    def event(self, a0: QEvent | None) -> bool:  # noqa: D102 (Qt override)
        if a0 is not None and a0.type() == QEvent.Type.LayoutRequest:
            self._content.setGeometry(self.rect())
            hints = self._current_hints()
            if hints != self._hints:
                self._hints = hints
                self.setMaximumSize(hints[2])
                self.setSizePolicy(hints[3])
                self.updateGeometry()
            return True
        return super().event(a0)
