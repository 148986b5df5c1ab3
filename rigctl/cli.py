"""The ``rigctl`` command.

``rigctl`` alone opens the app. Sub-commands validate, summarise, export the schema of and
compile protocol files. Errors in files are printed as ``FILE: field.path: message`` lines,
never as tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rigctl import __version__
from rigctl import protocol as proto

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
    name: str, exp: proto.Experiment, args: argparse.Namespace
) -> dict[str, object]:
    """The numbers ``rigctl predict`` reports for one file (also its JSON output)."""
    from rigctl.plasticity import KinaseParams
    from rigctl.plasticity.calibration import fit_mapping, match_paper_condition, paper_dataset
    from rigctl.plasticity.preview import DIRECTION_THRESHOLD_DWT, TrainOptions, predict

    params = KinaseParams(d_scale=args.d_scale)
    trains = TrainOptions(timing=args.trains, n_seeds=args.seeds)
    pred = predict(exp, params, trains=trains)
    dataset = paper_dataset()
    fit = fit_mapping(dataset, params)
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
    records = []
    status = 0
    for name in args.files:
        exp = _load_or_report(name)
        if exp is None:
            status = 1
            continue
        records.append(prediction_record(name, exp, args))
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print("\n\n".join(_prediction_text(r) for r in records))
    return status


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
