"""Rig commands: ``devices``, ``calibrate``, ``sweep``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rigctl import protocol as proto
from rigctl.cli._common import (
    RIG_HELP,
    default_output,
    err,
    load_and_open,
    load_or_report,
    open_from_args,
)
from rigctl.data import resolve_rig

if TYPE_CHECKING:
    from rigctl.engine.current_calibration import ExperimentCalibration, FICurve, RateCurrent
    from rigctl.hardware import Rig, SweepResult


def _cmd_devices(args: argparse.Namespace) -> int:
    from rigctl.hardware import DEFAULT_RIG_PATH, RigError

    print(f"simulated rig: {DEFAULT_RIG_PATH} (always available)")
    try:
        from rigctl.hardware.nidaq import list_devices

        devices = list_devices()
    except RigError as exc:
        print(f"NI-DAQmx: {exc}")
        return 0
    if not devices:
        print("NI-DAQmx: the driver is installed but reports no devices")
    for d in devices:
        print(f"NI-DAQmx: {d.line()}")
    return 0


def _add_calibration(
    record: dict[str, object],
    args: argparse.Namespace,
    fi: FICurve,
    found: list[RateCurrent],
    cal: ExperimentCalibration | None,
) -> None:
    """Add the f-I curve, the currents found and the protocol's (saved if ``--out``)."""
    record["fi_curve"] = {"current_pa": list(fi.currents_pa), "rate_hz": list(fi.rates_hz)}
    record["currents"] = [
        {
            "target_hz": r.target_hz,
            "current_pa": r.current_pa,
            "achieved_hz": r.achieved_hz,
            "ok": r.ok,
        }
        for r in found
    ]
    if cal is not None:
        record["protocol"] = {
            "file": args.protocol,
            "currents_pa": cal.currents(),
            "rates": [
                {
                    "phase": r.phase,
                    "target_hz": r.target_hz,
                    "achieved_hz": r.achieved_hz,
                    "ok": r.ok,
                }
                for r in cal.rates
            ],
            "iterations": cal.iterations,
        }
        if args.out:
            proto.save(cal.experiment, args.out)
            record["protocol"]["saved"] = args.out  # type: ignore[index]


def _print_calibration(
    args: argparse.Namespace,
    rig_name: str,
    fi: FICurve,
    found: list[RateCurrent],
    cal: ExperimentCalibration | None,
) -> None:
    """The calibration as text: the f-I curve, each target's current, the protocol's."""
    print(f"f-I curve on {rig_name} (100 ms steps, rate from inter-spike intervals):")
    for c, hz in zip(fi.currents_pa, fi.rates_hz, strict=True):
        print(f"  {c:6.0f} pA  {hz:5.1f} Hz  {'#' * round(hz / 2)}")
    print(f"  maximum {fi.max_rate_hz:.1f} Hz")
    for r in found:
        if r.current_pa is None:
            print(
                f"{r.target_hz:g} Hz: not reachable (the cell fires at most {r.achieved_hz:.1f} Hz)"
            )
        else:
            flag = "ok" if r.ok else "MISS"
            print(
                f"{r.target_hz:g} Hz: {r.current_pa:g} pA (achieved {r.achieved_hz:.1f} Hz, {flag})"
            )
    if cal is not None:
        print(f"\n{args.protocol}: calibrated in context in {cal.iterations} iteration(s)")
        for rate in cal.rates:
            print(f"  {rate.line()}  -> {cal.currents()[rate.phase]} pA")
        if args.out:
            print(f"calibrated protocol saved to {args.out}")


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from rigctl.engine.current_calibration import calibrate_experiment, currents_for_rates
    from rigctl.hardware import RigError

    session = open_from_args(args)
    if session is None:
        return 1
    definition = session.definition
    assert definition is not None
    exp = None
    if args.protocol:
        exp = load_or_report(args.protocol)
        if exp is None:
            session.close()
            return 1
    record: dict[str, object] = {"rig": definition.name}
    try:
        with session.lease("calibration") as rig:
            fi, found = currents_for_rates(rig, args.rates)
            cal = calibrate_experiment(rig, exp, curve=fi) if exp is not None else None
    except RigError as exc:
        err(f"calibration failed: {exc}")
        return 1
    finally:
        session.close()
    _add_calibration(record, args, fi, found, cal)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_calibration(args, definition.name, fi, found, cal)
    return 0 if all(r.ok for r in found) else 1


def _sweep_on(
    rig: Rig, exp: proto.Experiment, args: argparse.Namespace, meta: dict[str, object]
) -> tuple[proto.Experiment, proto.CompiledSweep, SweepResult]:
    """Calibrate (if asked) and play one sweep of ``exp`` on the lent ``rig``."""
    from rigctl.engine.current_calibration import calibrate_experiment

    if args.calibrate and args.which == "induction":
        cal = calibrate_experiment(rig, exp)
        exp = cal.experiment
        meta["calibration"] = {
            "currents_pa": cal.currents(),
            "iterations": cal.iterations,
            "rates": [
                {"phase": r.phase, "target_hz": r.target_hz, "achieved_hz": r.achieved_hz}
                for r in cal.rates
            ],
        }
    comp = proto.compile_experiment(exp)
    sweep = comp.induction if args.which == "induction" else comp.probe
    return exp, sweep, rig.run(rig.prepare(sweep, label=args.which))


def _save_sweep(out: str, result: SweepResult, meta: dict[str, object]) -> bool:
    """Write the sweep's arrays and metadata to ``out`` (.npz); False after saying why not."""
    try:
        with open(out, "wb") as fh:
            np.savez_compressed(
                fh,
                t_s=result.t_s,
                vm_mv=result.vm_mv,
                command_pa=result.command_pa,
                stim=result.stim,
                metadata=np.array(json.dumps(meta)),
            )
    except OSError as exc:
        err(f"{out}: cannot write ({exc.strerror})")
        return False
    return True


def _describe_sweep(
    meta: dict[str, object],
    exp: proto.Experiment,
    sweep: proto.CompiledSweep,
    result: SweepResult,
    which: str,
) -> list[str]:
    """Add what was played and acquired to ``meta``; the achieved rates' lines to print."""
    from rigctl.engine.spikes import phase_rates

    meta["settings"] = result.settings
    meta["complete"] = result.complete
    meta["sample_rate_hz"] = result.sample_rate_hz
    meta["started_at"] = result.started_at.isoformat()
    meta["experiment"] = exp.model_dump(mode="json")
    meta["backend_info"] = result.extra
    lines = []
    if which == "induction":
        rates = phase_rates(result.vm_mv, result.sample_rate_hz, sweep)
        meta["achieved_rates"] = [
            {
                "phase": r.phase,
                "target_hz": r.target_hz,
                "achieved_hz": r.achieved_hz,
                "n_spikes": r.n_spikes,
                "ok": r.ok,
            }
            for r in rates
        ]
        lines = [f"  {r.line()}" for r in rates]
    return lines


def _cmd_sweep(args: argparse.Namespace) -> int:
    from rigctl.hardware import LimitError, RigError, StatefulRig

    if args.out is None:
        args.out = default_output(args, "sweeps", f"{Path(args.file).stem}-{args.which}", ".npz")
    loaded = load_and_open(args)
    if loaded is None:
        return 1
    exp, session, definition = loaded
    kept: dict[str, float | int] | None = None
    state_path = Path(args.state) if args.state else None
    meta: dict[str, object] = {
        "protocol_file": str(args.file),
        "which": args.which,
        "seed": args.seed,
        "rig_file": str(resolve_rig(args.rig)),
    }
    try:
        with session.lease(f"{args.which} sweep") as rig:
            if isinstance(rig, StatefulRig) and state_path is not None and state_path.exists():
                # Sweeps on a kept cell follow each other at the protocol's probe interval.
                rig.restore_state(
                    json.loads(state_path.read_text()), elapsed_s=exp.probes.interval_s
                )
            exp, sweep, result = _sweep_on(rig, exp, args, meta)
            if isinstance(rig, StatefulRig):
                kept = rig.state()
    except (LimitError, RigError, proto.CompileError) as exc:
        err(f"{args.file}: {exc}")
        return 1
    finally:
        session.close()
    if kept is not None and state_path is not None:
        state_path.write_text(json.dumps(kept))
    lines = _describe_sweep(meta, exp, sweep, result, args.which)
    if not _save_sweep(args.out, result, meta):
        return 1
    print(
        f"{args.out}: {args.which} sweep on {definition.name}, {result.n_samples} samples at "
        f"{result.sample_rate_hz:g} Hz ({result.n_samples / result.sample_rate_hz:g} s)"
    )
    for line in lines:
        print(line)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser("devices", help="list NI-DAQmx devices (and the simulated rig)")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("calibrate", help="find the current steps that give target firing rates")
    p.add_argument("--rig", metavar="FILE", help=RIG_HELP)
    p.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[25.0, 50.0],
        metavar="HZ",
        help="target firing rates to find current steps for (default 25 50)",
    )
    p.add_argument("--protocol", metavar="FILE", help="also calibrate every phase of FILE")
    p.add_argument("--out", metavar="FILE", help="save the calibrated protocol to FILE")
    p.add_argument("--seed", type=int, default=None, help="cell seed (simulated rig)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("sweep", help="run one sweep of a protocol on a rig and save it")
    p.add_argument("file", metavar="FILE", help="protocol file (.json)")
    p.add_argument("--rig", metavar="FILE", help=RIG_HELP)
    p.add_argument(
        "--which",
        choices=("induction", "probe"),
        default="induction",
        help="which sweep to run: the induction (default) or a baseline probe",
    )
    p.add_argument(
        "--out",
        metavar="OUT.npz",
        help="recorded sweep file (default: DATA_ROOT/sweeps/<protocol>-<which>-<time>.npz)",
    )
    p.add_argument("--seed", type=int, default=None, help="cell seed (simulated rig)")
    p.add_argument(
        "--calibrate", action="store_true", help="calibrate the protocol's currents first"
    )
    p.add_argument("--paced", action="store_true", help="run the simulated rig in real time")
    p.add_argument(
        "--state",
        metavar="FILE",
        help="keep the simulated cell in FILE across commands (e.g. probes after an induction)",
    )
    p.set_defaults(func=_cmd_sweep)
