"""The hypothesis tests across conditions: per-condition tests with Holm, and the 2 x 2 ANOVA.

:func:`anova_2x2` fits the two-way ANOVA of the per-cell normalized EPSP (30-35 min) with
prediction rate x outcome rate as factors, with statsmodels (OLS, Type II sums of squares;
for a 2 x 2 design the interaction's test is the same in Types II and III), and reports the
interaction contrast ``m(a2,b2) - m(a2,b1) - m(a1,b2) + m(a1,b1)`` (prediction rates
a1 < a2, outcome rates b1 < b2) with its 95 % CI.

Note what the terms mean for the temporal-derivative hypothesis (plasticity follows the
*change* of rate, outcome minus prediction: LTP for 25→50 Hz, LTD for 50→25 Hz, nothing for
25→25 and 50→50). A response that depends on ``b - a`` only is *additive*: it predicts equal
and opposite main effects (outcome up, prediction down) and **no** interaction. So the fit
also reports the **rate-change contrast** ``m(a1,b2) - m(a2,b1)`` (outcome effect minus
prediction effect, 25→50 minus 50→25 in the paper) with its t-test and CI from the same
model (pooled variance); the interaction tests whether same-rate and changing-rate
conditions differ beyond that, e.g. a dependence on ``|b - a|``.

:func:`condition_tests` tests each condition against 1 (no change), two-tailed, with Holm's
correction over the conditions, and gives Cohen's d with an exact CI (noncentral t) and the
95 % CI of the mean. All results are frozen dataclasses with ``as_dict`` and ``report`` for
the command line and the Results view.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats  # type: ignore[import-untyped, unused-ignore]

from rigctl.engine.analysis import sd_sem
from rigctl.engine.summary import condition_label, rates_of


class ConditionValues(Protocol):
    """One condition's per-cell values (e.g. :class:`rigctl.engine.group.ConditionStats`)."""

    @property
    def condition(self) -> str:
        """The condition's key, ``"25-50"`` for a paper condition."""
        ...

    @property
    def values(self) -> tuple[float, ...]:
        """One value per cell (the normalized EPSP in the summary window)."""
        ...

    @property
    def n(self) -> int:
        """The number of cells."""
        ...


class ConditionSet(Protocol):
    """What the tests read of a group summary (:class:`rigctl.engine.group.GroupSummary`).

    A protocol rather than the class, so that the summary can be built from these
    tests without the two modules importing each other.
    """

    @property
    def conditions(self) -> Sequence[ConditionValues]:
        """The conditions, in order."""
        ...

    @property
    def alpha(self) -> float:
        """The significance level."""
        ...


__all__ = [
    "AnovaTerm",
    "ConditionTest",
    "ConditionTests",
    "TwoWayAnova",
    "anova_2x2",
    "condition_tests",
    "finite_or_none",
    "num_text",
    "one_sample_t",
    "p_text",
    "rates_of",
    "sd_sem",
    "welch_t",
]

FloatArray = npt.NDArray[np.float64]


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN or infinite (for JSON)."""
    return float(x) if math.isfinite(x) else None


def num_text(x: float, width: int, decimals: int) -> str:
    """``x`` in a fixed-width column, ``n/a`` when it is not finite."""
    return f"{x:{width}.{decimals}f}" if math.isfinite(x) else f"{'n/a':>{width}}"


def p_text(p: float) -> str:
    """A p value for a report: 3 decimals, scientific below 0.001, ``n/a`` if undefined."""
    if not math.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def one_sample_t(values: FloatArray) -> tuple[float, float]:
    """Two-tailed one-sample t-test of ``values`` against 1: (t, p); NaN if undefined."""
    if values.size < 2 or not np.ptp(values) > 0:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_1samp(values, 1.0)
    return float(res.statistic), float(res.pvalue)


def welch_t(a: FloatArray, b: FloatArray) -> tuple[float, float, float]:
    """Two-tailed Welch t-test of ``a`` minus ``b``: (t, df, p); NaN if undefined."""
    if a.size < 2 or b.size < 2:
        return math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if not va + vb > 0:
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(res.statistic), float(df), float(res.pvalue)


# --------------------------------------------------------------------------- per condition


@dataclass(frozen=True)
class ConditionTest:
    """One condition against 1: t-test, Holm-corrected p, Cohen's d and CIs."""

    condition: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    t: float
    p: float
    p_holm: float
    cohens_d: float
    d_ci_low: float
    d_ci_high: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data (NaN as None)."""
        return {
            k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in self.__dict__.items()
        } | {"label": condition_label(self.condition)}


@dataclass(frozen=True)
class ConditionTests:
    """Every condition against 1, corrected together (Holm)."""

    tests: tuple[ConditionTest, ...]
    alpha: float = 0.05
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "correction": "holm",
            "alpha": self.alpha,
            "confidence": self.confidence,
            "conditions": [t.as_dict() for t in self.tests],
        }

    def report(self) -> str:
        """A plain-text table."""
        width = max([len(condition_label(t.condition)) for t in self.tests] + [9])
        lines = [
            "Against 1 (two-tailed one-sample t-test, Holm-corrected over conditions; "
            f"{self.confidence:.0%} CIs):",
            f"  {'condition':<{width}} {'n':>3}  {'mean [CI]':<24} {'p':>8} {'p Holm':>8}  "
            "Cohen's d [CI]",
        ]
        for t in self.tests:
            star = " *" if math.isfinite(t.p_holm) and t.p_holm < self.alpha else ""
            mean = f"{t.mean:.3f} [{_n(t.ci_low, '.3f')}, {_n(t.ci_high, '.3f')}]"
            d = f"{_n(t.cohens_d, '+.2f')} [{_n(t.d_ci_low, '+.2f')}, {_n(t.d_ci_high, '+.2f')}]"
            lines.append(
                f"  {condition_label(t.condition):<{width}} {t.n:>3}  {mean:<24} "
                f"{p_text(t.p):>8} {p_text(t.p_holm):>8}  {d}{star}"
            )
        return "\n".join(lines) + "\n"


def _n(x: float, spec: str) -> str:
    return format(x, spec) if math.isfinite(x) else "n/a"


def _d_ci(t: float, n: int, confidence: float) -> tuple[float, float]:
    """CI of Cohen's d (one sample) by inverting the noncentral t distribution."""
    if n < 2 or not math.isfinite(t):
        return math.nan, math.nan
    df = n - 1
    tail = (1 - confidence) / 2

    def solve(q: float) -> float:
        # cdf(t; nc) falls as nc grows: bracket the root by doubling steps from nc = t.
        def f(nc: float) -> float:
            return float(stats.nct.cdf(t, df, nc)) - q

        f0 = f(t)
        step = 1.0 if f0 > 0 else -1.0
        for _ in range(12):
            far = t + step
            ff = f(far)
            if not math.isfinite(ff):
                return math.nan  # beyond what the distribution is computable for
            if ff * f0 <= 0:
                a, b = sorted((t + step / 2 if abs(step) > 1 else t, far))
                return float(optimize.brentq(f, a, b)) / math.sqrt(n)
            step *= 2
        return math.nan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return solve(1 - tail), solve(tail)


def condition_tests(
    summary: ConditionSet, *, alpha: float = 0.05, confidence: float = 0.95
) -> ConditionTests:
    """Each condition's per-cell values against 1, Holm-corrected over the conditions."""
    from statsmodels.stats.multitest import multipletests

    rows: list[tuple[str, int, float, float, float, float, float, float]] = []
    for cs in summary.conditions:
        v = np.asarray(cs.values, dtype=np.float64)
        n = int(v.size)
        mean = float(v.mean()) if n else math.nan
        sd, _ = sd_sem(v)
        lo = hi = t = p = d = math.nan
        if n > 1 and sd > 0:
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
            lo, hi = mean - half, mean + half
            t, p = one_sample_t(v)
            d = (mean - 1.0) / sd
        rows.append((cs.condition, n, mean, lo, hi, t, p, d))
    ps = np.array([r[6] for r in rows], dtype=np.float64)
    holm = np.full(ps.shape, math.nan)
    ok = np.isfinite(ps)
    if ok.any():
        holm[ok] = multipletests(ps[ok], alpha=alpha, method="holm")[1]
    tests = []
    for (cond, n, mean, lo, hi, t, p, d), ph in zip(rows, holm, strict=True):
        dl, dh = _d_ci(t, n, confidence)
        tests.append(ConditionTest(cond, n, mean, lo, hi, t, p, float(ph), d, dl, dh))
    return ConditionTests(tuple(tests), alpha, confidence)


# --------------------------------------------------------------------------- 2 x 2 ANOVA


@dataclass(frozen=True)
class AnovaTerm:
    """One row of the ANOVA table."""

    term: str
    sum_sq: float
    df: float
    f: float
    p: float
    partial_eta_sq: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data (NaN as None)."""
        return {
            "term": self.term,
            "sum_sq": finite_or_none(self.sum_sq),
            "df": finite_or_none(self.df),
            "F": finite_or_none(self.f),
            "p": finite_or_none(self.p),
            "partial_eta_sq": finite_or_none(self.partial_eta_sq),
        }


@dataclass(frozen=True)
class TwoWayAnova:
    """Prediction rate x outcome rate on the normalized EPSP (per cell, summary window).

    ``terms`` are ``prediction``, ``outcome``, ``interaction`` and ``residual``;
    ``interaction_estimate`` is the difference of differences with its CI.
    """

    terms: tuple[AnovaTerm, ...]
    prediction_rates: tuple[float, float]
    outcome_rates: tuple[float, float]
    n: dict[str, int]
    interaction_estimate: float
    interaction_ci: tuple[float, float]
    change_estimate: float = math.nan
    change_ci: tuple[float, float] = (math.nan, math.nan)
    change_t: float = math.nan
    change_p: float = math.nan
    alpha: float = 0.05

    def term(self, name: str) -> AnovaTerm:
        """One row by name (``KeyError`` if absent)."""
        for t in self.terms:
            if t.term == name:
                return t
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "design": "2x2 prediction rate x outcome rate, OLS, Type II sums of squares",
            "prediction_rates": list(self.prediction_rates),
            "outcome_rates": list(self.outcome_rates),
            "n": dict(self.n),
            "terms": [t.as_dict() for t in self.terms],
            "interaction_estimate": finite_or_none(self.interaction_estimate),
            "interaction_ci": [finite_or_none(x) for x in self.interaction_ci],
            "rate_change_contrast": {
                "definition": "m(low prediction, high outcome) - m(high prediction, low outcome)",
                "estimate": finite_or_none(self.change_estimate),
                "ci": [finite_or_none(x) for x in self.change_ci],
                "t": finite_or_none(self.change_t),
                "p": finite_or_none(self.change_p),
            },
        }

    def report(self) -> str:
        """A plain-text ANOVA table; the interaction is the hypothesis test."""
        a1, a2 = self.prediction_rates
        b1, b2 = self.outcome_rates
        lines = [
            f"Two-way ANOVA, prediction rate ({a1:g}/{a2:g} Hz) x outcome rate ({b1:g}/{b2:g} Hz)"
            " (OLS, Type II SS):",
            f"  {'term':<12} {'SS':>9} {'df':>4} {'F':>8} {'p':>8} {'partial η²':>11}",
        ]
        for t in self.terms:
            star = " *" if t.term != "residual" and math.isfinite(t.p) and t.p < self.alpha else ""
            f = f"{t.f:8.2f}" if math.isfinite(t.f) else " " * 8
            p = f"{p_text(t.p):>8}" if math.isfinite(t.p) else " " * 8
            eta = f"{t.partial_eta_sq:11.3f}" if math.isfinite(t.partial_eta_sq) else ""
            lines.append(f"  {t.term:<12} {t.sum_sq:9.4f} {t.df:4.0f} {f} {p} {eta}{star}")
        lo, hi = self.interaction_ci
        lines.append(
            f"  interaction contrast (difference of differences) {self.interaction_estimate:+.3f}"
            f" [95% CI {lo:+.3f}, {hi:+.3f}]; n per condition "
            + ", ".join(f"{condition_label(k)} {v}" for k, v in self.n.items())
        )
        clo, chi = self.change_ci
        lines.append(
            f"  rate-change contrast {a1:g}→{b2:g} minus {a2:g}→{b1:g} Hz (the temporal "
            f"derivative; additive, so not the interaction) {self.change_estimate:+.3f} "
            f"[95% CI {clo:+.3f}, {chi:+.3f}], t = {self.change_t:.2f}, p = {p_text(self.change_p)}"
        )
        return "\n".join(lines) + "\n"


def anova_2x2(summary: ConditionSet) -> TwoWayAnova | None:
    """The 2 x 2 ANOVA of the per-cell values, or None without a 2 x 2 design.

    A design is 2 x 2 when the conditions named ``"A-B"`` have exactly two prediction
    rates and two outcome rates, all four combinations with at least two cells. Other
    conditions are left out of the ANOVA.
    """
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    cells = [(c, rates_of(c.condition)) for c in summary.conditions]
    rated = [(c, r) for c, r in cells if r is not None]
    pred = sorted({r[0] for _, r in rated})
    out = sorted({r[1] for _, r in rated})
    if len(pred) != 2 or len(out) != 2 or len(rated) != 4 or any(c.n < 2 for c, _ in rated):
        return None
    rows = [
        {"y": v, "prediction": f"p{r[0]:g}", "outcome": f"o{r[1]:g}"}
        for c, r in rated
        for v in c.values
    ]
    frame = pd.DataFrame(rows)
    frame["prediction"] = pd.Categorical(frame["prediction"], [f"p{x:g}" for x in pred])
    frame["outcome"] = pd.Categorical(frame["outcome"], [f"o{x:g}" for x in out])
    fit = smf.ols("y ~ C(prediction) * C(outcome)", data=frame).fit()
    table = anova_lm(fit, typ=2)
    names = ("prediction", "outcome", "interaction", "residual")
    ss_res = float(table["sum_sq"].iloc[-1])
    terms = []
    for name, (_, r) in zip(names, table.iterrows(), strict=True):
        ss = float(r["sum_sq"])
        eta = ss / (ss + ss_res) if name != "residual" else math.nan
        f = float(r["F"]) if name != "residual" else math.nan
        p = float(r["PR(>F)"]) if name != "residual" else math.nan
        terms.append(AnovaTerm(name, ss, float(r["df"]), f, p, eta))
    key = next(k for k in fit.params.index if ":" in k)
    ci = fit.conf_int().loc[key]
    # m(a1,b2) - m(a2,b1) = beta_outcome - beta_prediction under treatment coding.
    params = [str(k) for k in fit.params.index]
    vec = np.zeros(len(params))
    main_effects = {k.split("[")[0]: i for i, k in enumerate(params) if ":" not in k}
    vec[main_effects["C(outcome)"]] = 1.0
    vec[main_effects["C(prediction)"]] = -1.0
    change = fit.t_test(vec)
    change_ci = np.asarray(change.conf_int()).ravel()
    return TwoWayAnova(
        terms=tuple(terms),
        prediction_rates=(pred[0], pred[1]),
        outcome_rates=(out[0], out[1]),
        n={c.condition: c.n for c, _ in rated},
        interaction_estimate=float(fit.params[key]),
        interaction_ci=(float(ci.iloc[0]), float(ci.iloc[1])),
        change_estimate=float(np.asarray(change.effect).ravel()[0]),
        change_ci=(float(change_ci[0]), float(change_ci[1])),
        change_t=float(np.asarray(change.tvalue).ravel()[0]),
        change_p=float(np.asarray(change.pvalue).ravel()[0]),
        alpha=summary.alpha,
    )
