"""Results commands: ``import-abf`` (Clampex in) and ``export-atf`` (Clampfit out)."""

from __future__ import annotations

import argparse

from rigctl.cli._common import err


def _cmd_import_abf(args: argparse.Namespace) -> int:
    from rigctl.engine.journal import DataFolderError
    from rigctl.io.abf import AbfImportError, ImportOptions, import_abf

    if (args.step_at is None) != (args.step_pa is None):
        err("import-abf: give --step-at and --step-pa together")
        return 2
    if args.step_pa is not None and not args.step_pa < 0:
        err(f"import-abf: --step-pa {args.step_pa:g} must be negative (a hyperpolarizing step)")
        return 2
    options = ImportOptions(
        probe_at_ms=args.probe_at,
        paired_interval_ms=args.paired_interval,
        step_at_ms=args.step_at,
        step_pa=args.step_pa,
        step_ms=args.step_ms,
        induction_at_s=args.induction_at,
        induction_file=args.induction_file,
        protocol_file=args.protocol,
        condition=args.condition,
    )
    try:
        result = import_abf(args.files, args.out, options)
    except (AbfImportError, DataFolderError) as exc:
        err(str(exc))
        return 1
    onset = (
        f", induction at {result.induction_at_s:g} s"
        if result.induction_at_s is not None
        else ", no induction given"
    )
    print(f"{result.folder}: {result.n_sweeps} sweeps from {len(result.files)} file(s){onset}")
    return 0


def _cmd_export_atf(args: argparse.Namespace) -> int:
    from rigctl.io.atf import AtfExportError, export_atf

    try:
        path = export_atf(args.folder, args.out)
    except AtfExportError as exc:
        err(str(exc))
        return 1
    print(f"ATF: {path}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser(
        "import-abf", help="turn Clampex ABF probe sweeps into a rigctl recording folder"
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="ABF files (one per segment, or one)")
    p.add_argument("--out", required=True, metavar="DIR", help="new recording folder")
    p.add_argument("--probe-at", type=float, metavar="MS", help="probe pulse time in the sweep")
    p.add_argument(
        "--paired-interval", type=float, metavar="MS", help="second probe pulse this much later"
    )
    p.add_argument("--step-at", type=float, metavar="MS", help="test step onset in the sweep")
    p.add_argument("--step-pa", type=float, metavar="PA", help="test step amplitude (negative)")
    p.add_argument("--step-ms", type=float, default=200.0, metavar="MS", help="default 200")
    ind = p.add_mutually_exclusive_group()
    ind.add_argument(
        "--induction-at", type=float, metavar="S", help="induction onset after the first sweep"
    )
    ind.add_argument(
        "--induction-file", metavar="FILE", help="the ABF recorded during the induction"
    )
    p.add_argument("--protocol", metavar="FILE", help="rigctl protocol of the experiment")
    p.add_argument("--condition", metavar="NAME", help="condition name (without --protocol)")
    p.set_defaults(func=_cmd_import_abf)

    p = sub.add_parser("export-atf", help="write a recording's Vm sweeps as Axon Text (ATF)")
    p.add_argument("folder", metavar="DIR", help="recording folder to export")
    p.add_argument("--out", metavar="FILE", help="default DIR/recording.atf")
    p.set_defaults(func=_cmd_export_atf)
