"""The composition root: builds the Qt application and the windows and wires them.

Nothing else in rigctl creates a ``QApplication`` or reads the user's settings; every
window gets what it needs passed in.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QEvent, QSettings, QSize, QTimer
from PyQt6.QtWidgets import QApplication

from rigctl import __version__
from rigctl.data import resolve_rig
from rigctl.engine import RigSession
from rigctl.gui.errors import ErrorReporter
from rigctl.gui.main_window import MainWindow
from rigctl.gui.settings import AppSettings
from rigctl.paths import DATA_ROOT_ENV, recordings_dir
from rigctl.protocol import Experiment, ProtocolFileError, load, paper_condition

__all__ = ["APP_NAME", "ORG_NAME", "TAB_FIELD", "run_gui"]

ORG_NAME = "rigctl"
"""Organisation name under which Qt keeps the settings."""
APP_NAME = "rigctl"
"""Application name under which Qt keeps the settings."""

TAB_FIELD = "{tab}"
"""In a ``--screenshot`` name, stands for each tab's title: one picture per tab."""


def _application(argv: Sequence[str] | None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setStyle("Fusion")
    return app


def _rig_file(rig: str | None, remembered: AppSettings) -> Path:
    """``--rig`` if given, else the rig file opened last (if still there), else the sim."""
    if rig is not None:
        return resolve_rig(rig)
    last = remembered.rigFile()
    return last if last is not None and last.is_file() else resolve_rig(None)


def _recordings(data_root: str | None, remembered: AppSettings) -> Path:
    """``--data-root`` or ``$RIGCTL_DATA_ROOT`` if set, else the folder used last."""
    if data_root is None and not os.environ.get(DATA_ROOT_ENV):
        last = remembered.dataFolder()
        if last is not None and last.is_dir():
            return last
    return recordings_dir(data_root)


def _screenshot_targets(screenshot: str, window: MainWindow) -> list[tuple[str, Path]]:
    if TAB_FIELD not in screenshot:
        return [("", Path(screenshot))]
    return [
        (title, Path(screenshot.replace(TAB_FIELD, title.lower()))) for title in window.tabTitles()
    ]


def _first_document(path: str | None) -> tuple[Experiment, ProtocolFileError | None]:
    """The protocol to show first: ``path``'s, else (or if it cannot be read) the paper's."""
    if path is None:
        return paper_condition(25, 50), None
    try:
        return load(path), None
    except ProtocolFileError as exc:
        return paper_condition(25, 50), exc


def _shut_down(window: MainWindow, session: RigSession) -> None:
    """Stop the panels' work and close the rig (also when the loop ended without a close)."""
    if window.runPanel is not None:
        window.runPanel.shutdown()
    if window.rigPanel is not None:
        window.rigPanel.shutdown()
    session.close()  # idempotent: the rig is at rest and closed whatever happened above
    window.deleteLater()


def _main_window(
    store: QSettings,
    experiment: Experiment,
    session: RigSession,
    *,
    rig: str | None,
    data_root: str | None,
    document: Path | None,
) -> MainWindow:
    """The main window on ``session``, with the rig file and data folder to start from."""
    remembered = AppSettings(store)
    window = MainWindow(
        store,
        experiment,
        session=session,
        rig_path=_rig_file(rig, remembered),
        data_root=_recordings(data_root, remembered),
    )
    if document is not None:
        window.setDocument(experiment, document)
    return window


def _screenshots(app: QApplication, window: MainWindow, screenshot: str) -> int:
    """Write the screenshots (once the window is laid out), close, exit; the status."""
    status = 0
    window.plasticityPane.waitForMap(10.0)  # the picture shows the finished map
    for title, target in _screenshot_targets(screenshot, window):
        if title:
            window.selectTab(title)
        app.processEvents()
        if not window.grab().save(str(target), "PNG"):
            print(f"{target}: cannot write the screenshot", file=sys.stderr)
            status = 1
            break
    window.close()
    app.exit(status)
    return status


def run_gui(
    path: str | None = None,
    screenshot: str | None = None,
    argv: list[str] | None = None,
    *,
    settings: QSettings | None = None,
    rig: str | None = None,
    data_root: str | None = None,
    size: tuple[int, int] | None = None,
) -> int:
    """Run the protocol designer.

    Parameters
    ----------
    path
        Protocol file to open; without one the paper's 25 → 50 Hz condition is shown.
    screenshot
        Render the window to this PNG once it is shown, then exit (no event loop left
        running: for documentation and CI). With :data:`TAB_FIELD` (``{tab}``) in the
        name, each tab is selected in turn and written to the name with ``{tab}``
        replaced by the tab's title in lower case.
    argv
        Arguments for Qt (default: the program name only).
    settings
        What the app remembers (default: the user's settings for rigctl).
    rig
        Rig file (or shipped rig name, see :func:`rigctl.data.resolve_rig`) the Rig tab
        opens (default: the rig file opened last, else the simulated rig).
    data_root
        The data root (``--data-root``; default :func:`rigctl.paths.data_root`): new
        recordings go to its ``recordings`` folder. Without it (and without
        ``$RIGCTL_DATA_ROOT``) the folder used last is proposed again.
    size
        Window size ``(width, height)`` in pixels instead of the remembered one (for
        screenshots).

    Returns
    -------
    int
        Exit status: 0, or 1 if the screenshot could not be made (including a file
        that cannot be opened in screenshot mode).
    """
    app = _application(argv)
    QCoreApplication.setOrganizationName(ORG_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)

    experiment, error = _first_document(path)
    if error is not None and screenshot is not None:
        print(str(error), file=sys.stderr)
        return 1

    session = RigSession()  # the one owner of the rig; the panels borrow it
    window = _main_window(
        settings if settings is not None else QSettings(),
        experiment,
        session,
        rig=rig,
        data_root=data_root,
        document=Path(path) if path is not None and error is None else None,
    )
    if size is not None:
        window.resize(QSize(*size))
    if screenshot is not None:
        window.setLayoutRemembered(False)  # a picture does not change the user's layout
    # An exception in a slot or a thread is logged and shown; the app keeps running.
    reporter = ErrorReporter(window, rest_outputs=window.restOutputs)
    reporter.install()
    window.show()

    shots: list[int] = []
    if screenshot is not None:
        QTimer.singleShot(0, lambda: shots.append(_screenshots(app, window, screenshot)))
    elif error is not None:
        window.showStatus(str(error))
        QTimer.singleShot(0, lambda: window.showError("Cannot open protocol", str(error)))

    try:
        code = app.exec()
    finally:
        reporter.uninstall()
        # Closing the last window posts a Quit event that can outlive the loop it was
        # meant for (the screenshot's close, then exit): delivered later it would make
        # every later event loop of this process (a test's wait) return at once.
        QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
    _shut_down(window, session)
    if screenshot is not None:
        return shots[0] if shots else 1
    return code
