"""``rigctl gui``: open the app."""

from __future__ import annotations

import argparse
import re

from rigctl.cli._common import RIG_HELP


def _cmd_gui(args: argparse.Namespace) -> int:
    from rigctl.app import run_gui  # Qt is imported only when the window is wanted

    return run_gui(
        args.file,
        screenshot=args.screenshot,
        rig=args.rig,
        data_root=getattr(args, "data_root", None),
        size=args.size,
    )


def _size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels (e.g. ``1280x800``), each 200 to 10000."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)  # noqa: RUF001
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1280x800)")
    width, height = int(match.group(1)), int(match.group(2))
    if not (200 <= width <= 10_000 and 200 <= height <= 10_000):
        raise argparse.ArgumentTypeError(f"{text}: width and height must be 200 to 10000 pixels")
    return width, height


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser("gui", help="open the app (optionally with a protocol file)")
    p.add_argument("file", nargs="?", help="protocol file to open")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="render the window to PNG and exit; {tab} in the name: one PNG per tab",
    )
    p.add_argument(
        "--size",
        metavar="WxH",
        type=_size,
        help="window size in pixels, e.g. 1280x800 (default: the size it had last)",
    )
    p.add_argument("--rig", metavar="FILE", help=f"{RIG_HELP}; opened in the Rig tab")
    p.set_defaults(func=_cmd_gui)
