"""Protocol-file commands: ``validate``, ``show``, ``schema``, ``compile``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rigctl import protocol as proto
from rigctl.cli._common import default_output, err, fmt_s, load_or_report, positive_rate


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
        f"Total: {fmt_s(comp.total_s)} from the first probe to the end of the last; "
        f"{len(comp.sweeps)} sweeps; injected charge {sweep.injected_charge_pc():g} pC "
        f"(induction) {probe_charge:+g} pC (test steps)"
    )
    return "\n".join(lines)


def _cmd_show(args: argparse.Namespace) -> int:
    exp = load_or_report(args.file)
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
    exp = load_or_report(args.file)
    if exp is None:
        return 1
    comp = proto.compile_experiment(exp)
    sweep = comp.induction if args.which == "induction" else comp.probe
    try:
        wave = sweep.waveforms(args.rate)
    except proto.CompileError as exc:
        err(f"{args.file}: {exc}")
        return 1
    if args.out is None:
        args.out = default_output(args, "compiled", f"{Path(args.file).stem}-{args.which}", ".npz")
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
        err(f"{args.out}: cannot write ({exc.strerror})")
        return 1
    print(
        f"{args.out}: {wave.n_samples} samples at {args.rate:g} Hz, "
        f"{len(sweep.pre_pulse_ms)} pulses, {len(sweep.post_epochs_ms)} command epochs"
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser("validate", help="check protocol files; one line per problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="protocol files (.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("show", help="summarise a protocol file")
    p.add_argument("file", metavar="FILE", help="protocol file (.json)")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("schema", help="print the JSON Schema of protocol files")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("compile", help="render a protocol's sweep to sample-exact waveforms")
    p.add_argument("file", metavar="FILE", help="protocol file (.json)")
    p.add_argument("--rate", type=positive_rate, default=20_000.0, help="sample rate, Hz")
    p.add_argument(
        "--out",
        metavar="OUT.npz",
        help="waveform file to write (default: DATA_ROOT/compiled/<protocol>-<which>-<time>.npz)",
    )
    p.add_argument(
        "--which",
        choices=("induction", "probe"),
        default="induction",
        help="which sweep to render: the induction (default) or a baseline probe",
    )
    p.set_defaults(func=_cmd_compile)
