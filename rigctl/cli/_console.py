"""Console output that works on every terminal: encodings without ∫ or →, and closed pipes.

Windows consoles and redirected output often use a legacy code page (``cp1252``) that
cannot encode ∫ or →; :func:`make_console_safe` lets such streams print ASCII stand-ins
instead of raising :class:`UnicodeEncodeError`. :func:`quiet_broken_pipe` ends a command
whose reader went away (``rigctl devices | head -1``) without a traceback.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
from typing import Final

__all__ = ["ASCII_FALLBACKS", "BROKEN_PIPE_STATUS", "make_console_safe", "quiet_broken_pipe"]

ASCII_FALLBACKS: Final[dict[str, str]] = {
    "∫": "int ",
    "→": "->",
    "←": "<-",
    "±": "+/-",
    "µ": "u",
    "μ": "u",
    "\u00d7": "x",  # multiplication sign
    "≤": "<=",
    "≥": ">=",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "…": "...",
    "Δ": "d",
    "°": " deg",
}
"""ASCII stand-ins for the symbols rigctl prints; any other character becomes ``?``."""

BROKEN_PIPE_STATUS: Final = 141
"""Exit status when the reader of standard output went away (128 + SIGPIPE, as shells
report for other commands cut short by ``| head``)."""

_ERRORS: Final = "rigctl-ascii"


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):  # pragma: no cover - only encoders use it
        raise exc
    text = exc.object[exc.start : exc.end]
    return "".join(ASCII_FALLBACKS.get(ch, "?") for ch in text), exc.end


codecs.register_error(_ERRORS, _ascii_fallback)


def make_console_safe(*streams: object) -> None:
    """Let ``streams`` (default: stdout and stderr) print any text without raising.

    A stream whose encoding cannot encode rigctl's symbols is switched to the error
    handler that writes :data:`ASCII_FALLBACKS` (and ``?`` for the rest); UTF-8 streams
    are left as they are.
    """
    for stream in streams or (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue
        try:
            "".join(ASCII_FALLBACKS).encode(stream.encoding)
        except (UnicodeEncodeError, LookupError):
            with contextlib.suppress(ValueError, OSError):  # a closed or detached stream
                stream.reconfigure(errors=_ERRORS)


def quiet_broken_pipe() -> int:
    """Silence standard output after its reader went away; the exit status to return.

    Standard output is pointed at the null device so that the interpreter's final flush
    does not report the broken pipe again.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return BROKEN_PIPE_STATUS
