"""Calibrating the dWt -> EPSP-ratio mapping to measured data.

The kinase rule predicts a dimensionless dWt. To say "predicted EPSP ratio", the
preview maps dWt to a weight ratio and fits that mapping to a dataset of measured
normalized EPSPs (per condition: mean, SEM, n). Two mappings are offered:

``lrate``
    Axon's soft-bounded sigmoid weight update (:func:`weight_from_dwt`), with its learning
    rate fitted.
``linear``
    ``ratio = 1 + scale * total_dWt``, with the scale fitted (weighted least squares).

Both fits weight each condition by ``1 / SEM**2``. The fit is only as good as the model:
with Axon defaults and 400 ms gaps the flat conditions carry an onset bias, which the fit
report shows as residuals rather than hiding.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from scipy.optimize import minimize_scalar  # type: ignore[import-untyped, unused-ignore]

from rigctl import protocol
from rigctl.data import dataset_path
from rigctl.plasticity.kinase import weight_from_dwt
from rigctl.plasticity.params import KinaseParams
from rigctl.plasticity.preview import predict

__all__ = [
    "PAPER_DATASET_PATH",
    "ConditionData",
    "Dataset",
    "DatasetError",
    "MappingFit",
    "fit_mapping",
    "load_dataset",
    "paper_dataset",
]

PAPER_DATASET_PATH = dataset_path()
"""The paper's four conditions (normalized EPSP at 30-35 min), shipped in ``rigctl/data``."""

_MAX_BYTES = 1_048_576


class ConditionData(BaseModel):
    """Measured outcome of one condition: mean ± SEM of the normalized EPSP over n cells."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    minus_hz: float = Field(gt=0, le=500, description="Prediction-phase rate (Hz).")
    plus_hz: float = Field(gt=0, le=500, description="Outcome-phase rate (Hz).")
    mean: float = Field(gt=0, le=100, description="Mean normalized EPSP.")
    sem: float = Field(gt=0, le=100, description="Standard error of the mean.")
    n: int = Field(ge=1, le=100_000, description="Number of cells.")

    @property
    def key(self) -> str:
        """``"25-50"`` style label."""
        return f"{self.minus_hz:g}-{self.plus_hz:g}"


class Dataset(BaseModel):
    """A small dataset of measured plasticity outcomes per theta condition."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    format: Literal["rigctl.dataset"] = "rigctl.dataset"
    schema_version: Literal[1] = 1
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    source: Annotated[str, StringConstraints(max_length=2000)] = ""
    measure: Annotated[str, StringConstraints(max_length=500)] = "normalized EPSP"
    conditions: tuple[ConditionData, ...] = Field(min_length=1, max_length=1000)

    def find(self, minus_hz: float, plus_hz: float) -> ConditionData | None:
        """The condition with these rates, if the dataset has it."""
        for c in self.conditions:
            if math.isclose(c.minus_hz, minus_hz) and math.isclose(c.plus_hz, plus_hz):
                return c
        return None


class DatasetError(ValueError):
    """A dataset file that cannot be used; ``str()`` is one line naming file and field."""


def load_dataset(path: str | Path) -> Dataset:
    """Load and validate a dataset file (JSON)."""
    p = Path(path)
    try:
        raw = p.read_bytes()[: _MAX_BYTES + 1]
    except OSError as exc:
        raise DatasetError(f"{p}: cannot be read ({exc.strerror})") from None
    if len(raw) > _MAX_BYTES:
        raise DatasetError(f"{p}: is larger than the 1 MiB a dataset file may be")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{p}: is not valid JSON ({exc})") from None
    try:
        return Dataset.model_validate(data)
    except ValidationError as exc:
        problems = protocol.problems_of(exc, Dataset)
        first = problems[0]
        where = f"{first.path}: " if first.path else ""
        raise DatasetError(f"{p}: {where}{first.message}") from None


def paper_dataset() -> Dataset:
    """The dataset of Jang et al. (2026) shipped with rigctl."""
    return load_dataset(PAPER_DATASET_PATH)


@dataclass(frozen=True)
class MappingFit:
    """A fitted dWt -> EPSP-ratio mapping and how well it fits.

    Attributes
    ----------
    method
        ``"lrate"`` (Axon's sigmoid weight update) or ``"linear"`` (1 + scale x dWt).
    value
        The fitted learning rate or scale.
    chi2, dof
        Sum of squared SEM-weighted residuals, and degrees of freedom (conditions - 1).
    conditions, predicted, measured, sem
        Per-condition labels, predicted ratios, measured means and SEMs.
    dataset
        Name of the dataset fitted.
    params
        The cascade constants the conditions were predicted with.
    value_se
        Standard error of ``value``: the inverse Fisher information of the SEM-weighted
        fit, scaled by the reduced chi-squared when that exceeds 1.
    """

    method: Literal["lrate", "linear"]
    value: float
    chi2: float
    dof: int
    conditions: tuple[str, ...]
    predicted: tuple[float, ...]
    measured: tuple[float, ...]
    sem: tuple[float, ...]
    dataset: str
    params: KinaseParams
    value_se: float = math.nan

    def ratio(self, per_window: np.ndarray | list[float], value: float | None = None) -> float:
        """Predicted EPSP ratio for per-window dWt values, with this mapping.

        ``value`` replaces the fitted learning rate or scale (e.g. to propagate its error).
        """
        pw = np.asarray(per_window, dtype=np.float64)
        v = self.value if value is None else value
        if self.method == "lrate":
            return weight_from_dwt(pw, v)
        return 1.0 + v * float(pw.sum())

    @property
    def basis(self) -> str:
        """One line saying what the predicted ratio rests on."""
        name = "lrate" if self.method == "lrate" else "scale"
        what = f"{name} {self.value:.4g} ± {self.value_se:.2g} (SE)"
        return (
            f"{self.method} mapping fitted to {self.dataset} ({what}, "
            f"chi2 {self.chi2:.2f} on {self.dof} dof)"
        )

    def report(self) -> str:
        """A small table of the fit."""
        lines = [self.basis, f"  {'condition':<10}{'measured':>16}{'predicted':>11}{'z':>7}"]
        for c, m, s, p in zip(
            self.conditions, self.measured, self.sem, self.predicted, strict=True
        ):
            lines.append(f"  {c:<10}{m:>9.2f} ± {s:<4.2f}{p:>11.3f}{(p - m) / s:>+7.2f}")
        return "\n".join(lines)


def _standard_error(
    method: Literal["lrate", "linear"],
    value: float,
    per_window: list[np.ndarray],
    weights: np.ndarray,
    chi2: float,
) -> float:
    """Standard error of the fitted value (inverse Fisher information, chi2-scaled if > 1)."""
    if method == "linear":
        slope = np.array([float(pw.sum()) for pw in per_window])
    else:
        h = max(abs(value) * 1e-4, 1e-9)
        up = np.array([weight_from_dwt(pw, value + h) for pw in per_window])
        down = np.array([weight_from_dwt(pw, max(value - h, 1e-12)) for pw in per_window])
        slope = (up - down) / (value + h - max(value - h, 1e-12))
    info = float(np.sum(weights * slope * slope))
    if info <= 0:
        return math.inf
    dof = len(per_window) - 1
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    return math.sqrt(scale / info)


def fit_mapping(
    dataset: Dataset,
    params: KinaseParams | None = None,
    method: Literal["lrate", "linear"] = "lrate",
) -> MappingFit:
    """Fit the dWt -> ratio mapping to ``dataset`` (weights 1 / SEM**2).

    Every condition is predicted on the paper's theta protocol with its rates.
    """
    p = KinaseParams() if params is None else params
    conds = dataset.conditions
    per_window = [
        predict(protocol.paper_condition(c.minus_hz, c.plus_hz), p).per_window for c in conds
    ]
    y = np.array([c.mean for c in conds])
    w = 1.0 / np.array([c.sem for c in conds]) ** 2
    if method == "linear":
        x = np.array([float(pw.sum()) for pw in per_window])
        denom = float(np.sum(w * x * x))
        value = float(np.sum(w * x * (y - 1.0)) / denom) if denom > 0 else 0.0
        pred = 1.0 + value * x
    else:

        def cost(lrate: float) -> float:
            pr = np.array([weight_from_dwt(pw, lrate) for pw in per_window])
            return float(np.sum(w * (pr - y) ** 2))

        res = minimize_scalar(cost, bounds=(1e-5, 1.0), method="bounded", options={"xatol": 1e-7})
        value = float(res.x)
        pred = np.array([weight_from_dwt(pw, value) for pw in per_window])
    chi2 = float(np.sum(w * (pred - y) ** 2))
    return MappingFit(
        value_se=_standard_error(method, value, per_window, w, chi2),
        method=method,
        value=value,
        chi2=chi2,
        dof=max(0, len(conds) - 1),
        conditions=tuple(c.key for c in conds),
        predicted=tuple(float(v) for v in pred),
        measured=tuple(float(v) for v in y),
        sem=tuple(c.sem for c in conds),
        dataset=dataset.name,
        params=p,
    )
