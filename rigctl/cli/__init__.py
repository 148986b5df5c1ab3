"""The ``rigctl`` command.

``rigctl`` alone opens the app. Each command group lives in its own module
(``protocols``, ``predict``, ``rig``, ``recordings``, ``gui``, ``library``); this module
builds the parser from them. Errors in files are printed as ``FILE: field.path: message``
lines, never as tracebacks; output survives legacy console encodings, and a reader that
stops early (``| head``) ends the command quietly with status 141.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rigctl import __version__
from rigctl.cli import gui, library, predict, protocols, recordings, results, rig, setup
from rigctl.cli._console import make_console_safe, quiet_broken_pipe
from rigctl.logs import setup_logging

__all__ = ["build_parser", "main"]

_log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rigctl``."""
    from rigctl.paths import DATA_ROOT_ENV, data_root

    parser = argparse.ArgumentParser(
        prog="rigctl",
        description="Design, preview and run theta-cycle plasticity protocols. "
        "Without a command, opens the app.",
        epilog=f"Data root: {data_root()} (recordings go to its recordings/ folder; "
        f"change it with --data-root or the {DATA_ROOT_ENV} environment variable).",
    )
    parser.add_argument("--version", action="version", version=f"rigctl {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print debug messages to stderr (the log file is always written)",
    )
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        help=f"where outputs go when --out is not given (default: ${DATA_ROOT_ENV}, "
        "else the user data folder shown below)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (gui, protocols, library, predict, rig, recordings, results, setup):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rigctl`` command; returns the exit status."""
    make_console_safe()
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            args = build_parser().parse_args([*(sys.argv[1:] if argv is None else argv), "gui"])
        path = setup_logging(verbose=args.verbose)
        words = sys.argv[1:] if argv is None else list(argv)
        _log.debug("rigctl %s: %s (log %s)", __version__, " ".join(words), path)
        status: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except KeyboardInterrupt:  # before a command installed its own handling: no traceback
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
