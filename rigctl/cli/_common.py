"""Helpers shared by the ``rigctl`` command modules: error lines, loading files, opening rigs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rigctl import protocol as proto

if TYPE_CHECKING:
    from rigctl.hardware import Rig, RigDefinition


RIG_HELP = "rig file, or a shipped rig's name: sim (the default), ni-example"
"""The help text of every ``--rig`` option."""


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


def load_rig_or_report(path: str | None) -> RigDefinition | None:
    """The rig file ``path`` (default: the simulated rig), or None after printing problems."""
    from rigctl.hardware import RigFileError, load_rig

    try:
        return load_rig(path)
    except RigFileError as exc:
        for line in exc.lines():
            err(line)
        return None


def open_from_args(args: argparse.Namespace) -> tuple[RigDefinition, Rig] | None:
    """The rig named by ``args.rig``, opened, or None after printing the problem."""
    from rigctl.hardware import RigError, open_rig

    definition = load_rig_or_report(args.rig)
    if definition is None:
        return None
    try:
        rig = open_rig(definition, paced=getattr(args, "paced", False), seed=args.seed)
    except RigError as exc:
        err(f"{args.rig or 'rig'}: {exc}")
        return None
    return definition, rig


def load_and_open(
    args: argparse.Namespace,
) -> tuple[proto.Experiment, RigDefinition, Rig] | None:
    """The protocol ``args.file`` and the rig ``args.rig``, or None (problems printed)."""
    exp = load_or_report(args.file)
    if exp is None:
        return None
    opened = open_from_args(args)
    if opened is None:
        return None
    return exp, *opened


def default_output(args: argparse.Namespace, kind: str, name: str, suffix: str = "") -> Path:
    """A new path ``DATA_ROOT/kind/<name>-<date>-<time><suffix>`` for an output without --out.

    The data root is ``--data-root``, ``$RIGCTL_DATA_ROOT`` or the user data folder
    (:mod:`rigctl.paths`); the ``kind`` folder is created.
    """
    from rigctl.paths import data_root, new_output_path

    parent = data_root(getattr(args, "data_root", None)) / kind
    parent.mkdir(parents=True, exist_ok=True)
    return new_output_path(parent, name, suffix)


def positive_rate(text: str) -> float:
    """Parse a sample rate for argparse (0 < rate <= 10 MHz)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value <= 1e7):
        raise argparse.ArgumentTypeError(f"{text} Hz is not a usable sample rate")
    return value
