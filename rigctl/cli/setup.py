"""The ``setup`` command: a headless set-up at the rig before the baseline."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from rigctl import protocol as proto
from rigctl.cli._common import err, load_or_report, open_from_args

if TYPE_CHECKING:
    from rigctl.engine.setup import SearchSettings

JSON_KEYS = (
    "rin_mohm",
    "vm_mv",
    "tau_ms",
    "series_resistance_mohm",
    "epsp_mv",
    "stim_intensity_ua",
    "currents_pa",
    "setup_s",
)
"""Keys of ``rigctl setup --json`` (the contract)."""


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _fmt(value: object, unit: str) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g} {unit}"
    return "n/a"


def _print_text(out: dict[str, Any], record: Any, message: str) -> None:
    tp = record.test_pulse
    for key, label, unit in (
        ("rin_mohm", "input resistance", "MΩ"),
        ("vm_mv", "resting Vm", "mV"),
        ("tau_ms", "membrane tau", "ms"),
        ("series_resistance_mohm", "series resistance", "MΩ"),
    ):
        note = (tp.get(key) or {}).get("note") or ""
        print(f"{label:<20}{_fmt(out[key], unit)}" + (f"  ({note})" if note else ""))
    print(f"{'stim intensity':<20}{_fmt(out['stim_intensity_ua'], 'µA')}")
    print(f"{'EPSP':<20}{_fmt(out['epsp_mv'], 'mV')}")
    currents = ", ".join(f"{k} {_fmt(v, 'pA')}" for k, v in out["currents_pa"].items())
    print(f"{'currents':<20}{currents or 'n/a'}")
    print(f"{'set-up time':<20}{out['setup_s']:.1f} s")
    print(message)


def _search_or_report(args: argparse.Namespace) -> SearchSettings | None:
    """The EPSP search the options ask for, or None after printing why it is refused."""
    from rigctl.engine.setup import SearchSettings

    try:
        return SearchSettings(
            target_mv=args.target_epsp_mv,
            tolerance_mv=args.tolerance_mv,
            interval_s=args.interval_s,
            interval_reason=args.interval_reason or "",
        )
    except ValueError as exc:
        err(str(exc))
        return None


def _virtual_time(backend: str, paced: bool) -> dict[str, Any]:
    """A simulated rig that is not paced runs on a virtual clock (no real waiting)."""
    from rigctl.engine.setup_run import VirtualClock

    if backend == "sim" and not paced:
        clock = VirtualClock()
        return {"clock": clock.now, "sleep": clock.sleep}
    return {}


def _cmd_setup(args: argparse.Namespace) -> int:
    from rigctl.engine.setup_run import run_setup
    from rigctl.engine.slicelog import SliceLog, SliceLogError
    from rigctl.hardware import RigError

    exp = load_or_report(args.protocol) if args.protocol else proto.paper_condition(25, 50)
    if exp is None:
        return 1
    search = _search_or_report(args)
    if search is None:
        return 2
    session = open_from_args(args)
    if session is None:
        return 1
    definition = session.definition
    assert definition is not None
    lease = session.lease("set-up")
    rig = lease.rig
    log = None
    cell_id = None
    try:
        if args.slice:
            log = SliceLog(args.data_root)
            for w in log.warnings(args.slice):
                err(f"warning: {w}")
            cell_id = log.new_cell(args.slice)
        kwargs = _virtual_time(definition.backend, args.paced)
        done = run_setup(
            rig,
            exp,
            search=search,
            auto=args.auto,
            intensity_ua=args.intensity_ua,
            pulses=args.pulses,
            limit_s=args.limit_min * 60.0,
            whole_cell_ago_s=args.whole_cell_ago,
            slice_id=args.slice,
            cell_id=cell_id,
            **kwargs,
        )
        if (
            log is not None
            and cell_id is not None
            and not (done.in_band and not done.record.over_limit)
        ):
            log.setup_failed(cell_id, done.message, done.record.setup_s)
    except (RigError, ValueError, SliceLogError) as exc:
        err(f"setup failed: {exc}")
        return 1
    except KeyboardInterrupt:
        err("setup interrupted; the outputs are at rest")
        return 130
    finally:
        rig.safe_state()
        lease.release()
        session.close()
        if log is not None:
            log.close()
    return _report(args, done, cell_id)


def _report(args: argparse.Namespace, done: Any, cell_id: str | None) -> int:
    summary = done.record.summary()
    out = {k: _finite(summary[k]) for k in JSON_KEYS}
    if args.json:
        extra = {
            "in_band": done.in_band,
            "over_limit": done.record.over_limit,
            "message": done.message,
            "slice_id": args.slice,
            "cell_id": cell_id,
            "validity": {
                k: (done.record.test_pulse.get(k) or {}).get("note", "") for k in JSON_KEYS[:4]
            },
        }
        print(json.dumps({**out, **extra}, indent=2, ensure_ascii=False))
    else:
        _print_text(out, done.record, done.message)
    # Over the limit the cell should not be used (the paper's rule): not a success.
    return 0 if done.in_band and not done.record.over_limit else 1


def add_parsers(sub: Any) -> None:
    """Register ``setup``."""
    p = sub.add_parser(
        "setup",
        help="set up a cell: test pulse, calibration, EPSP search to ~5 mV, set-up clock",
        description="Headless set-up at the rig: the test pulse (Rin, Vm, tau, Rs), the "
        "current calibration and the EPSP search, timed from whole-cell (now).",
    )
    p.add_argument("--rig", help="rig file (default: the simulated rig)")
    p.add_argument("--protocol", help="protocol file (default: the paper's 25->50 Hz)")
    p.add_argument("--target-epsp-mv", type=float, default=5.0, help="target EPSP (mV)")
    p.add_argument("--tolerance-mv", type=float, default=1.0, help="band half-width (mV)")
    p.add_argument(
        "--auto", action="store_true", help="raise the intensity automatically (analog isolator)"
    )
    p.add_argument("--intensity-ua", type=float, help="front-panel intensity (manual, µA)")
    p.add_argument("--interval-s", type=float, default=20.0, help="seconds between probes")
    p.add_argument("--interval-reason", help="why probes come faster than every 15 s")
    p.add_argument("--pulses", type=int, default=10, help="test pulses before calibrating")
    p.add_argument("--limit-min", type=float, default=5.0, help="set-up limit (min)")
    p.add_argument(
        "--whole-cell-ago",
        type=float,
        default=0.0,
        metavar="S",
        help="the set-up clock starts at whole-cell, S seconds ago (default: now)",
    )
    p.add_argument("--slice", help="slice id: log the cell in the slice log")
    p.add_argument("--data-root", default="recordings", help="folder of the slice log")
    p.add_argument("--seed", type=int, help="simulated cell seed")
    p.add_argument("--paced", action="store_true", help="simulated rig: real time")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_setup)
