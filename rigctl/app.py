"""The composition root: builds the Qt application and the windows and wires them.

Nothing else in rigctl creates a ``QApplication`` or reads the user's settings; every
window gets what it needs passed in.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from rigctl import __version__
from rigctl.data import resolve_rig
from rigctl.engine import RigSession
from rigctl.gui.errors import ErrorReporter
from rigctl.gui.main_window import MainWindow
from rigctl.paths import recordings_dir
from rigctl.protocol import ProtocolFileError, load, paper_condition

__all__ = ["APP_NAME", "ORG_NAME", "run_gui"]

ORG_NAME = "rigctl"
"""Organisation name under which Qt keeps the settings."""
APP_NAME = "rigctl"
"""Application name under which Qt keeps the settings."""

_SIZE = (1800, 1050)


def _application(argv: Sequence[str] | None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setStyle("Fusion")
    return app


def run_gui(
    path: str | None = None,
    screenshot: str | None = None,
    argv: list[str] | None = None,
    *,
    settings: QSettings | None = None,
    rig: str | None = None,
    data_root: str | None = None,
) -> int:
    """Run the protocol designer.

    Parameters
    ----------
    path
        Protocol file to open; without one the paper's 25 → 50 Hz condition is shown.
    screenshot
        Render the window to this PNG once it is shown, then exit (no event loop left
        running: for documentation and CI).
    argv
        Arguments for Qt (default: the program name only).
    settings
        Where recent files are kept (default: the user's settings for rigctl).
    rig
        Rig file (or shipped rig name, see :func:`rigctl.data.resolve_rig`) the Rig tab
        opens (default: the simulated rig).
    data_root
        The data root (``--data-root``; default :func:`rigctl.paths.data_root`): new
        recordings go to its ``recordings`` folder.

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

    error: ProtocolFileError | None = None
    experiment = paper_condition(25, 50)
    if path is not None:
        try:
            experiment = load(path)
        except ProtocolFileError as exc:
            if screenshot is not None:
                print(str(exc), file=sys.stderr)
                return 1
            error = exc

    session = RigSession()  # the one owner of the rig; the panels borrow it
    window = MainWindow(
        settings if settings is not None else QSettings(),
        experiment,
        session=session,
        rig_path=resolve_rig(rig),
        data_root=recordings_dir(data_root),
    )
    if path is not None and error is None:
        window.setDocument(experiment, Path(path))
    window.resize(*_SIZE)
    # An exception in a slot or a thread is logged and shown; the app keeps running.
    reporter = ErrorReporter(window, rest_outputs=window.restOutputs)
    reporter.install()
    window.show()

    status = 0
    if screenshot is not None:

        def grab() -> None:
            nonlocal status
            window.plasticityPane.waitForMap(10.0)  # the picture shows the finished map
            app.processEvents()
            target = Path(screenshot)
            if not window.grab().save(str(target), "PNG"):
                print(f"{target}: cannot write the screenshot", file=sys.stderr)
                status = 1
            window.close()
            app.exit(status)

        QTimer.singleShot(0, grab)  # once the event loop runs: the window is laid out
    elif error is not None:
        window.showStatus(str(error))
        QTimer.singleShot(0, lambda: window.showError("Cannot open protocol", str(error)))

    try:
        code = app.exec()
    finally:
        reporter.uninstall()
    if window.runPanel is not None:
        window.runPanel.shutdown()  # also when the loop ended without closing the window
    if window.rigPanel is not None:
        window.rigPanel.shutdown()
    session.close()  # idempotent: the rig is at rest and closed whatever happened above
    window.deleteLater()
    return status if screenshot is not None else code
