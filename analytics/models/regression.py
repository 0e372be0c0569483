"""Dropout versus planned completion as a binary outcome: logistic regression and GEE.

The outcome is event 1 (dropout) against event 2 (planned completion) among episodes whose outcome
is known; ongoing or censored episodes (event 0) have no outcome yet and are left out (the count is
reported). Clients are nested in therapists, so GEE with an exchangeable working correlation gives
population-average odds ratios with standard errors that allow for that clustering; the plain
logistic model is the reference point (and the one with discrimination and calibration).
Model trouble (few events per parameter, separation, collinearity, non-convergence) is reported as
plain sentences in `warnings`, never raised. The random-intercept model (the therapists' share of
the variation) lives in analytics/models/random_intercept.py.
"""

from __future__ import annotations

import warnings as pywarnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analytics.models.outcome import (
    INTERCEPT,
    ModelData,
    empty_table,
    not_converged,
    odds_ratio_table,
    prepare,
    separation_warnings,
    unique,
    unusable,
)
from analytics.models.splines import spline_effects, spline_sentence
from analytics.proportions import wilson_interval
from analytics.results import NO_COUNTS, Privacy

__all__ = [
    "LogisticResult", "GEEResult", "fit_logistic", "fit_gee", "auc", "calibration_table", "variance_inflation", "comparison_table", "odds_ratio_sentences",
]

CALIBRATION_COLUMNS = ["decile", "n", "predicted", "observed", "ci_lower", "ci_upper"]
MAX_VIF = 10
MIN_CLUSTERS = 20
COMPARISON_COLUMNS = ["model", "measure", "term", "estimate", "ci_lower", "ci_upper", "p"]


@dataclass(kw_only=True)
class _OutcomeModelResult:
    """What every dropout-vs-completion model reports: its odds-ratio table and the rows behind it."""

    table: pd.DataFrame
    n_used: int
    n_left_out: int
    n_unknown_outcome: int
    events: int
    events_per_parameter: float
    warnings: list[str] = field(default_factory=list)
    reference: dict[str, str] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    splines: dict = field(default_factory=dict)  # covariate -> NaturalSpline
    partial_effects: dict = field(default_factory=dict)  # covariate -> its effect across its range
    covariance: np.ndarray | None = field(default=None, repr=False)
    privacy: ClassVar[Privacy] = NO_COUNTS

    def coefficients(self) -> tuple[list[str], np.ndarray, np.ndarray, float]:
        """Terms, log odds ratios, their covariance and the complete-data degrees of freedom
        (rows minus terms, as glm's df.residual): what pooling needs."""
        if self.covariance is None:
            raise ValueError("This model was not fitted, so it cannot be pooled.")
        terms = list(self.table["term"])
        return terms, np.log(self.table["or"].to_numpy(dtype=float)), self.covariance, float(self.n_used - len(terms))

    @property
    def takeaway(self) -> str:
        """The terms clearly associated with the odds of dropout, in plain sentences."""
        return " ".join(odds_ratio_sentences(self))


@dataclass(kw_only=True)
class LogisticResult(_OutcomeModelResult):
    auc: float
    calibration: pd.DataFrame
    vif: pd.DataFrame


@dataclass(kw_only=True)
class GEEResult(_OutcomeModelResult):
    n_clusters: int
    working_correlation: float
    converged: bool


def fit_logistic(episodes: pd.DataFrame, covariates, reference_levels: dict[str, str] | None = None,
                 splines: dict[str, int] | None = None) -> LogisticResult:
    """Logistic regression of dropout (vs completion): odds ratios with Wald intervals, discrimination
    (AUC), calibration by deciles of predicted risk and variance inflation factors. `splines`: numeric
    covariates as natural splines (R's `glm(... ~ ns(x, df))`), each with its partial effect."""
    model = prepare(episodes, covariates, reference_levels, splines=splines)
    problem = unusable(model)
    if problem:
        return _empty_logistic(model, problem)
    X = model.X
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        fit = sm.GLM(model.y, X, family=sm.families.Binomial()).fit(maxiter=100)
    notes = list(model.warnings)
    if not fit.converged:
        notes.append(not_converged("The logistic model"))
    notes += separation_warnings(fit.params, fit.bse, fit.fittedvalues, caught)
    vif = variance_inflation(model.design.X)
    high = vif.loc[vif["vif"] > MAX_VIF, "term"].tolist()
    if high:
        notes.append(collinear_warning(high))
    p = fit.fittedvalues.to_numpy() if hasattr(fit.fittedvalues, "to_numpy") else np.asarray(fit.fittedvalues)
    return LogisticResult(
        table=odds_ratio_table(X.columns, fit.params, fit.bse),
        n_used=len(model.y),
        n_left_out=model.design.n_left_out,
        n_unknown_outcome=model.n_unknown_outcome,
        events=model.events,
        events_per_parameter=model.events_per_parameter,
        auc=auc(model.y, p),
        calibration=calibration_table(model.y, p),
        vif=vif,
        warnings=unique(notes),
        reference=model.design.reference,
        markers=model.markers,
        splines=dict(model.design.splines),
        partial_effects=spline_effects(model.design.splines, list(X.columns), np.asarray(fit.params),
                                       np.asarray(fit.cov_params())),
        covariance=np.asarray(fit.cov_params()),
    )


def fit_gee(
    episodes: pd.DataFrame,
    covariates,
    reference_levels: dict[str, str] | None = None,
    cluster: str = "therapist_id",
    correlation: str = "exchangeable",
) -> GEEResult:
    """Population-average logistic model by GEE, clients grouped by `cluster`, with robust (sandwich)
    standard errors. `correlation` is "exchangeable" (default) or "independence". The correlation is
    estimated by moments with no degrees-of-freedom correction (ddof 0), as geepack does."""
    if cluster not in episodes:
        raise ValueError(f"The episodes table has no {cluster!r} column to group clients by; choose another cluster.")
    model = prepare(episodes, covariates, reference_levels, cluster=cluster)
    problem = unusable(model)
    if problem is None and len(pd.unique(model.groups)) < 2:
        problem = f"GEE needs clients of at least two groups ({cluster}); use the logistic model instead."
    if problem:
        return _empty_gee(model, problem)
    structures = {"exchangeable": sm.cov_struct.Exchangeable, "independence": sm.cov_struct.Independence}
    if correlation not in structures:
        raise ValueError(f"Unknown working correlation {correlation!r}; use exchangeable or independence.")
    order = np.argsort(pd.factorize(model.groups)[0], kind="stable")
    X, y, groups = model.X.iloc[order], model.y[order], model.groups[order]
    n_clusters = int(pd.unique(groups).size)
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        gee = sm.GEE(y, X, groups=pd.factorize(groups)[0], family=sm.families.Binomial(), cov_struct=structures[correlation]())
        fit = gee.fit(maxiter=100, ddof_scale=0)
    converged = not any("converge" in str(w.message).lower() for w in caught)
    notes = list(model.warnings)
    if not converged:
        notes.append(not_converged("The GEE model"))
    notes += separation_warnings(fit.params, fit.bse, fit.fittedvalues, caught)
    if n_clusters < MIN_CLUSTERS:
        notes.append(
            f"Only {n_clusters} groups ({cluster}): robust standard errors need many groups and are too small "
            f"with fewer than {MIN_CLUSTERS}; read the intervals as optimistic."
        )
    rho = float(np.atleast_1d(fit.cov_struct.dep_params)[0]) if correlation == "exchangeable" else 0.0
    return GEEResult(
        table=odds_ratio_table(X.columns, fit.params, fit.bse),
        n_used=len(y),
        n_left_out=model.design.n_left_out,
        n_unknown_outcome=model.n_unknown_outcome,
        events=model.events,
        events_per_parameter=model.events_per_parameter,
        n_clusters=n_clusters,
        working_correlation=rho,
        converged=converged,
        warnings=unique(notes),
        reference=model.design.reference,
        markers=model.markers,
    )


def collinear_warning(high: list[str]) -> str:
    return (f"{', '.join(high)} {'is' if len(high) == 1 else 'are'} strongly collinear with other covariates "
            f"(variance inflation above {MAX_VIF}); their odds ratios are imprecise. Drop or combine one of the related covariates.")


def auc(y, p) -> float:
    """Area under the ROC curve as the Mann-Whitney probability that a dropout has a higher predicted
    risk than a completer (ties count one half), from mid-ranks."""
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def calibration_table(y, p, groups: int = 10) -> pd.DataFrame:
    """Mean predicted risk against the observed dropout rate (Wilson interval) in tenths of predicted
    risk; fewer groups when predicted risks tie heavily."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    rank = pd.Series(p).rank(method="first").to_numpy()
    frame = pd.DataFrame({"decile": np.searchsorted(decile_edges(len(p), groups), rank) + 1, "y": y, "p": p})
    return calibration_from_groups(
        frame.groupby("decile").agg(n=("y", "size"), predicted=("p", "mean"), dropouts=("y", "sum")).reset_index())


def decile_edges(n: int, groups: int = 10) -> np.ndarray:
    """The upper rank bounds of `calibration_table`'s groups (pandas qcut on ranks 1..n)."""
    return pd.qcut(np.arange(1, n + 1, dtype=float), min(groups, n), retbins=True)[1][1:]


def calibration_from_groups(table: pd.DataFrame) -> pd.DataFrame:
    """The calibration table from per-group counts (decile, n, predicted, dropouts), in memory or from an engine."""
    table = table.copy()
    table["observed"] = table["dropouts"] / table["n"]
    table["ci_lower"], table["ci_upper"] = wilson_interval(table["dropouts"], table["n"])
    return table[CALIBRATION_COLUMNS]


def variance_inflation(X: pd.DataFrame) -> pd.DataFrame:
    """VIF of each term: 1 / (1 - R²) from regressing it on the other terms (with intercept), read off
    the inverse correlation matrix."""
    if X.shape[1] == 0:
        return pd.DataFrame({"term": [], "vif": []})
    if X.shape[1] == 1:
        return pd.DataFrame({"term": list(X.columns), "vif": [1.0]})
    return vif_table(list(X.columns), np.corrcoef(X.to_numpy(dtype=float), rowvar=False))


def vif_table(terms: list[str], corr: np.ndarray) -> pd.DataFrame:
    """VIFs as the diagonal of the inverse correlation matrix of the terms."""
    try:
        vif = np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        vif = np.full(len(terms), np.inf)
    return pd.DataFrame({"term": terms, "vif": vif})


def comparison_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One tidy table of the models to compare, named by the dict's keys: odds ratios (tables with
    `or`, `ci_lower`, `ci_upper`) and hazard ratios (Cox tables with `hr`, `hr_ci_lower`,
    `hr_ci_upper`); intercepts and natural-spline terms (`x[ns1]`, ..., read from their partial
    effect, not one by one) left out. Columns: model, measure, term, estimate, ci_lower, ci_upper, p."""
    parts = []
    for name, table in tables.items():
        if table is None or table.empty:
            continue
        if "hr" in table:
            measure, columns = "hazard ratio", ["hr", "hr_ci_lower", "hr_ci_upper"]
        elif "or" in table:
            measure, columns = "odds ratio", ["or", "ci_lower", "ci_upper"]
        else:
            raise ValueError(f"The {name} table has neither an `or` nor an `hr` column.")
        rows = table.loc[(table["term"] != INTERCEPT) & ~table["term"].str.contains(r"\[ns\d+\]$", regex=True)]
        parts.append(pd.DataFrame({
            "model": name, "measure": measure, "term": rows["term"].to_numpy(),
            "estimate": rows[columns[0]].to_numpy(dtype=float), "ci_lower": rows[columns[1]].to_numpy(dtype=float),
            "ci_upper": rows[columns[2]].to_numpy(dtype=float), "p": rows["p"].to_numpy(dtype=float),
        }))
    if not parts:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    return pd.concat(parts, ignore_index=True)[COMPARISON_COLUMNS]


def odds_ratio_sentences(result: LogisticResult | GEEResult, alpha: float = 0.05) -> list[str]:
    """Plain sentences for the terms with p < alpha. "Associated with", never "caused": the data are
    observational."""
    sentences = [spline_sentence(name, spline.df, "odds") for name, spline in result.splines.items()]
    table = result.table.loc[result.table["term"] != INTERCEPT].dropna(subset=["or", "p"])
    for term, ratio, lower, upper, p in table[["term", "or", "ci_lower", "ci_upper", "p"]].itertuples(index=False):
        if p >= alpha or term.split("[", 1)[0] in result.splines:
            continue
        ci = f"95% CI {_number(lower)} to {_number(upper)}"
        owner = term.split("[", 1)[0]
        if "[" in term and owner in result.reference:
            level = term[len(owner) + 1:-1]
            sentences.append(f"{_words(owner).capitalize()} “{level}” (compared with “{result.reference[owner]}”) was "
                             f"associated with {_number(ratio)} times the odds of dropping out ({ci}).")
        elif term in result.markers:
            sentences.append(f"{_words(term).capitalize()} (yes vs no) was associated with {_number(ratio)} times "
                             f"the odds of dropping out ({ci}).")
        else:
            direction = "higher" if ratio > 1 else "lower"
            sentences.append(f"Each one-unit increase in {_words(term)} was associated with {abs(ratio - 1) * 100:.0f}% "
                             f"{direction} odds of dropping out (odds ratio {_number(ratio)}, {ci}).")
    if len(sentences) == len(result.splines):
        return sentences + [f"No {'other ' if result.splines else ''}covariate was clearly associated with the odds "
                            "of dropping out (every 95% interval includes 1)."]
    return sentences


def _number(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _words(name: str) -> str:
    return name.replace("therapist_", "therapist ").replace("_", " ")


def _empty_logistic(model: ModelData, problem: str) -> LogisticResult:
    return LogisticResult(
        **_empty_common(model, problem), auc=float("nan"), calibration=pd.DataFrame(columns=CALIBRATION_COLUMNS),
        vif=pd.DataFrame({"term": [], "vif": []}),
    )


def _empty_gee(model: ModelData, problem: str) -> GEEResult:
    n_clusters = 0 if model.groups is None else int(pd.unique(model.groups).size)
    return GEEResult(
        **_empty_common(model, problem), n_clusters=n_clusters, working_correlation=float("nan"), converged=False,
    )


def _empty_common(model: ModelData, problem: str) -> dict:
    return dict(
        table=empty_table(), n_used=len(model.y), n_left_out=model.design.n_left_out,
        n_unknown_outcome=model.n_unknown_outcome, events=model.events,
        events_per_parameter=model.events_per_parameter, warnings=unique(model.warnings + [problem]),
        reference=model.design.reference, markers=model.markers,
    )
