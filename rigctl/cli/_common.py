"""Helpers shared by the ``rigctl`` command modules: error lines, loading files, opening rigs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rigctl import protocol as proto

if TYPE_CHECKING:
    from rigctl.engine.session import RigSession
    from rigctl.hardware import RigDefinition


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


def open_from_args(
    args: argparse.Namespace, definition: RigDefinition | None = None
) -> RigSession | None:
    """A session with the rig of ``args.rig`` open, or None after printing the problem.

    ``definition`` is the rig file already loaded (and checked) from ``args.rig``; it is
    opened as it is, so what was checked is what runs. ``args.seed`` and ``args.paced``
    (if given) are the simulated rig's options.
    """
    from rigctl.data import resolve_rig
    from rigctl.engine.session import RigOptions, RigSession
    from rigctl.hardware import RigError

    if definition is None:
        definition = load_rig_or_report(args.rig)
    if definition is None:
        return None
    options = RigOptions(paced=bool(getattr(args, "paced", False)), seed=args.seed)
    session = RigSession(options=options)
    path = resolve_rig(args.rig)
    try:
        text = path.read_text(encoding="utf-8")
        session.open(definition, path=path.resolve(), rig_text=text)
    except OSError as exc:
        err(f"{path}: cannot read the rig file ({exc.strerror})")
        return None
    except RigError as exc:
        err(str(exc))
        return None
    return session


def preflight_or_report(
    args: argparse.Namespace, exp: proto.Experiment, definition: RigDefinition
) -> bool:
    """Whether everything the command will output passes the rig's checks (else printed).

    Run before the rig is opened and before any data folder exists: ``rigctl run`` and
    ``rigctl sweep`` refuse here, never half-way (e.g. after calibrating).
    """
    from rigctl.engine.preflight import check_experiment, needs_calibration
    from rigctl.hardware import RigError

    cal = getattr(args, "calibrate", False)
    which = getattr(args, "which", None)
    if isinstance(cal, str):
        calibrate = needs_calibration(exp, cal)
    else:
        calibrate = bool(cal) and which in (None, "induction")
    try:
        check_experiment(
            definition,
            exp,
            calibrate=calibrate,
            which=("probe", "induction") if which is None else (which,),
        )
    except RigError as exc:
        err(f"{args.file}: refused, nothing was output: {exc}{_rig_field(args, exc)}")
        return False
    return True


def _rig_field(args: argparse.Namespace, exc: Exception) -> str:
    """`` (rig file FILE: limits.max_sweep_s)``: the rig-file field a refusal rests on."""
    from rigctl.hardware import DEFAULT_RIG_PATH, LimitError

    if not isinstance(exc, LimitError):
        return ""
    field = exc.limit
    if "." not in field and field != "sample_rate_hz":
        field = f"limits.{field}"
    return f" (rig file {args.rig or DEFAULT_RIG_PATH}: {field})"


def load_and_open(
    args: argparse.Namespace,
) -> tuple[proto.Experiment, RigSession, RigDefinition] | None:
    """The protocol ``args.file``, a session on the rig ``args.rig`` and its rig file.

    None after printing the problem. The experiment is checked against the rig
    (:func:`preflight_or_report`) before the rig is opened.
    """
    exp = load_or_report(args.file)
    if exp is None:
        return None
    definition = load_rig_or_report(args.rig)
    if definition is None or not preflight_or_report(args, exp, definition):
        return None
    session = open_from_args(args, definition)
    if session is None:
        return None
    opened = session.definition
    assert opened is not None  # set by a successful open
    return exp, session, opened


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
