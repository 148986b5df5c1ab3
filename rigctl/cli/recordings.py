"""Recording commands: ``run``, ``recover``, ``export-nwb``, ``summarize``, ``study``."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from rigctl.cli._common import RIG_HELP, default_output, err, load_and_open

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3
EXIT_ABORTED = 4
RUN_EXIT_CODES = {
    "done": EXIT_DONE,
    "failed": EXIT_FAILED,
    "stopped": EXIT_STOPPED,
    "aborted": EXIT_ABORTED,
}
"""Exit status of ``rigctl run`` by how the recording ended."""

RUN_EPILOG = """\
Ctrl-C (or SIGTERM) once: stop after the sweep in flight; twice: abort now. Either way
the data folder is closed and valid (recording.json says how the run ended).

exit status:
  0  done: the whole experiment ran
  1  failed or refused (bad file, rig or disk error; nothing or part recorded)
  2  usage error (bad command-line arguments)
  3  stopped early by the user (Ctrl-C or SIGTERM once); the record is valid
  4  aborted (Ctrl-C twice, or an abort); the sweep in flight was cut and is kept
"""


def _progress_line(status: object) -> str:
    from rigctl.engine import RunStatus

    assert isinstance(status, RunStatus)
    width = 30
    done = round(width * status.fraction)
    bar = "#" * done + "." * (width - done)
    extra = ""
    if status.since_induction_s is not None:
        extra = f"  t = {status.since_induction_s / 60:+6.1f} min"
    if status.last_normalized is not None and status.last_normalized == status.last_normalized:
        extra += f"  EPSP {status.last_normalized:4.2f}"
    return (
        f"[{bar}] {status.sweeps_done:>3}/{status.sweeps_planned:<3} "
        f"{status.state.value:<11}{extra}"
    )


def _show_progress(runner: Any, tty: bool) -> None:
    """Print the run's progress and warnings to standard error (one updated line on a tty)."""
    last = [0.0]

    def show(status: object) -> None:
        import time as _time

        now = _time.monotonic()
        if tty:
            print("\r" + _progress_line(status), end="", file=sys.stderr, flush=True)
        elif now - last[0] > 2.0:
            print(_progress_line(status), file=sys.stderr, flush=True)
            last[0] = now

    runner.progress.connect(show)
    runner.warning.connect(
        lambda w: print(("\n" if tty else "") + f"warning: {w}", file=sys.stderr)
    )


def _print_result(result: Any, *, as_json: bool) -> None:
    """The run's outcome: JSON, or a few lines (state, EPSP summary, what was left out)."""
    s = result.summary
    record = {
        "state": result.state.value,
        "folder": str(result.folder),
        "sweeps": result.sweeps,
        "message": result.message,
        "nwb": str(result.nwb_path) if result.nwb_path else None,
        "summary": s,
    }
    if as_json:
        print(json.dumps(record, indent=2, default=float))
    else:
        print(
            f"{result.folder}: {result.state.value}, {result.sweeps} sweeps"
            + (f" ({result.message})" if result.message else "")
        )
        if s.get("n_window"):
            lo, hi = s["window_min"]
            print(
                f"normalized EPSP at {lo:g}-{hi:g} min: {s['normalized_mean']:.2f} ± "
                f"{s['normalized_sem']:.2f} (SEM, {s['n_window']} probes) -> {s['direction']}"
            )
            print(
                f"baseline EPSP {s['baseline_mean_mv']:.2f} ± {s['baseline_sd_mv']:.2f} mV "
                f"(SD, {s['n_baseline']} probes)"
            )
        induction = s.get("induction") or {}
        if induction and not induction.get("complete", True):
            print(induction.get("note", "the induction was cut short"))
        if s.get("skipped_probes"):
            print(f"{s['skipped_probes']} probes skipped (their slot passed during a pause)")
        if s.get("n_spike_excluded"):
            print(f"{s['n_spike_excluded']} probes with a spike left out of the EPSP summary")
        if result.nwb_path:
            print(f"NWB: {result.nwb_path}")


def _cmd_run(args: argparse.Namespace) -> int:
    from rigctl.engine import RunOptions

    args.paced = not args.fast  # a real-time run plays the simulated rig in real time
    loaded = load_and_open(args)
    if loaded is None:
        return 1
    exp, session, definition = loaded
    options = RunOptions(
        fast=args.fast,
        calibrate=args.calibrate,
        write_nwb=not args.no_nwb,
        subject={"subject_id": args.subject} if args.subject else {},
    )
    if args.out is None:
        args.out = str(default_output(args, "recordings", Path(args.file).stem))
    runner = session.runner(exp, args.out, options)
    tty = sys.stderr.isatty()
    _show_progress(runner, tty)
    print(
        f"{definition.name}: {definition.amplifier.model} {definition.amplifier.mode}, primary "
        f"gain {definition.amplifier.primary_gain:g}, command "
        f"{definition.channels.command.scale_pa_per_v:g} pA/V; data -> {args.out}",
        file=sys.stderr,
    )
    result = _wait_with_interrupts(runner, session)
    if tty:
        print(file=sys.stderr)
    _print_result(result, as_json=args.json)
    return RUN_EXIT_CODES.get(result.state.value, EXIT_FAILED)


def _wait_with_interrupts(runner: Any, rig: Any) -> Any:
    """Run to the end; first Ctrl-C/SIGTERM stops after the sweep in flight, second aborts.

    The signal handlers only count; this loop acts on the count between short waits (so
    Ctrl-C is seen on Windows too), and the record is always closed by the runner.
    """
    presses = [0]

    def on_signal(signum: int, frame: object) -> None:
        presses[0] += 1

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread: no handlers
            previous[sig] = signal.signal(sig, on_signal)
    acted = 0
    try:
        runner.start()
        result = None
        while result is None:
            if presses[0] > acted:
                acted = presses[0]
                if acted == 1:
                    print(
                        "\nstopping after the sweep in flight (Ctrl-C again to abort now)",
                        file=sys.stderr,
                        flush=True,
                    )
                    runner.stop()
                else:
                    print("\naborting now", file=sys.stderr, flush=True)
                    runner.abort()
            result = runner.wait(0.2)
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)
        with contextlib.suppress(Exception):
            rig.close()
    return result


def _cmd_recover(args: argparse.Namespace) -> int:
    from rigctl.engine import DataFolderError, recover
    from rigctl.engine.journal import describe_os_error

    try:
        rec = recover(args.folder)
    except DataFolderError as exc:
        err(str(exc))
        return 1
    except OSError as exc:  # e.g. a sweep folder that cannot be listed
        err(f"{args.folder}: cannot recover the recording ({describe_os_error(exc)})")
        return 1
    print(f"{rec.folder}: {len(rec.sweeps)} sweeps recovered, status {rec.status}")
    for d in rec.damaged:
        print(f"  skipped: {d}")
    for name in rec.header.get("removed_tmp", []):
        print(f"  removed leftover temporary file: {name}")
    s = rec.header.get("summary", {})
    if s.get("n_window"):
        print(
            f"  normalized EPSP {s['normalized_mean']:.2f} ± {s['normalized_sem']:.2f} "
            f"-> {s['direction']}"
        )
    if args.nwb:
        return _cmd_export_nwb(args)
    return 0


def _cmd_export_nwb(args: argparse.Namespace) -> int:
    from rigctl.engine.nwb import NwbExportError, export_nwb

    subject = {
        key: value
        for key, value in (
            ("subject_id", getattr(args, "subject_id", None)),
            ("species", getattr(args, "species", None)),
            ("sex", getattr(args, "sex", None)),
            ("age", getattr(args, "age", None)),
            ("strain", getattr(args, "strain", None)),
        )
        if value
    }
    session = {
        key: value
        for key, value in (
            ("experimenter", getattr(args, "experimenter", None)),
            ("lab", getattr(args, "lab", None)),
            ("institution", getattr(args, "institution", None)),
        )
        if value
    }
    try:
        path = export_nwb(
            args.folder, subject=subject, session=session, path=getattr(args, "nwb_out", None)
        )
    except NwbExportError as exc:
        err(str(exc))
        return 1
    print(f"NWB: {path}")
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from rigctl.engine.figure import write_figure
    from rigctl.engine.group import GroupError
    from rigctl.io.results import summarize_any  # folders, imported ABF folders, .nwb files

    try:
        results = summarize_any(args.paths, window_min=(args.window[0], args.window[1]))
    except GroupError as exc:
        err(str(exc))
        return 1
    summary = results.groups
    if args.json:
        print(json.dumps(results.as_dict(), indent=2, allow_nan=False, default=float))
    else:
        print(results.report())
    if args.figure:
        path = write_figure(summary, args.figure)
        print(f"figure: {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from rigctl.engine.study import StudyError, run_study, write_summary

    def progress(p: object) -> None:
        done = getattr(p, "done", 0)
        total = getattr(p, "total", 0)
        print(f"{done}/{total} {getattr(p, 'message', '')}", file=sys.stderr, flush=True)

    if args.out is None:
        args.out = str(default_output(args, "studies", "study"))
    kwargs: dict[str, object] = {}
    if args.conditions:
        kwargs["conditions"] = tuple(args.conditions)
    try:
        summary = run_study(
            args.rig,
            args.out,
            args.cells,
            seed=args.seed,
            variability=args.variability,
            calibrate=not args.no_calibrate,
            write_nwb=args.nwb,
            progress=progress,
            holdout=args.holdout,
            **kwargs,  # type: ignore[arg-type]
        )
        paths = write_summary(summary, args.out)
    except StudyError as exc:
        err(str(exc))
        return 1
    print(summary.report())
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    _add_run(sub)
    _add_recover(sub)
    _add_export_nwb(sub)
    _add_summarize(sub)
    _add_study(sub)


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``rigctl run``."""
    p = sub.add_parser(
        "run",
        help="run a whole recording: baseline, induction, follow-up",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="protocol file (.json)")
    p.add_argument("--rig", metavar="FILE", help=RIG_HELP)
    p.add_argument(
        "--out",
        metavar="DIR",
        help="new data folder (default: DATA_ROOT/recordings/<protocol>-<date>-<time>)",
    )
    p.add_argument("--fast", action="store_true", help="no waits between sweeps (dry runs)")
    p.add_argument("--seed", type=int, default=None, help="cell seed (simulated rig)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--calibrate",
        choices=("missing", "always", "never"),
        default="missing",
        help="calibrate the currents before the baseline (default: when any is missing)",
    )
    p.add_argument("--no-nwb", action="store_true", help="skip the NWB export at the end")
    p.add_argument("--subject", metavar="ID", help="subject id for the NWB file")
    p.set_defaults(func=_cmd_run)


def _add_recover(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``rigctl recover``."""
    p = sub.add_parser("recover", help="rebuild a recording folder after a crash")
    p.add_argument("folder", metavar="DIR", help="the recording folder")
    p.add_argument("--nwb", action="store_true", help="also write the NWB file")
    p.set_defaults(func=_cmd_recover)


def _add_export_nwb(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``rigctl export-nwb``."""
    p = sub.add_parser("export-nwb", help="write recording.nwb for a recording folder")
    p.add_argument("folder", metavar="DIR", help="the recording folder")
    p.add_argument("--out", dest="nwb_out", metavar="FILE", help="default DIR/recording.nwb")
    p.add_argument("--subject-id", metavar="ID", help="subject id (default: the folder name)")
    p.add_argument("--species", metavar="NAME", help='default "Mus musculus"')
    p.add_argument("--sex", choices=("M", "F", "U", "O"), help="subject sex (NWB codes)")
    p.add_argument("--age", metavar="ISO8601", help="e.g. P17D")
    p.add_argument("--strain", metavar="NAME", help="subject strain")
    p.add_argument("--experimenter", metavar="'Last, First'", help="who recorded")
    p.add_argument("--lab", metavar="NAME", help="lab name")
    p.add_argument("--institution", metavar="NAME", help="institution name")
    p.set_defaults(func=_cmd_export_nwb)


def _add_summarize(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``rigctl summarize``."""
    p = sub.add_parser(
        "summarize", help="group recordings by condition: normalized EPSP, t-tests, figure"
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="recording folders, their parents, .nwb files"
    )
    p.add_argument(
        "--window",
        type=float,
        nargs=2,
        default=[30.0, 35.0],
        metavar=("FROM", "TO"),
        help="summary window in minutes after induction (default 30 35)",
    )
    p.add_argument("--figure", metavar="PNG", help="write the time-course and bar figure")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=_cmd_summarize)


def _add_study(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``rigctl study``."""
    p = sub.add_parser(
        "study", help="run the paper's experiment on N simulated cells per condition"
    )
    p.add_argument("--rig", metavar="FILE", help=f"{RIG_HELP} (simulated rigs only)")
    p.add_argument("--cells", type=int, required=True, metavar="N", help="cells per condition")
    p.add_argument(
        "--out", metavar="DIR", help="new study folder (default: DATA_ROOT/studies/study-<time>)"
    )
    p.add_argument("--conditions", nargs="+", metavar="A-B", help="default: the paper's four")
    p.add_argument("--seed", type=int, default=0, help="base seed of the cells (default 0)")
    p.add_argument("--variability", type=float, default=0.15, help="cell-to-cell CV")
    p.add_argument("--no-calibrate", action="store_true", help="use the protocols' currents")
    p.add_argument("--nwb", action="store_true", help="also export every recording to NWB")
    p.add_argument(
        "--holdout",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fit each paper condition's expression scale without that condition "
        "(out of sample; default on)",
    )
    p.set_defaults(func=_cmd_study)
