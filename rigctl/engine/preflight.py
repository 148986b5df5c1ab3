"""The whole-run preflight: everything a run will output, checked before the first sample.

``check_experiment(definition, experiment)`` is called at the very start of ``rigctl run``
(before a data folder exists), of ``rigctl sweep`` and of the experiment runner, so a run
that would be refused half-way (after calibrating, i.e. after current was injected) is
refused before anything is output. It covers:

* the amplifier mode (current clamp);
* the length of every sweep against ``max_sweep_s`` and the render budget, from the
  protocol alone (nothing is compiled for a sweep that is too long);
* pulses and steps that would vanish or merge at the rig's sample rate;
* the probe sweep and the induction (uncalibrated steps at 0 pA, their pulses complete),
  through the same :func:`~rigctl.hardware.base.prepare_checked` every sweep goes through;
* when the run will calibrate, the calibration sweeps: the f-I ladder up to its largest
  current and the in-context sweeps (the protocol's first windows, stimulation off).

Calibrated currents are found during the run; they are clamped to ``max_command_pa`` by
the calibration and checked again by ``prepare`` and by ``Rig.run`` before output.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection

from rigctl import protocol as proto
from rigctl.engine.current_calibration import _ladder_waveforms, fi_curve
from rigctl.hardware.base import LimitError, Rig, RigError, check_amplifier, prepare_checked
from rigctl.hardware.definition import RigDefinition
from rigctl.protocol.compile import MAX_SAMPLES

__all__ = ["check_experiment", "needs_calibration", "preflight"]


def needs_calibration(experiment: proto.Experiment, mode: str = "missing") -> bool:
    """Whether a run with calibration ``mode`` ("missing", "always", "never") calibrates."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    return any(
        p.post.target_rate_hz > 0 and p.post.current_pa is None for p in experiment.induction.phases
    )


def _check_length(definition: RigDefinition, seconds: float, label: str) -> None:
    limit = definition.limits.max_sweep_s
    if seconds > limit:
        raise LimitError(
            "max_sweep_s",
            f"{label}: the sweep lasts {seconds:g} s, over the rig's limit "
            f"max_sweep_s = {limit:g} s",
        )


def _sweep_s(n_samples: int, fs: float) -> float:
    return n_samples / fs


def _check_ladder(definition: RigDefinition) -> None:
    """The f-I ladder of the calibration, at its largest current, through ``prepare``."""
    defaults = {
        name: param.default
        for name, param in inspect.signature(fi_curve).parameters.items()
        if param.default is not inspect.Parameter.empty
    }
    top = min(600.0, definition.limits.max_command_pa)
    wave, _ = _ladder_waveforms(
        top,
        definition.sample_rate_hz,
        float(defaults["step_ms"]),
        int(defaults["windows"]),
        float(defaults["gap_ms"]),
        float(defaults["lead_ms"]),
    )
    prepare_checked(definition, wave, f"calibration {top:g} pA")


def check_experiment(
    definition: RigDefinition,
    experiment: proto.Experiment,
    *,
    calibrate: bool = False,
    which: Collection[str] = ("probe", "induction"),
) -> None:
    """Refuse, before any output, an experiment this rig would refuse at any point.

    Parameters
    ----------
    definition
        The rig the experiment is about to run on.
    experiment
        The experiment (currents may be uncalibrated).
    calibrate
        Whether the run calibrates first (see :func:`needs_calibration`); then the
        calibration sweeps are checked too.
    which
        The sweeps the run outputs (``rigctl sweep`` outputs one); default both.

    Raises
    ------
    LimitError
        Naming the limit (``limit``) and the sweep; nothing has been output.
    """
    fs = definition.sample_rate_hz
    check_amplifier(definition, "the protocol")
    ind = experiment.induction
    probes = experiment.probes
    n_probe = proto.sample_index(proto.exact(probes.sweep_ms), proto.exact(fs)) + 1
    n_ind = proto.induction_samples(ind, fs)
    if "probe" in which:
        _check_length(definition, _sweep_s(n_probe, fs), "probe")
    if "induction" in which:
        _check_length(definition, _sweep_s(n_ind, fs), "induction")
    if calibrate:
        context = ind.replace(repeats=min(3, ind.repeats))
        label = "calibration (in context)"
        _check_length(definition, _sweep_s(proto.induction_samples(context, fs), fs), label)
        _check_ladder(definition)
    if "induction" in which and n_ind > MAX_SAMPLES:
        raise LimitError(
            "max_sweep_s",
            f"induction: the sweep would need {n_ind:,} samples per channel at {fs:g} Hz, "
            f"over the budget of {MAX_SAMPLES:,} one sweep may hold in memory; "
            "shorten the induction",
        )
    try:
        if "induction" in which:
            proto.check_experiment_sampling(experiment, fs)
        else:
            proto.check_sampling(proto.compile_probe(probes), fs)
    except proto.CompileError as exc:
        raise LimitError("sample_rate_hz", f"at the rig's {fs:g} Hz: {exc}") from None
    if "probe" in which:
        prepare_checked(definition, proto.compile_probe(probes), "probe")
    if "induction" in which:
        prepare_checked(definition, proto.compile_induction(ind), "induction")


def preflight(rig: Rig, experiment: proto.Experiment, calibrate: str = "missing") -> str:
    """Why a run of ``experiment`` on ``rig`` is refused before any output ("" if it is not).

    ``calibrate`` is the run's calibration mode ("missing", "always", "never"). The
    answer starts with "refused, nothing was output:" and names the limit.
    """
    try:
        check_experiment(
            rig.definition, experiment, calibrate=needs_calibration(experiment, calibrate)
        )
    except RigError as exc:
        return f"refused, nothing was output: {exc}"
    return ""
