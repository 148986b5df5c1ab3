"""A simulated study: N cells per condition on the simulated rig, then the group summary.

Every cell is its own simulated rig (one rig session each) with its own seed and cell-to-cell
variability of its biophysics (``sim.variability`` of the rig definition), runs the whole
experiment (calibration of the current steps for that cell, baseline, induction,
follow-up) as fast as the simulation goes, and is written to
``out_dir/<condition>/cell-NN/`` like any recording. The recordings are then summarized
(:func:`rigctl.engine.group.summarize_recordings`) and the report and figure written to
``out_dir/summary.txt``, ``summary.json`` and ``summary.png``.

Out of sample
-------------
The simulated synapse's expression scale (``sim.expression_lrate`` of the rig file) is
fitted to the paper's measured outcomes. With ``holdout`` (the default), each of the
paper's conditions runs with the scale fitted to the *other* conditions only, so the
comparison of the simulated outcome with the paper's is out of sample; the report states
which scale each condition used and what it was fitted to.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rigctl import protocol as proto
from rigctl.data import resolve_rig
from rigctl.engine.figure import write_figure
from rigctl.engine.group import GroupSummary, condition_label, summarize_recordings
from rigctl.engine.journal import Recording, load_recording
from rigctl.engine.runner import RunOptions, RunState
from rigctl.engine.session import RigOptions, opened
from rigctl.engine.stats import finite_or_none
from rigctl.hardware import RigDefinition, RigFileError, load_rig
from rigctl.plasticity.mapping import (
    ConditionData,
    Dataset,
    fit_mapping,
    paper_dataset,
)

__all__ = [
    "PAPER_STUDY",
    "ConditionScale",
    "ExpressionBasis",
    "StudyError",
    "StudyProgress",
    "StudySummary",
    "expression_basis",
    "run_study",
    "write_summary",
]

PAPER_STUDY: tuple[str, ...] = tuple(proto.PAPER_CONDITIONS)
"""The paper's four conditions, as labels ("25-25", "25-50", "50-25", "50-50")."""


_GROUP_FIELDS = ("cells", "conditions", "comparisons", "window_min", "excluded", "alpha")


class StudyError(Exception):
    """The study cannot run (rig, folder, conditions) or a cell failed; one sentence."""


@dataclass(frozen=True)
class StudyProgress:
    """Where a study is: after each cell, and once more when the summary is written."""

    done: int
    total: int
    condition: str
    cell: int
    folder: Path
    message: str = ""

    @property
    def fraction(self) -> float:
        """Progress 0-1."""
        return self.done / self.total if self.total else 1.0


def _experiment(condition: str | proto.Experiment) -> tuple[str, proto.Experiment]:
    if isinstance(condition, proto.Experiment):
        return condition.metadata.name, condition
    if condition not in proto.PAPER_CONDITIONS:
        raise StudyError(
            f"unknown condition {condition!r}; expected one of {', '.join(proto.PAPER_CONDITIONS)} "
            "or an Experiment"
        )
    minus, plus = proto.PAPER_CONDITIONS[condition]
    return condition, proto.paper_condition(minus, plus)


def _folder_name(label: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label).strip("._")
    return safe or "condition"


def _sim_definition(rig_path: str | os.PathLike[str] | None, variability: float) -> RigDefinition:
    try:
        definition = load_rig(rig_path)
    except RigFileError as exc:
        raise StudyError(str(exc)) from None
    if definition.backend != "sim":
        raise StudyError(
            f"{rig_path}: a study runs on the simulated rig, this rig file's backend is "
            f"{definition.backend!r}"
        )
    data = definition.model_dump()
    data["sim"] = {**data["sim"], "variability": variability}
    try:
        return RigDefinition.model_validate(data)
    except ValidationError:
        raise StudyError(
            f"variability {variability:g} is outside 0-0.5, the cell-to-cell spread the "
            "simulated rig allows"
        ) from None


@dataclass(frozen=True)
class ConditionScale:
    """The expression scale one condition ran with, and what it was fitted to.

    Attributes
    ----------
    condition
        The condition's label.
    lrate
        The learning rate of the dWt -> weight mapping used for its cells.
    fitted_on
        Labels of the paper's conditions it was fitted to; empty when it is the rig file's
        value.
    paper
        The paper's measurement of this condition, if it is one of the paper's.
    """

    condition: str
    lrate: float
    fitted_on: tuple[str, ...]
    paper: ConditionData | None


@dataclass(frozen=True)
class ExpressionBasis:
    """What the simulated synapse's expression scale was, per condition, and its basis."""

    holdout: bool
    dataset: str
    rig_lrate: float
    variability: float
    scales: tuple[ConditionScale, ...]

    def rows(self, summary: GroupSummary) -> list[dict[str, Any]]:
        """Per condition: scale, basis, simulated and paper mean ± SEM, within the SEM."""
        out = []
        for sc in self.scales:
            try:
                sim = summary.condition(sc.condition)
            except KeyError:
                continue
            row: dict[str, Any] = {
                "condition": sc.condition,
                "lrate": sc.lrate,
                "fitted_on": list(sc.fitted_on) if sc.fitted_on else "rig file",
                "out_of_sample": bool(sc.fitted_on) and sc.condition not in sc.fitted_on,
                "simulated_mean": finite_or_none(sim.mean),
                "simulated_sem": finite_or_none(sim.sem),
                "n": sim.n,
                "paper_mean": sc.paper.mean if sc.paper else None,
                "paper_sem": sc.paper.sem if sc.paper else None,
                "paper_n": sc.paper.n if sc.paper else None,
                "within_paper_sem": (
                    abs(sim.mean - sc.paper.mean) <= sc.paper.sem
                    if sc.paper and math.isfinite(sim.mean)
                    else None
                ),
            }
            out.append(row)
        return out

    def text(self, summary: GroupSummary) -> str:
        """The report section: what was fitted to what, then simulated versus paper."""
        if self.holdout:
            how = (
                "hold-out: each of the paper's conditions ran with the scale fitted to the "
                "paper's OTHER conditions only (out of sample); other conditions used the rig "
                "file's value."
            )
        else:
            how = (
                "no hold-out: every condition ran with the rig file's value, which was fitted "
                "to all of the paper's conditions, so the comparison below is IN sample."
            )
        lines = [
            "Expression scale of the simulated synapse (learning rate of Axon's dWt -> weight "
            "mapping)",
            f"  fitted to: {self.dataset}, mean normalized EPSP at 30-35 min per condition "
            "(SEM-weighted least squares, Axon v2 kinase defaults, regular trains)",
            f"  {how}",
            f"  rig file value: {self.rig_lrate:.5g}; per-cell plasticity lognormal with mean "
            f"1 (mean-corrected), cell-to-cell variability {self.variability:g}",
            "",
            f"  {'condition':<10}{'scale':>9}  {'fitted to':<20}{'simulated':>16}"
            f"{'paper':>16}  within paper SEM",
        ]
        for row in self.rows(summary):
            fitted = row["fitted_on"]
            fitted_text = ", ".join(fitted) if isinstance(fitted, list) else fitted
            sim = f"{_fmt(row['simulated_mean'])} ± {_fmt(row['simulated_sem'])}"
            paper = (
                f"{row['paper_mean']:.2f} ± {row['paper_sem']:.2f}"
                if row["paper_mean"] is not None
                else "—"
            )
            within = {True: "yes", False: "no", None: "—"}[row["within_paper_sem"]]
            lines.append(
                f"  {condition_label(row['condition']):<10}{row['lrate']:>9.5f}  "
                f"{fitted_text:<20}{sim:>16}{paper:>16}  {within}"
            )
        return "\n".join(lines) + "\n"


def _fmt(x: float | None) -> str:
    return "nan" if x is None else f"{x:.2f}"


@dataclass(frozen=True)
class StudySummary(GroupSummary):
    """A :class:`GroupSummary` that also says which expression scale each condition used."""

    expression: ExpressionBasis | None = None

    def report(self) -> str:
        """The group report, then the expression-scale basis and the paper comparison."""
        text = super().report()
        if self.expression is None:
            return text
        return text + "\n" + self.expression.text(self)

    def as_dict(self, *, bin_min: float = 1.0) -> dict[str, Any]:
        """As :meth:`GroupSummary.as_dict`, with ``"expression_scale"``."""
        data = super().as_dict(bin_min=bin_min)
        if self.expression is not None:
            e = self.expression
            data["expression_scale"] = {
                "holdout": e.holdout,
                "dataset": e.dataset,
                "rig_lrate": e.rig_lrate,
                "variability": e.variability,
                "conditions": e.rows(self),
            }
        return data


def expression_basis(
    experiments: Sequence[tuple[str, proto.Experiment]],
    rig_lrate: float,
    *,
    holdout: bool,
    variability: float,
    dataset: Dataset | None = None,
) -> ExpressionBasis:
    """The expression scale of each condition: fitted without it (hold-out) or the rig's.

    Parameters
    ----------
    experiments
        ``(label, experiment)`` of each condition.
    rig_lrate
        The rig file's ``sim.expression_lrate``.
    holdout
        Fit each of the paper's conditions' scale to the other conditions only.
    variability
        Cell-to-cell variability of the study (for the report).
    dataset
        The measurements (default: the paper's).

    Returns
    -------
    ExpressionBasis
        Per condition, the scale and what it was fitted to.
    """
    data = paper_dataset() if dataset is None else dataset
    scales = []
    for label, exp in experiments:
        match = proto.paper_condition_of(exp)
        paper = data.find(*match) if match else None
        if holdout and paper is not None:
            others = tuple(c for c in data.conditions if c is not paper)
            fit = fit_mapping(data.model_copy(update={"conditions": others}))
            scales.append(ConditionScale(label, fit.value, tuple(c.key for c in others), paper))
        else:
            scales.append(ConditionScale(label, rig_lrate, (), paper))
    return ExpressionBasis(holdout, data.name, rig_lrate, variability, tuple(scales))


def _with_lrate(definition: RigDefinition, lrate: float) -> RigDefinition:
    data = definition.model_dump()
    data["sim"] = {**data["sim"], "expression_lrate": lrate}
    return RigDefinition.model_validate(data)


def _rig_text(rig_path: str | os.PathLike[str] | None) -> str:
    """The rig file's text, kept with every cell (empty for the default simulated rig)."""
    if rig_path is None:
        return ""
    try:
        return resolve_rig(rig_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyError(f"{rig_path}: cannot read the rig file ({exc.strerror})") from None


def _new_study_folder(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir``, created; refused if it exists and is not an empty folder."""
    root = Path(out_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise StudyError(f"{root}: the study folder is not empty; choose a new folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"{root}: cannot create the study folder ({exc.strerror})") from None
    return root


def _subject(label: str, k: int, cell_seed: int, variability: float) -> dict[str, str]:
    """The NWB subject of cell ``k`` of a condition: which simulated cell it was."""
    return {
        "subject_id": f"sim-{_folder_name(label)}-cell-{k:02d}",
        "description": (
            f"Simulated CA1 neuron (rigctl sim backend), seed {cell_seed}, "
            f"cell-to-cell variability {variability:g}; no animal was used."
        ),
    }


def _run_cell(
    definition: RigDefinition,
    cell: RigOptions,
    rig_text: str,
    exp: proto.Experiment,
    folder: Path,
    options: RunOptions,
) -> None:
    """Run one simulated cell's experiment into ``folder``; anything but done is an error."""
    with opened(definition, cell, rig_text=rig_text) as session:
        result = session.runner(exp, folder, options).run()
    if result.state != RunState.DONE:
        raise StudyError(
            f"{folder}: the simulated cell's run ended {result.state.value}"
            + (f" ({result.message})" if result.message else "")
        )


def _study_conditions(
    cells_per_condition: int, conditions: Sequence[str | proto.Experiment]
) -> list[tuple[str, proto.Experiment]]:
    """The conditions to run as ``(label, experiment)``, checked before anything is written."""
    if cells_per_condition < 1:
        raise StudyError(f"cells_per_condition is {cells_per_condition}; at least 1 cell is needed")
    if not conditions:
        raise StudyError("no conditions to run")
    experiments = [_experiment(c) for c in conditions]
    labels = [label for label, _ in experiments]
    if len(set(labels)) != len(labels):
        raise StudyError(f"condition {labels[0]!r} is listed twice; each condition runs once")
    return experiments


def run_study(
    rig_path: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    cells_per_condition: int,
    *,
    conditions: Sequence[str | proto.Experiment] = PAPER_STUDY,
    seed: int = 0,
    variability: float = 0.15,
    fast: bool = True,
    calibrate: bool = True,
    probes: proto.ProbeSchedule | None = None,
    window_min: tuple[float, float] = (30.0, 35.0),
    write_nwb: bool = False,
    progress: Callable[[StudyProgress], None] | None = None,
    holdout: bool = True,
) -> StudySummary:
    """Run ``cells_per_condition`` simulated cells per condition and summarize them.

    Parameters
    ----------
    rig_path
        A rig file with ``backend = "sim"``; None for the default simulated rig.
    out_dir
        New or empty folder; cell ``k`` of condition ``c`` is written to
        ``out_dir/c/cell-kk/``, the summary to ``out_dir/summary.{txt,json,png}``.
    cells_per_condition
        Number of cells per condition (at least 1; 2 for any statistics).
    conditions
        Paper condition labels (``"25-50"``) or experiments; default the paper's four.
    seed
        Base seed: cell ``k`` of the ``i``-th condition has seed
        ``seed * 1_000_000 + i * 1000 + k``, so every cell is a different cell and the
        study is reproducible.
    variability
        Cell-to-cell coefficient of variation of the simulated cells' parameters
        (input resistance, time constant, EPSP size, adaptation; 0-0.5).
    fast
        Run in experiment time (no waiting); False paces the sweeps like a real rig.
    calibrate
        Calibrate the current steps for each cell before its baseline, as in the paper's
        method; otherwise use the protocol's currents.
    probes
        Replace every experiment's probe schedule (e.g. shorter, for tests); then choose
        ``window_min`` inside its follow-up.
    window_min
        The summary window after induction (min).
    write_nwb
        Also export each cell's ``recording.nwb`` (about 2 s per cell).
    progress
        Called after each cell, and when the summary is written.
    holdout
        Run each of the paper's conditions with the expression scale fitted to the other
        conditions only (out of sample); otherwise with the rig file's value (fitted to all
        four, in sample).

    Returns
    -------
    StudySummary
        The summary of the study's cells (report, tests, figure data), with the expression
        scale each condition used and its basis.

    Raises
    ------
    StudyError
        The rig is not simulated, the folder is in use, a condition is unknown, or a
        cell's run failed.
    """
    experiments = _study_conditions(cells_per_condition, conditions)
    definition = _sim_definition(rig_path, variability)
    rig_text = _rig_text(rig_path)
    root = _new_study_folder(out_dir)
    basis = expression_basis(
        experiments, definition.sim.expression_lrate, holdout=holdout, variability=variability
    )
    total = len(experiments) * cells_per_condition
    done = 0
    recordings: list[Recording] = []
    for i, (label, exp) in enumerate(experiments):
        condition_rig = _with_lrate(definition, basis.scales[i].lrate)
        if probes is not None:
            exp = exp.replace(probes=probes)
        for k in range(1, cells_per_condition + 1):
            cell_seed = seed * 1_000_000 + i * 1000 + k
            folder = root / _folder_name(label) / f"cell-{k:02d}"
            options = RunOptions(
                fast=fast,
                calibrate="always" if calibrate else "never",
                write_nwb=write_nwb,
                subject=_subject(label, k, cell_seed, variability),
            )
            cell = RigOptions(paced=not fast, seed=cell_seed)
            _run_cell(condition_rig, cell, rig_text, exp, folder, options)
            recordings.append(load_recording(folder))
            done += 1
            if progress is not None:
                progress(
                    StudyProgress(
                        done, total, label, k, folder, f"{condition_label(label)} cell {k}"
                    )
                )
    group = summarize_recordings(recordings, window_min=window_min)
    summary = StudySummary(**{f: getattr(group, f) for f in _GROUP_FIELDS}, expression=basis)
    write_summary(summary, root)
    if progress is not None:
        progress(StudyProgress(total, total, "", 0, root, "summary written"))
    return summary


def write_summary(summary: GroupSummary, out_dir: str | os.PathLike[str]) -> Mapping[str, Path]:
    """Write ``summary.txt`` (report), ``summary.json`` (data) and ``summary.png`` (figure).

    Parameters
    ----------
    summary
        The group summary.
    out_dir
        An existing folder.

    Returns
    -------
    Mapping[str, Path]
        The files written, by kind (``"txt"``, ``"json"``, ``"png"``).
    """
    root = Path(out_dir)
    paths = {
        "txt": root / "summary.txt",
        "json": root / "summary.json",
        "png": root / "summary.png",
    }
    paths["txt"].write_text(summary.report(), encoding="utf-8")
    paths["json"].write_text(
        json.dumps(summary.as_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    write_figure(summary, paths["png"])
    return paths
