"""Kinase-rule prediction of a protocol, from the same compiled events the rig runs."""

from __future__ import annotations

from rigctl import protocol
from rigctl.plasticity.kinase import KinaseResult, kinase_dwt
from rigctl.plasticity.params import KinaseParams

__all__ = ["predict"]


def _induction_sweep(
    source: protocol.Experiment | protocol.Induction | protocol.CompiledSweep,
) -> tuple[protocol.CompiledSweep, float]:
    if isinstance(source, protocol.Experiment):
        sweep = protocol.compile_induction(source.induction)
    elif isinstance(source, protocol.Induction):
        sweep = protocol.compile_induction(source)
    else:
        sweep = source
    if sweep.kind != "induction" or sweep.window_length is None:
        raise ValueError(
            f"predict: a {sweep.kind} sweep has no theta windows; pass the induction sweep"
        )
    return sweep, float(sweep.window_length)


def predict(
    source: protocol.Experiment | protocol.Induction | protocol.CompiledSweep,
    params: KinaseParams | None = None,
    *,
    return_traces: bool = False,
) -> KinaseResult:
    """Predict the kinase-rule weight change of an induction protocol.

    Presynaptic spikes are the onsets of the compiled stimulation pulses; postsynaptic
    spikes are the compiled target spike times of the postsynaptic drive (one regular
    train per phase, at its target rate, from its lag on). The whole induction sweep is
    simulated, from its start (t = 0, state at rest) to its end, and every theta window is
    read at its end.

    Parameters
    ----------
    source : Experiment, Induction or CompiledSweep
        The protocol, or its already compiled induction sweep.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.
    return_traces : bool
        Also return the state of the cascade at every 1 ms step.

    Returns
    -------
    KinaseResult
        Total and per-window dWt; ``hebbian`` is the Hebbian comparator over the sweep.

    Raises
    ------
    ValueError
        If a compiled probe sweep is passed instead of an induction sweep.
    """
    sweep, window_ms = _induction_sweep(source)
    return kinase_dwt(
        sweep.pre_pulse_ms,
        sweep.post_target_ms,
        sweep.window_starts_ms,
        window_ms,
        params,
        end_ms=sweep.duration_ms,
        return_traces=return_traces,
    )
