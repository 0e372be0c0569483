"""CoxResult and the step shared by every Cox fit: design matrix in, tidy table and warnings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analytics.models.design import Design
from analytics.models.splines import spline_effects, spline_sentence
from analytics.results import NO_COUNTS, Privacy
from analytics.survival import efron
from analytics.survival.concordance import concordance as harrell

TABLE_COLUMNS = ["term", "coef", "hr", "se", "robust_se", "hr_ci_lower", "hr_ci_upper", "p"]
Z95 = stats.norm.ppf(0.975)
MIN_EVENTS_PER_PARAMETER = 10


@dataclass
class ModelData:
    """What later steps (PH test, adjusted curves, captions) need from the fit: the sorted risk
    sets (None when the rows stayed in an engine), the coefficients and model-based variance, how
    model terms map to covariates and which terms are 0/1 markers."""

    risk_sets: efron.RiskSets | None
    beta: np.ndarray
    naive_var: np.ndarray
    center: np.ndarray
    term_covariate: dict[str, str]
    stratum_labels: list
    markers: list[str]
    variance: np.ndarray | None = None  # behind the table's intervals: robust when clustered


@dataclass
class CoxResult:
    """A cause-specific Cox model of the dropout hazard (completion and ongoing episodes censored)."""

    table: pd.DataFrame
    n_used: int
    n_left_out: int
    events: int
    events_per_parameter: float
    loglik: float
    loglik_null: float
    converged: bool
    iterations: int
    warnings: list[str]
    covariates: list[str]
    reference: dict[str, str]
    strata: list[str] | None
    cluster: str | None
    n_clusters: int | None
    model: ModelData | None = field(default=None, repr=False)
    splines: dict = field(default_factory=dict)  # covariate -> NaturalSpline
    partial_effects: dict = field(default_factory=dict)  # covariate -> its effect across its range

    privacy: ClassVar[Privacy] = NO_COUNTS

    @cached_property
    def takeaway(self) -> str:
        """The terms clearly associated with the dropout rate, in plain sentences."""
        return " ".join(hazard_ratio_sentences(self)) if self.model is not None else ""

    def coefficients(self) -> tuple[list[str], np.ndarray, np.ndarray, float]:
        """Terms, coefficients, their covariance (robust when clustered) and the complete-data
        degrees of freedom mice uses for a Cox model (events minus terms): what pooling needs."""
        if self.model is None:
            raise ValueError("This model has no fit (no dropouts), so it cannot be pooled.")
        terms = list(self.table["term"])
        return terms, self.model.beta, self.model.variance, float(max(self.events - len(terms), 1))

    @cached_property
    def concordance(self) -> float:
        """Harrell's C, computed when first asked for: the practice pages fit many models and show none."""
        m = self.model
        if m is None or m.risk_sets is None:
            return float("nan")
        rs = m.risk_sets
        return harrell(rs.stop, rs.event, rs.X @ m.beta, rs.stratum, rs.start).value


def term_covariates(terms: list[str], covariates: list[str], reference: dict[str, str],
                    splines=()) -> dict[str, str]:
    """Model term -> covariate: `referral[self]` belongs to `referral`, `age[ns2]` to `age`, a
    numeric term to itself."""
    out = {}
    for term in terms:
        owner = next((c for c in [*reference, *splines] if term.startswith(f"{c}[")), None)
        out[term] = owner if owner is not None else term
    return out


def fit_design(design: Design, covariates: list[str], stop: np.ndarray, event: np.ndarray,
               stratum: tuple[np.ndarray, list] | None, cluster: np.ndarray | None, cluster_name: str | None,
               strata_names: list[str] | None, start: np.ndarray | None = None, n_left_out: int | None = None,
               time_limit: float = 120.0, weight: np.ndarray | None = None) -> CoxResult:
    """Fit on the rows of `design` (in memory) and assemble the result; model trouble becomes warnings."""
    data = InMemoryRows(design.X.to_numpy(dtype=float), stop, event, stratum, cluster, start, weight)
    return fit_rows(data, list(design.terms), design.warnings, design.reference, covariates, cluster_name,
                    strata_names, design.n_left_out if n_left_out is None else n_left_out, time_limit, design.splines)


class InMemoryRows:
    """The rows of a Cox model held in memory (with case weights when given): the Efron terms come
    from `efron` over the rows. analytics.engines.cox has the same methods with the sums computed
    inside an engine."""

    def __init__(self, X: np.ndarray, stop: np.ndarray, event: np.ndarray, stratum: tuple[np.ndarray, list] | None,
                 cluster: np.ndarray | None, start: np.ndarray | None = None, weight: np.ndarray | None = None):
        self.X, self.stop, self.event, self.stratum, self.cluster, self.start = X, stop, event, stratum, cluster, start
        self.weight = weight
        self.rs = efron.risk_sets(X, stop, event, stratum[0] if stratum is not None else None, start, weight)
        self.n, self.events = len(stop), int(np.sum(event))
        self.cluster_codes = pd.factorize(cluster)[0] if cluster is not None else None
        self.n_clusters = (int(self.cluster_codes.max()) + 1 if cluster is not None and len(self.cluster_codes)
                           else None)

    def evaluate(self, beta: np.ndarray, information: bool = True) -> efron.EfronTerms:
        return efron.efron(beta, self.rs, information)

    def keep(self, columns: list[int]) -> InMemoryRows:
        return InMemoryRows(self.X[:, columns], self.stop, self.event, self.stratum, self.cluster, self.start,
                            self.weight)

    def cluster_scores(self, terms: efron.EfronTerms) -> np.ndarray:
        """(Weighted) score residuals summed per cluster (clusters x terms), for the sandwich variance."""
        resid = efron.score_residuals(terms, self.rs)
        if self.rs.weight is not None:
            resid = resid * self.rs.weight[:, None]
        return efron.cluster_sums(resid, self.cluster_codes[self.rs.perm])

    def model(self, beta: np.ndarray, var: np.ndarray, term_covariate: dict[str, str],
              variance: np.ndarray) -> ModelData:
        X = self.X
        center = X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
        markers = [t for j, t in enumerate(term_covariate) if _holds_marker(X[:, j])]
        labels = self.stratum[1] if self.stratum is not None else []
        return ModelData(self.rs, beta, var, center, term_covariate, labels, markers, variance)


def _holds_marker(values: np.ndarray) -> bool:
    """Every value 0 or 1 to nine decimals (values exactly 0 or 1, most of a design's, need no rounding)."""
    inexact = values[(values != 0.0) & (values != 1.0)]
    return bool(np.all(np.isin(np.round(inexact, 9), (0.0, 1.0))))


def fit_rows(data, terms: list[str], design_warnings: list[str], reference: dict[str, str], covariates: list[str],
             cluster_name: str | None, strata_names: list[str] | None, n_left_out: int,
             time_limit: float = 120.0, splines: dict | None = None) -> CoxResult:
    """The Cox fit on rows held anywhere (`data`: InMemoryRows or an engine's rows), with R's
    checks: inestimable terms left out, few events per term, non-convergence, few clusters,
    separation. `splines` (covariate -> NaturalSpline) are the design's spline bases, whose terms
    are among `terms`."""
    warnings = list(design_warnings)
    splines = dict(splines or {})
    n, events = data.n, data.events
    at_zero = data.evaluate(np.zeros(len(terms))) if events and terms else None
    if at_zero is not None:
        bad = efron.singular_columns(at_zero.information)
        if bad:
            names = [terms[j] for j in bad]
            warnings.append(
                f"{', '.join(names)} cannot be estimated: within the risk sets it is constant or a combination of "
                f"other covariates{' (check that it does not vary only between strata)' if strata_names else ''}, "
                "so it was left out."
            )
            keep = [j for j in range(len(terms)) if j not in bad]
            terms = [terms[j] for j in keep]
            data = data.keep(keep)
            at_zero = None
    p = len(terms)
    epp = events / p if p else float("nan")
    clustered = cluster_name is not None and data.n_clusters is not None
    base = dict(n_used=n, n_left_out=n_left_out, events=events, events_per_parameter=epp,
                covariates=list(covariates), reference=dict(reference), strata=strata_names,
                cluster=cluster_name, n_clusters=data.n_clusters, splines=splines)
    if events == 0:
        warnings.append(f"There are no dropouts among the {n} episodes used, so the dropout hazard cannot be modelled.")
        table = pd.DataFrame({"term": terms}).reindex(columns=TABLE_COLUMNS)
        return CoxResult(table, loglik=float("nan"), loglik_null=float("nan"),
                         converged=False, iterations=0, warnings=warnings, **base)
    if p and epp < MIN_EVENTS_PER_PARAMETER:
        warnings.append(
            f"There are {events} dropouts for {p} model terms ({epp:.1f} per term; at least "
            f"{MIN_EVENTS_PER_PARAMETER} are advised), so the estimates may be unstable: use fewer covariates."
        )
    fit = efron.newton(data.evaluate, p, time_limit=time_limit, start=at_zero)
    if fit.timed_out:
        warnings.append(
            f"The fit was stopped after {time_limit:.0f} seconds before it converged; the estimates are unreliable."
        )
    elif not fit.converged:
        warnings.append(f"The model did not converge in {fit.iterations} iterations; the estimates are unreliable.")
    var = efron.inverse(fit.terms.information) if p else np.zeros((0, 0))
    se = np.sqrt(np.clip(np.diag(var), 0, None))
    robust = np.full(p, np.nan)
    used_var = var
    if clustered and p:
        d = data.cluster_scores(fit.terms) @ var
        used_var = d.T @ d
        robust = np.sqrt(np.diag(used_var))
        if data.n_clusters < 20:
            warnings.append(
                f"There are only {data.n_clusters} {cluster_name} clusters; standard errors clustered on so few groups "
                "can be too small."
            )
    diverging = _diverging(fit, se)
    if diverging.any():
        warnings.append(
            f"The hazard ratio for {', '.join(t for t, d in zip(terms, diverging) if d)} is running off to zero or "
            "infinity (separation: in some group everyone or no one dropped out), so it has no meaningful estimate; "
            "its interval and p-value are left blank. Merge sparse levels or leave the covariate out."
        )
    used_se = robust if clustered else se
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "term": terms, "coef": fit.beta, "hr": np.exp(fit.beta), "se": se, "robust_se": robust,
            "hr_ci_lower": np.exp(fit.beta - Z95 * used_se), "hr_ci_upper": np.exp(fit.beta + Z95 * used_se),
            "p": 2 * stats.norm.sf(np.abs(fit.beta / used_se)),
        }, columns=TABLE_COLUMNS)
    table.loc[diverging, ["hr_ci_lower", "hr_ci_upper", "p"]] = np.nan
    model = data.model(fit.beta, var, term_covariates(terms, covariates, reference, splines), used_var)
    effects = spline_effects(splines, terms, fit.beta, used_var)
    return CoxResult(table, loglik=fit.terms.loglik, loglik_null=fit.loglik_null, converged=fit.converged,
                     iterations=fit.iterations, warnings=warnings, model=model, partial_effects=effects, **base)


def _diverging(fit: efron.NewtonResult, se: np.ndarray) -> np.ndarray:
    """Separation: a coefficient still moving when the likelihood has stopped improving (R's coxph
    "coefficient may be infinite" check), or an estimate/standard error beyond any sensible range."""
    moving = np.abs(fit.last_step) > np.sqrt(1e-9) * np.maximum(1.0, np.abs(fit.beta))
    return moving | (np.abs(fit.beta) > 15) | (se > 1e3) | ~np.isfinite(fit.beta) | ~np.isfinite(se)


def stratum_codes(frame: pd.DataFrame, strata: list[str] | None) -> tuple[np.ndarray, list] | None:
    """Integer stratum codes and their labels: a value, or a tuple of values for several strata
    columns (kept apart, so ("p, q", "r") and ("p", "q, r") stay two strata)."""
    if not strata:
        return None
    if len(strata) == 1:
        codes, labels = pd.factorize(frame[strata[0]].astype(str), sort=True)
        return codes.astype(np.int64), list(labels)
    keys = pd.MultiIndex.from_frame(frame[strata].astype(str))
    codes, labels = pd.factorize(keys, sort=True)
    return codes.astype(np.int64), list(labels)


# How a 0/1 marker reads as the subject of a sentence ("... was associated with dropping out ...").
_MARKER_SUBJECTS = {
    "court_mandated": "Being court-mandated to therapy",
    "trauma_history": "A trauma history",
    "prior_negative_therapy": "A prior negative experience of therapy",
    "telehealth": "Being seen by telehealth",
    "expectations_explained": "Having expectations explained at intake",
    "background_discussed": "Having one's background discussed",
    "goals_agreed": "Agreeing goals with the therapist",
    "approach_adapted": "Having the approach adapted",
    "gender_match": "A therapist of the same gender",
    "ethnicity_match": "A therapist of the same ethnicity",
    "religion_match": "A therapist of the same religion",
    "language_match": "A therapist who speaks the client's language",
    "therapist_trainee": "Being seen by a trainee",
}

# How a numeric covariate reads after "Each one-unit increase in ...".
_NUMBER_LABELS = {
    "srs": "the last known SRS (alliance) score", "srs_first": "the first SRS (alliance) score",
    "srs_mean": "the mean SRS score", "srs_last": "the last SRS score", "srs_min": "the lowest SRS score",
    "wai": "the last known WAI score", "wai_first": "the first WAI score", "wai_mean": "the mean WAI score",
    "ruptures": "the number of alliance ruptures", "age": "age (per year)",
    "age_gap": "the client-therapist age gap (per year)",
    "therapist_experience_years": "the therapist's years of experience",
    **{f"env_{k}": f"the room's {k} rating" for k in ("comfort", "privacy", "noise", "temperature", "seating")},
}


def has_estimate(row) -> bool:
    """A hazard ratio worth quoting: positive and finite, with a finite interval. A separated term
    keeps its running-off estimate but has its interval left blank (fit_rows)."""
    return bool(np.isfinite([row["hr"], row["hr_ci_lower"], row["hr_ci_upper"]]).all() and row["hr"] > 0)


def hazard_ratio_sentences(result: CoxResult, alpha: float = 0.05) -> list[str]:
    """Plain sentences for the terms with p < alpha. "Associated with", never "caused": the data
    are observational."""
    table = result.table.dropna(subset=["hr", "p"])
    sentences = [spline_sentence(name, spline.df, "hazard") for name, spline in result.splines.items()]
    for row in table.itertuples():  # one sentence per model term
        if row.p >= alpha or result.model.term_covariate.get(row.term) in result.splines:
            continue
        ci = f"95% CI {_num(row.hr_ci_lower)} to {_num(row.hr_ci_upper)}"
        owner = result.model.term_covariate.get(row.term, row.term)
        if owner in result.reference:
            level = row.term[len(owner) + 1:-1]
            sentences.append(
                f"{_label(owner).capitalize()} “{level}” (compared with “{result.reference[owner]}”) was associated "
                f"with dropping out at {_num(row.hr)} times the rate ({ci})."
            )
        elif _is_marker(result, row.term):
            subject = _MARKER_SUBJECTS.get(row.term, f"{_label(row.term).capitalize()} (yes vs no)")
            sentences.append(
                f"{subject} was associated with dropping out at {_num(row.hr)} times the rate of other clients ({ci})."
            )
        else:
            change = abs(row.hr - 1) * 100
            direction = "higher" if row.hr > 1 else "lower"
            sentences.append(
                f"Each one-unit increase in {_NUMBER_LABELS.get(row.term, _label(row.term))} was associated with a {change:.0f}% {direction} "
                f"dropout rate (hazard ratio {_num(row.hr)}, {ci})."
            )
    if len(sentences) == len(result.splines):
        return sentences + [f"No {'other ' if result.splines else ''}covariate was clearly associated with the "
                            "dropout rate (every 95% interval includes 1)."]
    return sentences + ["These are associations in observational data, not proof of cause."]


def _num(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _label(name: str) -> str:
    return name.replace("_", " ")


def _is_marker(result: CoxResult, term: str) -> bool:
    """A numeric covariate that takes only the values 0 and 1 in the data used."""
    return term in result.model.markers
