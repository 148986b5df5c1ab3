"""``rigctl gui``: open the app."""

from __future__ import annotations

import argparse

from rigctl.cli._common import RIG_HELP


def _cmd_gui(args: argparse.Namespace) -> int:
    from rigctl.app import run_gui  # Qt is imported only when the window is wanted

    return run_gui(
        args.file,
        screenshot=args.screenshot,
        rig=args.rig,
        data_root=getattr(args, "data_root", None),
    )


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser("gui", help="open the app (optionally with a protocol file)")
    p.add_argument("file", nargs="?", help="protocol file to open")
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    p.add_argument("--rig", metavar="FILE", help=f"{RIG_HELP}; opened in the Rig tab")
    p.set_defaults(func=_cmd_gui)
