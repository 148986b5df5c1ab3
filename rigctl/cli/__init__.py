"""The ``rigctl`` command.

``rigctl`` alone opens the app. Each command group lives in its own module
(``protocols``, ``predict``, ``rig``, ``recordings``, ``gui``); this module builds the
parser from them. Errors in files are printed as ``FILE: field.path: message`` lines,
never as tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rigctl import __version__
from rigctl.cli import gui, predict, protocols, recordings, rig

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rigctl``."""
    parser = argparse.ArgumentParser(
        prog="rigctl",
        description="Design, preview and run theta-cycle plasticity protocols. "
        "Without a command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"rigctl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (gui, protocols, predict, rig, recordings):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rigctl`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["gui"])
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:  # before a command installed its own handling: no traceback
        print("\ninterrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
