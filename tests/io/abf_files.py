"""Write ABF1 probe series with known EPSPs (pyabf's writer), for the import tests."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

FS = 10_000.0
SWEEP_MS = 500.0
PROBE_MS = 300.0
STEP_MS = (50.0, 150.0)
STEP_MV = -1.5  # -10 pA through 150 MOhm
REST_MV = -65.0
TAU_MS = 8.0


def alpha_epsp(
    t_ms: npt.NDArray[np.float64], onset_ms: float, amp_mv: float
) -> npt.NDArray[np.float64]:
    """Alpha function peaking at ``amp_mv`` one ``TAU_MS`` after ``onset_ms``."""
    x = np.clip((t_ms - onset_ms) / TAU_MS, 0.0, None)
    out: npt.NDArray[np.float64] = amp_mv * x * np.exp(1.0 - x)
    return out


def expected_slope(amp_mv: float) -> float:
    """The 20-80 % rise slope of the alpha EPSP, from a dense noiseless trace (mV/ms)."""
    t = np.linspace(0.0, TAU_MS, 400_001)
    v = alpha_epsp(t, 0.0, amp_mv)
    sel = (v >= 0.2 * amp_mv) & (v <= 0.8 * amp_mv)
    return float(np.polyfit(t[sel], v[sel], 1)[0])


def probe_trace(
    amp_mv: float,
    *,
    second_mv: float | None = None,
    interval_ms: float = 50.0,
    rng: np.random.Generator | None = None,
) -> npt.NDArray[np.float64]:
    t = np.asarray(np.arange(round(SWEEP_MS * FS / 1000.0)) * 1000.0 / FS, dtype=np.float64)
    step = (t >= STEP_MS[0]) & (t < STEP_MS[1])
    v: npt.NDArray[np.float64] = np.where(step, REST_MV + STEP_MV, REST_MV)
    v += alpha_epsp(t, PROBE_MS + 1.0, amp_mv)
    if second_mv is not None:
        v += alpha_epsp(t, PROBE_MS + interval_ms + 1.0, second_mv)
    if rng is not None:
        v += rng.normal(0.0, 0.02, t.shape)
    return v


def write_abf1(
    path: Path,
    sweeps: list[npt.NDArray[np.float64]],
    start: datetime,
    *,
    units: str = "mV",
    gap_free: bool = False,
) -> Path:
    """An ABF1 file of these sweeps, its start date and time set in the header."""
    import pyabf

    pyabf.abfWriter.writeABF1(np.array(sweeps), str(path), FS, units=units)
    raw = bytearray(path.read_bytes())
    struct.pack_into("i", raw, 20, int(start.strftime("%Y%m%d")))
    struct.pack_into("i", raw, 24, start.hour * 3600 + start.minute * 60 + start.second)
    if gap_free:
        struct.pack_into("h", raw, 8, 3)
    path.write_bytes(bytes(raw))
    return path
