"""Helpers shared by the ``rigctl`` command modules: error lines, loading files, opening rigs."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from rigctl import protocol as proto

if TYPE_CHECKING:
    from rigctl.engine.session import RigSession


def err(msg: str) -> None:
    """Print one line to standard error."""
    print(msg, file=sys.stderr)


def fmt_s(seconds: float) -> str:
    """A duration as ``"2 min 05.0 s"`` or ``"12 s"``."""
    if seconds >= 60:
        m, s = divmod(seconds, 60)
        return f"{int(m)} min {s:04.1f} s" if s else f"{int(m)} min"
    return f"{seconds:g} s"


def load_or_report(name: str) -> proto.Experiment | None:
    """The protocol file ``name``, or None after printing its problems."""
    try:
        return proto.load(name)
    except proto.ProtocolFileError as exc:
        for line in exc.lines():
            err(line)
        return None


def open_from_args(args: argparse.Namespace) -> RigSession | None:
    """A session with the rig of ``args.rig`` open, or None after printing the problem.

    ``args.seed`` and ``args.paced`` (if given) are the simulated rig's options.
    """
    from rigctl.engine.session import RigOptions, RigSession
    from rigctl.hardware import RigError, RigFileError

    options = RigOptions(paced=bool(getattr(args, "paced", False)), seed=args.seed)
    session = RigSession(options=options)
    try:
        session.open_file(args.rig)
    except RigFileError as exc:
        for line in exc.lines():
            err(line)
        return None
    except RigError as exc:
        err(str(exc))
        return None
    return session


def load_and_open(args: argparse.Namespace) -> tuple[proto.Experiment, RigSession] | None:
    """The protocol ``args.file`` and a session on the rig ``args.rig`` (None: printed)."""
    exp = load_or_report(args.file)
    if exp is None:
        return None
    session = open_from_args(args)
    if session is None:
        return None
    return exp, session


def positive_rate(text: str) -> float:
    """Parse a sample rate for argparse (0 < rate <= 10 MHz)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value <= 1e7):
        raise argparse.ArgumentTypeError(f"{text} Hz is not a usable sample rate")
    return value
