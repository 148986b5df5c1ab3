"""A simulated CA1 pyramidal neuron in whole-cell current clamp, with a Schaffer synapse.

The model is an adaptive leaky integrate-and-fire neuron with a sodium-availability gate:

* subthreshold: ``tau_m dV/dt = -(V - E_L) + R (I_cmd + I_syn - w)``, rest -65 mV,
  150 MΩ, 25 ms by default (rheobase about 125 pA);
* a spike when V reaches threshold *and* enough sodium channels are available
  (``h >= h_crit``); then V resets and the adaptation current ``w`` jumps by ``b``;
* availability ``h`` relaxes to ``h_inf(V)`` (inactivated by depolarization) and drops by
  a fraction with every spike. This caps the firing rate near 55 Hz and, with more
  current, the cell sits depolarized and spikes drop out (depolarization block), as in
  CA1 cells driven by sustained steps;
* every stimulation pulse evokes a biexponential EPSC whose amplitude varies from trial
  to trial, curtailed by the disynaptic feedforward IPSC that Schaffer stimulation
  recruits 2 ms later; the recorded Vm has a spike waveform, white noise and a slow drift;
* the pipette's series resistance adds ``I_cmd * R_s`` to the recorded Vm (bridge not
  balanced): an instantaneous jump at every current step before the membrane charges.

Because everything but the spike rule is linear, the membrane potential is computed with
IIR filters over whole arrays, and each spike adds precomputed reset and adaptation
kernels: a sweep costs a few array passes plus O(spikes) kernel additions, not a
Python loop per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter  # type: ignore[import-untyped, unused-ignore]

__all__ = ["CellOutput", "CellParams", "simulate_cell", "unit_epsp_peak_mv"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CellParams:
    """Biophysical parameters of the simulated neuron (defaults: a typical CA1 cell)."""

    resting_mv: float = -65.0
    input_resistance_mohm: float = 150.0
    tau_m_ms: float = 25.0
    threshold_mv: float = -48.0
    reset_mv: float = -70.0
    refractory_ms: float = 2.5
    adapt_pa: float = 20.0
    adapt_tau_ms: float = 40.0
    avail_drop: float = 0.6
    avail_tau_ms: float = 20.0
    avail_crit: float = 0.7
    avail_half_mv: float = -30.0
    avail_slope_mv: float = 6.0
    spike_peak_mv: float = 32.0
    spike_tau_ms: float = 0.3
    epsc_rise_ms: float = 0.6
    epsc_decay_ms: float = 4.0
    synaptic_delay_ms: float = 2.0
    ffi_ratio: float = 0.3
    ffi_delay_ms: float = 2.0
    ipsc_rise_ms: float = 1.0
    ipsc_decay_ms: float = 12.0
    epsp_mv: float = 5.0
    epsp_cv: float = 0.15
    noise_mv: float = 0.15
    drift_mv: float = 0.2
    drift_tau_s: float = 2.0
    series_resistance_mohm: float = 0.0


@dataclass(frozen=True, eq=False)
class CellOutput:
    """What the simulated cell did in one sweep."""

    vm_mv: FloatArray
    spike_index: npt.NDArray[np.intp]
    pulse_index: npt.NDArray[np.intp]
    epsp_scale: FloatArray

    def spike_times_ms(self, sample_rate_hz: float) -> FloatArray:
        """Spike times (ms from sweep start)."""
        return self.spike_index.astype(np.float64) * 1000.0 / sample_rate_hz


def _first_order(x: FloatArray, tau_samples: float, y0: float = 0.0) -> FloatArray:
    """Exact exponential-hold filter: ``y[n] = a y[n-1] + (1 - a) x[n]``, ``y[-1] = y0``."""
    a = math.exp(-1.0 / tau_samples)
    out, _ = lfilter([1.0 - a], [1.0, -a], x, zi=[a * y0])
    return np.asarray(out, dtype=np.float64)


def _synaptic_current(impulses: FloatArray, fs: float, p: CellParams) -> FloatArray:
    """EPSC (peak 1 per unit impulse) followed by the disynaptic feedforward IPSC."""
    cur = _biexp(impulses, fs, p.epsc_rise_ms, p.epsc_decay_ms)
    if p.ffi_ratio > 0:
        shift = round(p.ffi_delay_ms * fs / 1000.0)
        ipsc = _biexp(impulses, fs, p.ipsc_rise_ms, p.ipsc_decay_ms)
        if shift > 0:
            ipsc = np.concatenate((np.zeros(shift), ipsc[:-shift]))
        cur = cur - p.ffi_ratio * ipsc
    return cur


@lru_cache(maxsize=32)
def _unit_psp_peak(p: CellParams, fs: float) -> float:
    """Peak of the membrane response to a unit synaptic impulse (in units of R*I)."""
    n = int(fs * (p.ipsc_decay_ms + 10 * p.tau_m_ms) / 1000.0) + 10
    impulse = np.zeros(n)
    impulse[0] = 1.0
    v = _first_order(_synaptic_current(impulse, fs, p), p.tau_m_ms * fs / 1000.0)
    return float(v.max())


def _biexp(impulses: FloatArray, fs: float, rise_ms: float, decay_ms: float) -> FloatArray:
    """Difference of exponentials, normalised to a peak of 1 per unit impulse."""
    td = decay_ms * fs / 1000.0
    tr = rise_ms * fs / 1000.0
    ad, ar = math.exp(-1.0 / td), math.exp(-1.0 / tr)
    slow = lfilter([1.0], [1.0, -ad], impulses)
    fast = lfilter([1.0], [1.0, -ar], impulses)
    t_peak = math.log(td / tr) * td * tr / (td - tr)
    norm = math.exp(-t_peak / td) - math.exp(-t_peak / tr)
    return np.asarray((slow - fast) / norm, dtype=np.float64)


def unit_epsp_peak_mv(p: CellParams, fs: float) -> float:
    """Peak EPSP (mV) of a 1 pA-peak EPSC through the membrane (for amplitude scaling)."""
    return _unit_psp_peak(p, fs) * p.input_resistance_mohm * 1e-3


@lru_cache(maxsize=32)
def _kernels(p: CellParams, fs: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Reset kernel (per mV of jump), adaptation kernel (mV), spike-shape template (mV)."""
    tau_m = p.tau_m_ms * fs / 1000.0
    a = math.exp(-1.0 / tau_m)
    n_r = math.ceil(14 * tau_m) + 1
    reset = a ** np.arange(n_r, dtype=np.float64)
    tau_w = p.adapt_tau_ms * fs / 1000.0
    n_w = math.ceil(14 * max(tau_w, tau_m)) + 1
    w = p.adapt_pa * math.exp(-1.0 / tau_w) ** np.arange(n_w, dtype=np.float64)
    adapt = _first_order(-p.input_resistance_mohm * 1e-3 * w, tau_m)
    ts = p.spike_tau_ms * fs / 1000.0
    k = np.arange(math.ceil(8 * ts) + 2, dtype=np.float64)
    shape = (k / ts) * np.exp(1.0 - k / ts)  # alpha function, peak 1 at k = ts
    for arr in (reset, adapt, shape):
        arr.flags.writeable = False
    return reset, adapt, shape


def _h_inf(v: FloatArray, p: CellParams) -> FloatArray:
    z = np.clip((v - p.avail_half_mv) / p.avail_slope_mv, -60.0, 60.0)
    return np.asarray(1.0 / (1.0 + np.exp(z)), dtype=np.float64)


def _synaptic_drive(
    stim: npt.NDArray[np.uint8],
    n: int,
    fs: float,
    p: CellParams,
    weight: float,
    gen: np.random.Generator,
) -> tuple[FloatArray, npt.NDArray[np.intp], FloatArray]:
    """Synaptic current: one EPSC per rising TTL edge, amplitude varying trial to trial.

    Returns the current (pA), the edges' samples and each EPSC's relative size.
    """
    edges = np.flatnonzero(np.diff(np.concatenate(([0], stim.astype(np.int8)))) > 0)
    delay = round(p.synaptic_delay_ms * fs / 1000.0)
    scale = np.clip(1.0 + p.epsp_cv * gen.standard_normal(edges.size), 0.0, None)
    impulses = np.zeros(n)
    at = edges + delay
    keep = at < n
    np.add.at(impulses, at[keep], scale[keep])
    peak_per_pa = unit_epsp_peak_mv(p, fs)
    epsc_pa = (p.epsp_mv * weight / peak_per_pa) * _synaptic_current(impulses, fs, p)
    return epsc_pa, edges, scale


def _fire(v: FloatArray, fs: float, p: CellParams) -> list[int]:
    """Spike where Vm crosses threshold with enough sodium availability; resets ``v`` in place.

    Returns the spikes' samples.
    """
    n = v.size
    reset_k, adapt_k, _ = _kernels(p, fs)
    n_ref = max(1, round(p.refractory_ms * fs / 1000.0))
    gamma = 1.0 - math.exp(-1000.0 / (p.avail_tau_ms * fs))
    spikes: list[int] = []
    h_state = float(_h_inf(np.array([p.resting_mv]), p)[0])
    i = 0  # h is known up to (not including) i
    earliest = 0
    while i < n:
        above = np.flatnonzero(v[max(i, earliest) :] >= p.threshold_mv)
        if above.size == 0:
            break
        j = max(i, earliest) + int(above[0])
        # The run of samples above threshold that starts at j.
        below = np.flatnonzero(v[j:] < p.threshold_mv)
        j_end = j + int(below[0]) if below.size else n
        seg = _h_inf(v[i:j_end], p)
        h, _ = lfilter([gamma], [1.0, -(1.0 - gamma)], seg, zi=[(1.0 - gamma) * h_state])
        ok = np.flatnonzero(h[j - i :] >= p.avail_crit)
        if ok.size == 0:
            h_state = float(h[-1])
            i = j_end
            continue
        s = j + int(ok[0])
        spikes.append(s)
        jump = p.reset_mv - v[s]
        stop = min(n, s + reset_k.size)
        v[s:stop] += jump * reset_k[: stop - s]
        if s + 1 < n:
            stop = min(n, s + 1 + adapt_k.size)
            v[s + 1 : stop] += adapt_k[: stop - s - 1]
        h_state = float(h[s - i]) * (1.0 - p.avail_drop)
        i = s + 1
        earliest = s + n_ref
    return spikes


def _recorded(
    v: FloatArray,
    spikes: list[int],
    command_pa: FloatArray,
    fs: float,
    p: CellParams,
    gen: np.random.Generator,
) -> FloatArray:
    """What the amplifier reads: ``v`` with spike shapes, noise, drift and the Rs drop."""
    n = v.size
    _, _, shape_k = _kernels(p, fs)
    vm = v.copy()
    for s in spikes:
        stop = min(n, s + shape_k.size)
        vm[s:stop] += (p.spike_peak_mv - p.reset_mv) * shape_k[: stop - s]
    if p.noise_mv > 0:
        vm += p.noise_mv * gen.standard_normal(n)
    if p.drift_mv > 0:
        # Ornstein-Uhlenbeck drift of the baseline (seal, liquid junction wander).
        tau = p.drift_tau_s * fs
        a = math.exp(-1.0 / tau)
        white = gen.standard_normal(n) * p.drift_mv * math.sqrt(1.0 - a * a)
        start = p.drift_mv * gen.standard_normal()
        drift, _ = lfilter([1.0], [1.0, -a], white, zi=[a * start])
        vm += drift
    if p.series_resistance_mohm > 0:
        vm += command_pa * (p.series_resistance_mohm * 1e-3)
    return vm


def simulate_cell(
    command_pa: FloatArray,
    stim: npt.NDArray[np.uint8],
    sample_rate_hz: float,
    params: CellParams,
    *,
    weight: float = 1.0,
    rng: np.random.Generator | None = None,
) -> CellOutput:
    """Simulate the membrane potential for one sweep of command current and TTL pulses.

    Parameters
    ----------
    command_pa
        Injected current at every sample (pA).
    stim
        TTL line (0/1); every rising edge evokes one EPSC after the synaptic delay.
    sample_rate_hz
        Sample rate of the waveforms and of the returned Vm.
    params
        The cell.
    weight
        Synaptic weight relative to baseline (1 = ``params.epsp_mv`` EPSPs on average).
    rng
        Source of trial-to-trial variability and noise (seeded by the caller).
    """
    gen = np.random.default_rng() if rng is None else rng
    fs = float(sample_rate_hz)
    n = int(command_pa.shape[0])
    p = params
    epsc_pa, edges, scale = _synaptic_drive(stim, n, fs, p, weight, gen)
    drive_mv = p.resting_mv + p.input_resistance_mohm * 1e-3 * (command_pa + epsc_pa)
    v = _first_order(drive_mv, p.tau_m_ms * fs / 1000.0, p.resting_mv)
    spikes = _fire(v, fs, p)
    vm = _recorded(v, spikes, command_pa, fs, p, gen)
    return CellOutput(
        vm_mv=vm,
        spike_index=np.asarray(spikes, dtype=np.intp),
        pulse_index=edges.astype(np.intp),
        epsp_scale=scale,
    )
