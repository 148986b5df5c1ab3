"""The main window's size and pane positions: fitted to the screen, remembered, reset.

The first opening takes :data:`SCREEN_FRACTION` of the screen's available area (at
most :data:`DEFAULT_SIZE`); later ones get the saved geometry back (cut to the screen
if it has become smaller). Every splitter with an object name keeps its position.
Each tab's content sits in a scroll area (:func:`page`): below its minimum size a tab
scrolls instead of squeezing its widgets over each other or clipping them.
"""

from __future__ import annotations

from typing import Final

from PyQt6.QtCore import QByteArray, QRect, QSize
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QMainWindow, QScrollArea, QSplitter, QWidget

from rigctl.gui.settings import AppSettings
from rigctl.gui.widgets.scroll import scrolling

__all__ = [
    "DEFAULT_SIZE",
    "SCREEN_FRACTION",
    "WindowLayout",
    "available_geometry",
    "fit_size",
    "page",
]

DEFAULT_SIZE: Final = QSize(1800, 1050)
"""The largest size the window opens at the first time (on a large screen)."""
SCREEN_FRACTION: Final = 0.9
"""Fraction of the available screen the window takes the first time."""


def fit_size(available: QSize) -> QSize:
    """The size of a first opening on a screen whose available area is ``available``.

    :data:`SCREEN_FRACTION` of it, at most :data:`DEFAULT_SIZE`: never larger than the
    screen.
    """
    return QSize(
        min(DEFAULT_SIZE.width(), int(available.width() * SCREEN_FRACTION)),
        min(DEFAULT_SIZE.height(), int(available.height() * SCREEN_FRACTION)),
    )


def available_geometry(widget: QWidget) -> QRect | None:
    """The available area of the screen ``widget`` is on (the primary one if none yet)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def page(content: QWidget) -> QScrollArea:
    """A tab's content in a scroll area: below its minimum size it scrolls, never clips."""
    return scrolling(content)


class WindowLayout:
    """Restores, saves and resets the geometry and splitters of ``window``.

    Parameters
    ----------
    window
        The main window.
    settings
        Where the layout is kept.
    """

    def __init__(self, window: QMainWindow, settings: AppSettings) -> None:
        self._window = window
        self._settings = settings
        self._defaults: dict[str, bytes] = {}

    def splitters(self) -> dict[str, QSplitter]:
        """The splitters whose positions are remembered: those with an object name."""
        found = self._window.findChildren(QSplitter)
        return {s.objectName(): s for s in found if s.objectName()}

    def restoreWindow(self) -> None:
        """Saved geometry and tool bar state, or the first-opening size for this screen."""
        window = self._window
        geometry = self._settings.windowGeometry()
        if geometry is None or not window.restoreGeometry(geometry):
            self.fitToScreen()
        else:
            available = available_geometry(window)
            if available is not None:  # the screen may be smaller than when it was saved
                window.resize(window.size().boundedTo(available.size()))
        state = self._settings.windowState()
        if state is not None:
            window.restoreState(state)

    def fitToScreen(self) -> None:
        """The first-opening size (:func:`fit_size`), centred on the screen."""
        available = available_geometry(self._window)
        if available is None:
            self._window.resize(DEFAULT_SIZE)
            return
        size = fit_size(available.size())
        self._window.resize(size)
        self._window.move(
            available.x() + (available.width() - size.width()) // 2,
            available.y() + (available.height() - size.height()) // 2,
        )

    def restoreSplitters(self) -> None:
        """Note each splitter's default position, then restore the saved one.

        Call once the window has been shown and laid out (the defaults are what
        :meth:`reset` goes back to).
        """
        for name, splitter in self.splitters().items():
            self._defaults[name] = bytes(splitter.saveState().data())
            state = self._settings.splitterState(name)
            if state is not None:
                splitter.restoreState(state)

    def save(self) -> None:
        """Remember the window geometry, tool bar state and splitter positions."""
        self._settings.setWindowGeometry(self._window.saveGeometry())
        self._settings.setWindowState(self._window.saveState())
        for name, splitter in self.splitters().items():
            self._settings.setSplitterState(name, splitter.saveState())

    def reset(self) -> None:
        """Forget the saved layout: first-opening size for this screen, default panes."""
        self._settings.clearLayout()
        if self._window.isMaximized() or self._window.isFullScreen():
            self._window.showNormal()
        self.fitToScreen()
        for name, splitter in self.splitters().items():
            default = self._defaults.get(name)
            if default is not None:
                splitter.restoreState(QByteArray(default))
