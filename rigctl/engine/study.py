"""A simulated study: N cells per condition on the simulated rig, then the group summary.

Every cell is its own simulated rig (one rig session each) with its own seed and cell-to-cell
variability of its biophysics (``sim.variability`` of the rig definition), runs the whole
experiment (calibration of the current steps for that cell, baseline, induction,
follow-up) as fast as the simulation goes, and is written to
``out_dir/<condition>/cell-NN/`` like any recording. The recordings are then summarized
(:func:`rigctl.engine.group.summarize_recordings`) and the report and figure written to
``out_dir/summary.txt``, ``summary.json`` and ``summary.png``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from rigctl import protocol as proto
from rigctl.data import resolve_rig
from rigctl.engine.group import GroupSummary, condition_label, summarize_recordings, write_figure
from rigctl.engine.journal import Recording, load_recording
from rigctl.engine.runner import RunOptions, RunState
from rigctl.engine.session import RigOptions, opened
from rigctl.hardware import RigDefinition, RigFileError, load_rig

__all__ = ["PAPER_STUDY", "StudyError", "StudyProgress", "run_study", "write_summary"]

PAPER_STUDY: tuple[str, ...] = tuple(proto.PAPER_CONDITIONS)
"""The paper's four conditions, as labels ("25-25", "25-50", "50-25", "50-50")."""


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
) -> GroupSummary:
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

    Returns
    -------
    GroupSummary
        The summary of the study's cells (report, tests, figure data).

    Raises
    ------
    StudyError
        The rig is not simulated, the folder is in use, a condition is unknown, or a
        cell's run failed.
    """
    if cells_per_condition < 1:
        raise StudyError(f"cells_per_condition is {cells_per_condition}; at least 1 cell is needed")
    if not conditions:
        raise StudyError("no conditions to run")
    experiments = [_experiment(c) for c in conditions]
    labels = [label for label, _ in experiments]
    if len(set(labels)) != len(labels):
        raise StudyError(f"condition {labels[0]!r} is listed twice; each condition runs once")
    definition = _sim_definition(rig_path, variability)
    rig_text = ""
    if rig_path is not None:
        try:
            rig_text = resolve_rig(rig_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise StudyError(f"{rig_path}: cannot read the rig file ({exc.strerror})") from None
    root = Path(out_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise StudyError(f"{root}: the study folder is not empty; choose a new folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"{root}: cannot create the study folder ({exc.strerror})") from None

    total = len(experiments) * cells_per_condition
    done = 0
    recordings: list[Recording] = []
    for i, (label, exp) in enumerate(experiments):
        if probes is not None:
            exp = exp.replace(probes=probes)
        for k in range(1, cells_per_condition + 1):
            cell_seed = seed * 1_000_000 + i * 1000 + k
            folder = root / _folder_name(label) / f"cell-{k:02d}"
            options = RunOptions(
                fast=fast,
                calibrate="always" if calibrate else "never",
                write_nwb=write_nwb,
                subject={
                    "subject_id": f"sim-{_folder_name(label)}-cell-{k:02d}",
                    "description": (
                        f"Simulated CA1 neuron (rigctl sim backend), seed {cell_seed}, "
                        f"cell-to-cell variability {variability:g}; no animal was used."
                    ),
                },
            )
            cell = RigOptions(paced=not fast, seed=cell_seed)
            with opened(definition, cell, rig_text=rig_text) as session:
                result = session.runner(exp, folder, options).run()
            if result.state != RunState.DONE:
                raise StudyError(
                    f"{folder}: the simulated cell's run ended {result.state.value}"
                    + (f" ({result.message})" if result.message else "")
                )
            recordings.append(load_recording(folder))
            done += 1
            if progress is not None:
                progress(
                    StudyProgress(
                        done, total, label, k, folder, f"{condition_label(label)} cell {k}"
                    )
                )
    summary = summarize_recordings(recordings, window_min=window_min)
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
