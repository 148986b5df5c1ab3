"""The ``rigctl`` command.

``rigctl`` alone opens the app. Sub-commands validate, summarise, export the schema of and
compile protocol files. Errors in files are printed as ``FILE: field.path: message`` lines,
never as tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rigctl import __version__
from rigctl import protocol as proto

if TYPE_CHECKING:
    from rigctl.hardware import Rig, RigDefinition
    from rigctl.plasticity.calibration import Dataset, MappingFit

__all__ = ["main"]


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _cmd_gui(args: argparse.Namespace) -> int:
    from rigctl.app import run_gui  # Qt is imported only when the window is wanted

    return run_gui(args.file, screenshot=args.screenshot)


def _cmd_validate(args: argparse.Namespace) -> int:
    bad = 0
    for name in args.files:
        try:
            proto.load(name)
        except proto.ProtocolFileError as exc:
            bad += 1
            for line in exc.lines():
                print(line)
        else:
            if not args.quiet:
                print(f"{name}: ok")
    return 1 if bad else 0


def _fmt_s(seconds: float) -> str:
    if seconds >= 60:
        m, s = divmod(seconds, 60)
        return f"{int(m)} min {s:04.1f} s" if s else f"{int(m)} min"
    return f"{seconds:g} s"


def summary(exp: proto.Experiment) -> str:
    """A readable summary of an experiment (the text of ``rigctl show``)."""
    ind = exp.induction
    comp = proto.compile_experiment(exp)
    sweep = comp.induction
    lines = [f"{exp.metadata.name}"]
    if exp.metadata.author:
        lines.append(f"  author: {exp.metadata.author}")
    if exp.metadata.tags:
        lines.append(f"  tags: {', '.join(exp.metadata.tags)}")
    lines.append("")
    lines.append(
        f"Induction: {ind.repeats} x {ind.effective_window_ms:g} ms theta window, "
        f"{ind.gap_ms:g} ms gaps, {ind.lead_in_ms:g} ms lead-in "
        f"-> {sweep.duration_ms / 1000:g} s sweep"
    )
    head = (
        f"  {'phase':<14}{'ms':>8}{'pre Hz':>9}{'pulses':>8}{'width':>9}"
        f"{'post Hz':>9}{'spikes':>8}{'step':>14}"
    )
    lines.append(head)
    for ph in ind.phases:
        step = "uncalibrated" if ph.post.current_pa is None else f"{ph.post.current_pa:g} pA"
        if ph.post.target_rate_hz == 0:
            step = "-"
        timing = "" if ph.pre.timing == "regular" else f" (jitter ±{ph.pre.jitter_ms:g} ms)"
        lines.append(
            f"  {ph.name:<14}{ph.duration_ms:>8g}{ph.pre.rate_hz:>9g}{ph.pulse_count():>8d}"
            f"{ph.pre.pulse_width_us:>7g}µs{ph.post.target_rate_hz:>9g}"
            f"{ph.post_spike_count():>8d}{step:>14}{timing}"
        )
    n_pulses = len(sweep.of_kind("pre_pulse"))
    lines.append(
        f"  per window: {sum(p.pulse_count() for p in ind.phases)} pulses; "
        f"whole induction: {n_pulses} pulses, injected charge {sweep.injected_charge_pc():g} pC"
    )
    uncal = [e for e in sweep.of_kind("post_epoch") if not e.calibrated]
    if uncal:
        lines.append(
            f"  note: {len(uncal)} current step(s) are uncalibrated and inject nothing "
            "until a calibration sets them"
        )
    pr = exp.probes
    n_base = pr.baseline_count
    n_follow = pr.followup_count
    lines.append("")
    lines.append(
        f"Probes: every {pr.interval_s:g} s, {pr.sweep_ms:g} ms sweeps; pulse at "
        f"{pr.probe.time_ms:g} ms ({pr.probe.pulse_width_us:g} µs); test step "
        f"{pr.test_step.amplitude_pa:g} pA for {pr.test_step.duration_ms:g} ms at "
        f"{pr.test_step.start_ms:g} ms"
    )
    lines.append(
        f"  baseline {pr.baseline_min:g} min ({n_base} probes), follow-up "
        f"{pr.followup_min:g} min ({n_follow} probes)"
    )
    probe_charge = comp.probe.injected_charge_pc() * (n_base + n_follow)
    lines.append("")
    lines.append(
        f"Total: {_fmt_s(comp.total_s)} from the first probe to the end of the last; "
        f"{len(comp.sweeps)} sweeps; injected charge {sweep.injected_charge_pc():g} pC "
        f"(induction) {probe_charge:+g} pC (test steps)"
    )
    return "\n".join(lines)


def _load_or_report(name: str) -> proto.Experiment | None:
    try:
        return proto.load(name)
    except proto.ProtocolFileError as exc:
        for line in exc.lines():
            _err(line)
        return None


def _cmd_show(args: argparse.Namespace) -> int:
    exp = _load_or_report(args.file)
    if exp is None:
        return 1
    print(summary(exp))
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(proto.json_schema(), indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    exp = _load_or_report(args.file)
    if exp is None:
        return 1
    comp = proto.compile_experiment(exp)
    sweep = comp.induction if args.which == "induction" else comp.probe
    try:
        wave = sweep.waveforms(args.rate)
    except proto.CompileError as exc:
        _err(f"{args.file}: {exc}")
        return 1
    meta = {
        "source": str(args.file),
        "which": args.which,
        "sample_rate_hz": args.rate,
        "duration_ms": sweep.duration_ms,
        "window_starts_ms": sweep.window_starts_ms.tolist(),
        "experiment": exp.model_dump(mode="json"),
    }
    try:
        with open(args.out, "wb") as fh:
            np.savez_compressed(
                fh,
                t_s=wave.t_s,
                stim=wave.stim,
                command_pa=wave.command_pa,
                pre_pulse_s=sweep.pre_pulse_ms / 1000.0,
                post_epochs_s=sweep.post_epochs_ms / 1000.0,
                post_epochs_pa=np.array(
                    [e.amplitude_pa for e in sweep.of_kind("post_epoch", "test_step")],
                    dtype=np.float64,
                ),
                window_starts_s=sweep.window_starts_ms / 1000.0,
                metadata=np.array(json.dumps(meta)),
            )
    except OSError as exc:
        _err(f"{args.out}: cannot write ({exc.strerror})")
        return 1
    print(
        f"{args.out}: {wave.n_samples} samples at {args.rate:g} Hz, "
        f"{len(sweep.pre_pulse_ms)} pulses, {len(sweep.post_epochs_ms)} command epochs"
    )
    return 0


def prediction_record(
    name: str,
    exp: proto.Experiment,
    args: argparse.Namespace,
    fit: MappingFit,
    dataset: Dataset,
) -> dict[str, object]:
    """The numbers ``rigctl predict`` reports for one file (also its JSON output).

    ``fit`` is the EPSP-ratio mapping fitted to ``dataset`` with the same parameters.
    """
    from rigctl.plasticity.calibration import match_paper_condition
    from rigctl.plasticity.preview import DIRECTION_THRESHOLD_DWT, TrainOptions, predict

    params = fit.params
    trains = TrainOptions(timing=args.trains, n_seeds=args.seeds)
    pred = predict(exp, params, trains=trains)
    match = match_paper_condition(exp)
    measured = dataset.find(*match) if match else None
    return {
        "file": name,
        "name": exp.metadata.name,
        "dwt_total": pred.total,
        "dwt_total_sd": pred.total_sd,
        "dwt_first_window": pred.first_window,
        "dwt_per_window": pred.per_window.tolist(),
        "direction": pred.direction,
        "direction_threshold_dwt": DIRECTION_THRESHOLD_DWT,
        "hebbian_ca_integral": pred.hebbian,
        "rate_chl_target": pred.chl,
        "weight_ratio_uncalibrated": pred.weight_ratio,
        "weight_lrate": params.lrate,
        "predicted_epsp_ratio": fit.ratio(pred.per_window),
        "predicted_epsp_ratio_basis": fit.basis,
        "trains": args.trains,
        "seeds": args.seeds if args.trains != "regular" else 1,
        "d_scale": args.d_scale,
        "paper_condition": f"{match[0]:g}-{match[1]:g}" if match else None,
        "measured": (
            {
                "mean": measured.mean,
                "sem": measured.sem,
                "n": measured.n,
                "measure": dataset.measure,
            }
            if measured
            else None
        ),
    }


def _prediction_text(rec: dict[str, object]) -> str:
    def num(key: str) -> float:
        value = rec[key]
        assert isinstance(value, float | int)
        return float(value)

    sd = (
        f" ± {num('dwt_total_sd'):.4f} (SD over {rec['seeds']} seeds)"
        if num("dwt_total_sd")
        else ""
    )
    lines = [
        f"{rec['file']}: {rec['name']}",
        f"  kinase dWt, total            {num('dwt_total'):+.4f}{sd}",
        f"  kinase dWt, first window     {num('dwt_first_window'):+.4f}",
        f"  direction                    {rec['direction']} "
        f"(no change when |dWt| < {num('direction_threshold_dwt'):g})",
        f"  Hebbian coincidence ∫ca dt   {num('hebbian_ca_integral'):.2f}  (cannot tell order)",
        f"  rate CHL target              {num('rate_chl_target'):+.5f}",
        f"  weight ratio (uncalibrated)  {num('weight_ratio_uncalibrated'):.4f}  "
        f"(Axon mapping, lrate {num('weight_lrate'):g})",
        f"  predicted EPSP ratio         {num('predicted_epsp_ratio'):.3f}  "
        f"({rec['predicted_epsp_ratio_basis']})",
    ]
    measured = rec["measured"]
    if isinstance(measured, dict):
        lines.append(
            f"  measured (paper, {rec['paper_condition']})      {measured['mean']:.2f} ± "
            f"{measured['sem']:.2f} (n = {measured['n']}, {measured['measure']})"
        )
    if rec["d_scale"] == 1.0 and rec["paper_condition"] in ("25-25", "50-50"):
        lines.append(
            "  note: with 400 ms gaps each window starts from rest and CaP leads CaD, a "
            "positive onset bias; try --d-scale 1.05"
        )
    return "\n".join(lines)


def _cmd_predict(args: argparse.Namespace) -> int:
    from rigctl.plasticity import KinaseParams
    from rigctl.plasticity.calibration import fit_mapping, paper_dataset

    # The mapping is fitted once for all files (four predictions of the paper protocols).
    dataset = paper_dataset()
    fit = fit_mapping(dataset, KinaseParams(d_scale=args.d_scale))
    records = []
    status = 0
    for name in args.files:
        exp = _load_or_report(name)
        if exp is None:
            status = 1
            continue
        records.append(prediction_record(name, exp, args, fit, dataset))
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print("\n\n".join(_prediction_text(r) for r in records))
    return status


# --------------------------------------------------------------------------- rig commands


def _load_rig_or_report(path: str | None) -> RigDefinition | None:
    from rigctl.hardware import RigFileError, load_rig

    try:
        return load_rig(path)
    except RigFileError as exc:
        for line in exc.lines():
            _err(line)
        return None


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


def _open(args: argparse.Namespace) -> tuple[RigDefinition, Rig] | None:
    from rigctl.hardware import RigError, open_rig

    definition = _load_rig_or_report(args.rig)
    if definition is None:
        return None
    try:
        rig = open_rig(definition, paced=getattr(args, "paced", False), seed=args.seed)
    except RigError as exc:
        _err(f"{args.rig or 'rig'}: {exc}")
        return None
    return definition, rig


def _load_and_open(
    args: argparse.Namespace,
) -> tuple[proto.Experiment, RigDefinition, Rig] | None:
    """The protocol ``args.file`` and the rig ``args.rig``, or None (problems printed)."""
    exp = _load_or_report(args.file)
    if exp is None:
        return None
    opened = _open(args)
    if opened is None:
        return None
    return exp, *opened


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from rigctl.hardware import RigError
    from rigctl.hardware.calibration import calibrate_experiment, currents_for_rates

    opened = _open(args)
    if opened is None:
        return 1
    definition, rig = opened
    exp = None
    if args.protocol:
        exp = _load_or_report(args.protocol)
        if exp is None:
            return 1
    record: dict[str, object] = {"rig": definition.name}
    try:
        fi, found = currents_for_rates(rig, args.rates)
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
        cal = calibrate_experiment(rig, exp, curve=fi) if exp is not None else None
    except RigError as exc:
        _err(f"calibration failed: {exc}")
        return 1
    finally:
        rig.safe_state()
        rig.close()
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
    if args.json:
        print(json.dumps(record, indent=2))
        return 0 if all(r.ok for r in found) else 1
    print(f"f-I curve on {definition.name} (100 ms steps, rate from inter-spike intervals):")
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
    return 0 if all(r.ok for r in found) else 1


def _cmd_sweep(args: argparse.Namespace) -> int:
    from rigctl.hardware import LimitError, RigError
    from rigctl.hardware.calibration import calibrate_experiment, phase_rates
    from rigctl.hardware.sim import SimRig

    loaded = _load_and_open(args)
    if loaded is None:
        return 1
    exp, definition, rig = loaded
    state_path = Path(args.state) if args.state else None
    meta: dict[str, object] = {
        "protocol_file": str(args.file),
        "which": args.which,
        "seed": args.seed,
        "rig_file": str(args.rig or "hardware/sim.toml"),
    }
    try:
        if isinstance(rig, SimRig) and state_path is not None and state_path.exists():
            rig.cell.restore(json.loads(state_path.read_text()))
            # Sweeps on a kept cell follow each other at the protocol's probe interval.
            rig.cell.clock_s += exp.probes.interval_s
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
        prepared = rig.prepare(sweep, label=args.which)
        result = rig.run(prepared)
    except (LimitError, RigError, proto.CompileError) as exc:
        _err(f"{args.file}: {exc}")
        return 1
    finally:
        rig.safe_state()
        rig.close()
    if isinstance(rig, SimRig) and state_path is not None:
        state_path.write_text(json.dumps(rig.cell.state()))
    meta["settings"] = result.settings
    meta["complete"] = result.complete
    meta["sample_rate_hz"] = result.sample_rate_hz
    meta["started_at"] = result.started_at.isoformat()
    meta["experiment"] = exp.model_dump(mode="json")
    meta["backend_info"] = result.extra
    lines = []
    if args.which == "induction":
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
    try:
        with open(args.out, "wb") as fh:
            np.savez_compressed(
                fh,
                t_s=result.t_s,
                vm_mv=result.vm_mv,
                command_pa=result.command_pa,
                stim=result.stim,
                metadata=np.array(json.dumps(meta)),
            )
    except OSError as exc:
        _err(f"{args.out}: cannot write ({exc.strerror})")
        return 1
    print(
        f"{args.out}: {args.which} sweep on {definition.name}, {result.n_samples} samples at "
        f"{result.sample_rate_hz:g} Hz ({result.n_samples / result.sample_rate_hz:g} s)"
    )
    for line in lines:
        print(line)
    return 0


# --------------------------------------------------------------------------- experiments


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


def _cmd_run(args: argparse.Namespace) -> int:
    from rigctl.engine import ExperimentRunner, RunOptions, RunState

    loaded = _load_and_open(args)
    if loaded is None:
        return 1
    exp, definition, rig = loaded
    rig_path = Path(args.rig) if args.rig else None
    from rigctl.hardware import DEFAULT_RIG_PATH

    rig_text = (rig_path or DEFAULT_RIG_PATH).read_text(encoding="utf-8")
    options = RunOptions(
        fast=args.fast,
        calibrate=args.calibrate,
        write_nwb=not args.no_nwb,
        subject={"subject_id": args.subject} if args.subject else {},
    )
    if args.out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        args.out = str(Path("recordings") / f"{Path(args.file).stem}-{stamp}")
        while Path(args.out).exists():  # two runs in the same second
            args.out += "-1"
    runner = ExperimentRunner(rig, exp, args.out, options, rig_text=rig_text)
    tty = sys.stderr.isatty()
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
    print(
        f"{definition.name}: {definition.amplifier.model} {definition.amplifier.mode}, primary "
        f"gain {definition.amplifier.primary_gain:g}, command "
        f"{definition.channels.command.scale_pa_per_v:g} pA/V; data -> {args.out}",
        file=sys.stderr,
    )
    runner.start()
    try:
        result = runner.wait()
        while result is None:  # pragma: no cover - only when waiting is interrupted
            result = runner.wait(0.5)
    except KeyboardInterrupt:
        print("\nstopping after the sweep in flight (Ctrl-C again to abort)", file=sys.stderr)
        runner.stop()
        try:
            result = runner.wait()
        except KeyboardInterrupt:
            runner.abort()
            result = runner.wait()
    finally:
        with contextlib.suppress(Exception):
            rig.close()
    assert result is not None
    if tty:
        print(file=sys.stderr)
    s = result.summary
    record = {
        "state": result.state.value,
        "folder": str(result.folder),
        "sweeps": result.sweeps,
        "message": result.message,
        "nwb": str(result.nwb_path) if result.nwb_path else None,
        "summary": s,
    }
    if args.json:
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
        if result.nwb_path:
            print(f"NWB: {result.nwb_path}")
    return 0 if result.state in (RunState.DONE, RunState.STOPPED) else 1


def _cmd_recover(args: argparse.Namespace) -> int:
    from rigctl.engine import DataFolderError, recover

    try:
        rec = recover(args.folder)
    except DataFolderError as exc:
        _err(str(exc))
        return 1
    print(f"{rec.folder}: {len(rec.sweeps)} sweeps recovered, status {rec.status}")
    for d in rec.damaged:
        print(f"  skipped: {d}")
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
        _err(str(exc))
        return 1
    print(f"NWB: {path}")
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from rigctl.engine.group import GroupError, summarize_paths, write_figure

    try:
        summary = summarize_paths(args.paths, window_min=(args.window[0], args.window[1]))
    except GroupError as exc:
        _err(str(exc))
        return 1
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2, allow_nan=False, default=float))
    else:
        print(summary.report())
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
            **kwargs,  # type: ignore[arg-type]
        )
        paths = write_summary(summary, args.out)
    except StudyError as exc:
        _err(str(exc))
        return 1
    print(summary.report())
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value <= 1e7):
        raise argparse.ArgumentTypeError(f"{text} Hz is not a usable sample rate")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rigctl``."""
    parser = argparse.ArgumentParser(
        prog="rigctl",
        description="Design, preview and run theta-cycle plasticity protocols. "
        "Without a command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"rigctl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("gui", help="open the app (optionally with a protocol file)")
    p.add_argument("file", nargs="?", help="protocol file to open")
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    p.set_defaults(func=_cmd_gui)

    p = sub.add_parser("validate", help="check protocol files; one line per problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("show", help="summarise a protocol file")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("schema", help="print the JSON Schema of protocol files")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("compile", help="render a protocol's sweep to sample-exact waveforms")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--rate", type=_positive_rate, default=20_000.0, help="sample rate, Hz")
    p.add_argument("--out", required=True, metavar="OUT.npz")
    p.add_argument("--which", choices=("induction", "probe"), default="induction")
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser("predict", help="predict the plasticity (kinase dWt) of protocol files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument(
        "--trains",
        choices=("regular", "jittered", "quasi_regular"),
        default="regular",
        help="spike trains fed to the model (random ones are averaged over --seeds)",
    )
    p.add_argument("--seeds", type=int, default=20, help="seeds for random trains (default 20)")
    p.add_argument(
        "--d-scale",
        type=float,
        default=1.0,
        help="DAPK1 scale, the onset compensation (Axon v2: 1.0, older: 1.05)",
    )
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("devices", help="list NI-DAQmx devices (and the simulated rig)")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("calibrate", help="find the current steps that give target firing rates")
    p.add_argument("--rig", metavar="FILE", help="rig file (default hardware/sim.toml)")
    p.add_argument("--rates", type=float, nargs="+", default=[25.0, 50.0], metavar="HZ")
    p.add_argument("--protocol", metavar="FILE", help="also calibrate every phase of FILE")
    p.add_argument("--out", metavar="FILE", help="save the calibrated protocol to FILE")
    p.add_argument("--seed", type=int, default=None, help="cell seed (simulated rig)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("sweep", help="run one sweep of a protocol on a rig and save it")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--rig", metavar="FILE", help="rig file (default hardware/sim.toml)")
    p.add_argument("--which", choices=("induction", "probe"), default="induction")
    p.add_argument("--out", required=True, metavar="OUT.npz")
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

    p = sub.add_parser("run", help="run a whole recording: baseline, induction, follow-up")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--rig", metavar="FILE", help="rig file (default hardware/sim.toml)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="new data folder (default: recordings/<protocol>-<date>-<time>)",
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

    p = sub.add_parser("recover", help="rebuild a recording folder after a crash")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--nwb", action="store_true", help="also write the NWB file")
    p.set_defaults(func=_cmd_recover)

    p = sub.add_parser("export-nwb", help="write recording.nwb for a recording folder")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--out", dest="nwb_out", metavar="FILE", help="default DIR/recording.nwb")
    p.add_argument("--subject-id", metavar="ID")
    p.add_argument("--species", metavar="NAME", help='default "Mus musculus"')
    p.add_argument("--sex", choices=("M", "F", "U", "O"))
    p.add_argument("--age", metavar="ISO8601", help="e.g. P17D")
    p.add_argument("--strain", metavar="NAME")
    p.add_argument("--experimenter", metavar="'Last, First'")
    p.add_argument("--lab", metavar="NAME")
    p.add_argument("--institution", metavar="NAME")
    p.set_defaults(func=_cmd_export_nwb)

    p = sub.add_parser(
        "summarize", help="group recordings by condition: normalized EPSP, t-tests, figure"
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="recording folders or their parents")
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

    p = sub.add_parser(
        "study", help="run the paper's experiment on N simulated cells per condition"
    )
    p.add_argument("--rig", metavar="FILE", help="simulated rig file (default hardware/sim.toml)")
    p.add_argument("--cells", type=int, required=True, metavar="N", help="cells per condition")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--conditions", nargs="+", metavar="A-B", help="default: the paper's four")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variability", type=float, default=0.15, help="cell-to-cell CV")
    p.add_argument("--no-calibrate", action="store_true", help="use the protocols' currents")
    p.add_argument("--nwb", action="store_true", help="also export every recording to NWB")
    p.set_defaults(func=_cmd_study)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rigctl`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["gui"])
    status: int = args.func(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
