"""Protocol-file commands: ``validate``, ``show``, ``schema``, ``compile``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from rigctl import protocol as proto
from rigctl.cli._common import default_output, err, fmt_s, load_or_report, positive_rate

COMPILE_BUDGET_SAMPLES = proto.MAX_SAMPLES
"""Most samples per channel ``rigctl compile`` renders: the render budget of every sweep."""

DEFAULT_RATE_HZ = 20_000.0
"""Sample rate ``validate`` and ``compile`` assume without ``--rate`` (the shipped rigs')."""


def _cmd_validate(args: argparse.Namespace) -> int:
    bad = 0
    for name in args.files:
        try:
            exp = proto.load(name)
            proto.check_experiment_sampling(exp, args.rate)
        except proto.ProtocolFileError as exc:
            bad += 1
            for line in exc.lines():
                print(line)
        except proto.CompileError as exc:
            bad += 1
            print(proto.Problem(exc.field, str(exc)).line(name))
        else:
            if not args.quiet:
                print(f"{name}: ok")
    return 1 if bad else 0


def _induction_charge_pc(ind: proto.Induction) -> float:
    per_window = math.fsum(
        (ph.post.current_pa or 0.0) * (ph.duration_ms - ph.post.lag_ms) / 1000.0
        for ph in ind.phases
        if ph.post.target_rate_hz > 0
    )
    return ind.repeats * per_window


def _induction_lines(ind: proto.Induction, charge: float) -> list[str]:
    """The summary's induction: the window, a table of its phases, totals, a calibration note."""
    lines: list[str] = []
    lines.append(
        f"Induction: {ind.repeats} x {ind.effective_window_ms:g} ms theta window, "
        f"{ind.gap_ms:g} ms gaps, {ind.lead_in_ms:g} ms lead-in "
        f"-> {ind.duration_ms / 1000:g} s sweep"
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
    per_window = sum(p.pulse_count() for p in ind.phases)
    lines.append(
        f"  per window: {per_window} pulses; "
        f"whole induction: {per_window * ind.repeats} pulses, injected charge {charge:g} pC"
    )
    uncal = ind.repeats * sum(
        1 for p in ind.phases if p.post.target_rate_hz > 0 and p.post.current_pa is None
    )
    if uncal:
        lines.append(
            f"  note: {uncal} current step(s) are uncalibrated and inject nothing "
            "until a calibration sets them"
        )
    return lines


def summary(exp: proto.Experiment) -> str:
    """A readable summary of an experiment (the text of ``rigctl show``).

    Computed from the phases and the schedule, never from the per-pulse events, so it
    takes the same time for a 60-minute 500 Hz induction as for the paper's.
    """
    ind = exp.induction
    sweeps = proto.schedule(exp)
    charge = _induction_charge_pc(ind)
    lines = [f"{exp.metadata.name}"]
    if exp.metadata.author:
        lines.append(f"  author: {exp.metadata.author}")
    if exp.metadata.tags:
        lines.append(f"  tags: {', '.join(exp.metadata.tags)}")
    lines.append("")
    lines += _induction_lines(ind, charge)
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
    test = pr.test_step
    probe_charge = test.amplitude_pa * test.duration_ms / 1000.0 * (n_base + n_follow)
    last = sweeps[-1]
    tail_ms = ind.duration_ms if last.kind == "induction" else pr.sweep_ms
    total_s = last.start_s + tail_ms / 1000.0
    lines.append("")
    lines.append(
        f"Total: {fmt_s(total_s)} from the first probe to the end of the last; "
        f"{len(sweeps)} sweeps; injected charge {charge:g} pC "
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


def _over_budget(args: argparse.Namespace, exp: proto.Experiment) -> bool:
    """Whether the sweep would exceed compile's sample budget (then said, with a rate)."""
    if args.which == "induction":
        n = proto.induction_samples(exp.induction, args.rate)
    else:
        n = proto.sample_index(proto.exact(exp.probes.sweep_ms), proto.exact(args.rate)) + 1
    if n <= COMPILE_BUDGET_SAMPLES:
        return False
    most_hz = math.floor((COMPILE_BUDGET_SAMPLES - 1) / (n / args.rate))
    err(
        f"{args.file}: the {args.which} sweep would be {n:,} samples per channel at "
        f"{args.rate:g} Hz, over compile's budget of {COMPILE_BUDGET_SAMPLES:,} samples "
        f"(about {COMPILE_BUDGET_SAMPLES * 17 // 1_000_000} MB); use --rate {most_hz} "
        "or lower, or shorten the induction (repeats, window_ms, gap_ms)"
    )
    return True


def _cmd_compile(args: argparse.Namespace) -> int:
    exp = load_or_report(args.file)
    if exp is None:
        return 1
    if _over_budget(args, exp):
        return 1
    sweep = (
        proto.compile_induction(exp.induction)
        if args.which == "induction"
        else proto.compile_probe(exp.probes)
    )
    try:
        wave = sweep.waveforms(args.rate)
    except proto.CompileError as exc:
        err(proto.Problem(exc.field, str(exc)).line(str(args.file)))
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
    p.add_argument(
        "--rate",
        type=positive_rate,
        default=DEFAULT_RATE_HZ,
        help="check that every pulse and step survives sampling at this rate, Hz (default 20000)",
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("show", help="summarise a protocol file")
    p.add_argument("file", metavar="FILE", help="protocol file (.json)")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("schema", help="print the JSON Schema of protocol files")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("compile", help="render a protocol's sweep to sample-exact waveforms")
    p.add_argument("file", metavar="FILE", help="protocol file (.json)")
    p.add_argument("--rate", type=positive_rate, default=DEFAULT_RATE_HZ, help="sample rate, Hz")
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
