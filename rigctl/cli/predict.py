"""``rigctl predict``: the kinase model's prediction for protocol files."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from rigctl import protocol as proto
from rigctl.cli._common import load_or_report

if TYPE_CHECKING:
    from rigctl.plasticity.mapping import Dataset, MappingFit


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
    from rigctl.plasticity.outlook import INTERVAL_Z, epsp_outlook
    from rigctl.plasticity.preview import DIRECTION_THRESHOLD_DWT, TrainOptions, predict

    params = fit.params
    trains = TrainOptions(timing=args.trains, n_seeds=args.seeds)
    pred = predict(exp, params, trains=trains, traces=False)
    outlook = epsp_outlook(pred, fit, exp)
    match = proto.paper_condition_of(exp)
    measured = dataset.find(*match) if match else None
    return {
        "file": name,
        "name": exp.metadata.name,
        "predicted_epsp_ratio": outlook.ratio,
        "predicted_epsp_ratio_interval": [outlook.low, outlook.high],
        "predicted_epsp_ratio_sd": outlook.sd,
        "predicted_epsp_ratio_sd_parts": {"fit": outlook.sd_fit, "timing": outlook.sd_timing},
        "predicted_epsp_ratio_interval_sd": INTERVAL_Z,
        "direction": outlook.direction,
        "direction_rule": outlook.rule,
        "no_change_band": outlook.band,
        "mapping_value_se": fit.value_se,
        "dwt_total": pred.total,
        "dwt_total_sd": pred.total_sd,
        "dwt_first_window": pred.first_window,
        "dwt_per_window": pred.per_window.tolist(),
        "dwt_direction": pred.direction,
        "direction_threshold_dwt": DIRECTION_THRESHOLD_DWT,
        "hebbian_ca_integral": pred.hebbian,
        "rate_chl_target": pred.chl,
        "weight_ratio_uncalibrated": pred.weight_ratio,
        "weight_lrate": params.lrate,
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
    interval = rec["predicted_epsp_ratio_interval"]
    assert isinstance(interval, list)
    low, high = (float(v) for v in interval)
    parts = rec["predicted_epsp_ratio_sd_parts"]
    assert isinstance(parts, dict)
    lines = [
        f"{rec['file']}: {rec['name']}",
        f"  predicted EPSP ratio         {num('predicted_epsp_ratio'):.3f}  "
        f"[{low:.3f}, {high:.3f}] (± 1 SD: fit {parts['fit']:.3f}, spike timing "
        f"{parts['timing']:.3f})",
        f"  direction                    {rec['direction']}",
        f"    rule: {rec['direction_rule']}",
        f"    mapping: {rec['predicted_epsp_ratio_basis']}",
        f"  kinase dWt, total            {num('dwt_total'):+.4f}{sd}",
        f"  kinase dWt, first window     {num('dwt_first_window'):+.4f}",
        f"  dWt sign (raw, uncalibrated) {rec['dwt_direction']} "
        f"(no change when |dWt| < {num('direction_threshold_dwt'):g})",
        f"  Hebbian coincidence ∫ca dt   {num('hebbian_ca_integral'):.2f}  (cannot tell order)",
        f"  rate CHL target              {num('rate_chl_target'):+.5f}",
        f"  weight ratio (uncalibrated)  {num('weight_ratio_uncalibrated'):.4f}  "
        f"(Axon mapping, lrate {num('weight_lrate'):g})",
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
    from rigctl.plasticity.mapping import fit_mapping, paper_dataset

    # The mapping is fitted once for all files (four predictions of the paper protocols).
    dataset = paper_dataset()
    fit = fit_mapping(dataset, KinaseParams(d_scale=args.d_scale))
    records = []
    status = 0
    for name in args.files:
        exp = load_or_report(name)
        if exp is None:
            status = 1
            continue
        large = proto.live_preview_limit(exp.induction)
        if large is not None:  # say why nothing is printed for a while (the GUI sent them here)
            print(f"{name}: {large}; predicting it can take a minute", file=sys.stderr)
        records.append(prediction_record(name, exp, args, fit, dataset))
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print("\n\n".join(_prediction_text(r) for r in records))
    return status


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's commands to the ``rigctl`` parser."""
    p = sub.add_parser("predict", help="predict the plasticity (kinase dWt) of protocol files")
    p.add_argument("files", nargs="+", metavar="FILE", help="protocol files (.json)")
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
