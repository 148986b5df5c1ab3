"""The log file of rigctl: one per user, rotated; shared by the command line and the app.

Everything rigctl logs (``logging.getLogger("rigctl...")``) goes to
``<user log dir>/rigctl.log`` (platformdirs' user log folder, e.g.
``~/.local/state/rigctl/log`` on Linux), rotated at :data:`MAX_BYTES` with
:data:`BACKUPS` older files kept. The environment variable :data:`LOG_DIR_ENV` moves it
(tests point it at a temporary folder). ``verbose`` also prints debug messages to
standard error (``rigctl --verbose``). No Qt here: the CLI and the GUI share it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

import platformdirs

__all__ = [
    "BACKUPS",
    "LOG_DIR_ENV",
    "LOG_FILENAME",
    "MAX_BYTES",
    "log_dir",
    "log_path",
    "setup_logging",
]

LOG_DIR_ENV = "RIGCTL_LOG_DIR"
"""Environment variable naming the folder of the log file (overrides the user log dir)."""
LOG_FILENAME = "rigctl.log"
"""Name of the log file in :func:`log_dir`."""
MAX_BYTES = 2_000_000
"""Size at which the log file is rotated."""
BACKUPS = 5
"""Rotated log files kept (``rigctl.log.1`` … ``rigctl.log.5``)."""

_LOGGER = "rigctl"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_MARK = "_rigctl_handler"  # set on the handlers this module installs, to replace them


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each message."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def log_dir() -> Path:
    """The folder of the log file: ``$RIGCTL_LOG_DIR`` or the user's log folder."""
    env = os.environ.get(LOG_DIR_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_log_dir("rigctl", appauthor=False))


def log_path() -> Path:
    """The log file that :func:`setup_logging` writes to."""
    return log_dir() / LOG_FILENAME


def setup_logging(*, verbose: bool = False) -> Path | None:
    """Send rigctl's log to the rotated log file (and to stderr when ``verbose``).

    Calling it again replaces the handlers it installed before (the folder may have
    changed), so it is safe to call once per command.

    Parameters
    ----------
    verbose
        Also print debug messages to standard error.

    Returns
    -------
    Path or None
        The log file, or ``None`` if its folder cannot be created or written (logging
        then goes to standard error only when ``verbose``; it never stops rigctl).
    """
    logger = logging.getLogger(_LOGGER)
    for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(old)
        old.close()
    logger.setLevel(logging.DEBUG)
    formatter = logging.Formatter(_FORMAT)
    target = log_path()
    path: Path | None = target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
    except OSError as exc:
        print(f"{target}: cannot write the log file ({exc.strerror or exc})", file=sys.stderr)
        path = None
    else:
        file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
        file_handler.setFormatter(formatter)
        setattr(file_handler, _MARK, True)
        logger.addHandler(file_handler)
    if verbose:
        err = _Stderr()
        err.setLevel(logging.DEBUG)
        err.setFormatter(formatter)
        setattr(err, _MARK, True)
        logger.addHandler(err)
    return path
