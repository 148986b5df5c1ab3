from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.plasticity import KinaseParams
from rigctl.plasticity.mapping import (
    DatasetError,
    fit_mapping,
    load_dataset,
    paper_dataset,
)


def test_paper_dataset_has_the_four_conditions() -> None:
    ds = paper_dataset()
    assert {c.key for c in ds.conditions} == {"25-25", "25-50", "50-25", "50-50"}
    c = ds.find(50, 25)
    assert c is not None and (c.mean, c.sem, c.n) == (0.73, 0.10, 18)


@pytest.mark.parametrize("method", ["lrate", "linear"])
def test_fit_recovers_a_known_mapping(tmp_path: Path, method: str) -> None:
    # Synthetic data made by the model itself with a known parameter must be fitted back.
    from rigctl.plasticity.kinase import weight_from_dwt
    from rigctl.plasticity.preview import predict

    true = 0.021 if method == "lrate" else 0.15
    conds = []
    for m, p in [(25, 25), (25, 50), (50, 25), (50, 50), (10, 40)]:
        pw = predict(proto.paper_condition(m, p)).per_window
        y = weight_from_dwt(pw, true) if method == "lrate" else 1 + true * float(pw.sum())
        conds.append({"minus_hz": m, "plus_hz": p, "mean": y, "sem": 0.1, "n": 10})
    f = tmp_path / "synthetic.json"
    f.write_text(
        json.dumps(
            {
                "format": "rigctl.dataset",
                "schema_version": 1,
                "name": "synthetic",
                "conditions": conds,
            }
        )
    )
    fit = fit_mapping(load_dataset(f), method=method)  # type: ignore[arg-type]
    assert fit.value == pytest.approx(true, rel=1e-4)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-8)


def test_fit_to_the_paper_reports_the_basis() -> None:
    fit = fit_mapping(paper_dataset())
    assert 0.005 < fit.value < 0.2
    assert fit.dof == 3 and fit.chi2 < 3.0
    pred = dict(zip(fit.conditions, fit.predicted, strict=True))
    assert pred["25-50"] > 1.2 and pred["50-25"] < 0.85
    assert "Jang et al. 2026" in fit.basis and "lrate" in fit.basis
    assert "25-50" in fit.report()
    # Onset compensation changes the fit: the flat conditions move below their bias.
    comp = fit_mapping(paper_dataset(), KinaseParams(d_scale=1.05))
    assert dict(zip(comp.conditions, comp.predicted, strict=True))["50-50"] < pred["50-50"]
    assert fit.ratio(np.zeros(10)) == pytest.approx(1.0)


def test_bad_dataset_files(tmp_path: Path) -> None:
    f = tmp_path / "d.json"
    cond = {"minus_hz": 25, "plus_hz": 50, "mean": 1.2, "sem": -1, "n": 3}
    doc = {"format": "rigctl.dataset", "schema_version": 1, "name": "x", "conditions": [cond]}
    f.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=r"conditions\[0\]\.sem: must be greater than 0"):
        load_dataset(f)
    f.write_text("{")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_dataset(f)
    with pytest.raises(DatasetError, match="cannot be read"):
        load_dataset(tmp_path / "missing.json")
