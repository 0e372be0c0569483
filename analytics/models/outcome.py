"""The binary outcome every dropout model shares: dropout (event 1) against planned completion
(event 2) among episodes whose outcome is known, the model terms, and the plain warnings about them.

Ongoing or censored episodes (event 0) have no outcome yet and are left out; the count is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.models.design import Design, build_design
from analytics.proportions import Z95
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT

INTERCEPT = "(Intercept)"
TABLE_COLUMNS = ["term", "or", "ci_lower", "ci_upper", "p"]
MIN_EPV = 10
NO_EVENT = "The episodes table has no `event` column; derive episodes before fitting a model."
EXTREME = 1e-6  # a fitted probability this close to 0 or 1 signals separation


@dataclass
class ModelData:
    """The rows and terms a binary model uses, and the counts a reader needs to judge it."""

    design: Design
    y: np.ndarray
    n_unknown_outcome: int
    events: int
    events_per_parameter: float
    warnings: list[str]
    groups: np.ndarray | None = None

    @property
    def markers(self) -> list[str]:
        """Numeric covariates that are 0/1 markers in the rows used (read as "yes vs no")."""
        X = self.design.X
        return [c for c in X.columns if c in self.design_covariates and X[c].isin((0.0, 1.0)).all()]

    @property
    def design_covariates(self) -> set[str]:
        return {c for c in self.design.X.columns if "[" not in c}

    @property
    def X(self) -> pd.DataFrame:
        """The terms with an intercept column first."""
        X = self.design.X.astype(float)
        return pd.concat([pd.Series(1.0, index=X.index, name=INTERCEPT), X], axis=1)


def known_outcomes(episodes: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """The `columns` (those present) of the episodes that ended in dropout or planned completion, and
    how many episodes were left out. Only a model's columns are copied: a network's episodes have
    about ninety."""
    if "event" not in episodes:
        raise ValueError(NO_EVENT)
    known = episodes["event"].isin((EVENT_DROPOUT, EVENT_COMPLETED)).to_numpy()
    return episodes.loc[known, [c for c in dict.fromkeys(columns) if c in episodes]], int((~known).sum())


def prepare(
    episodes: pd.DataFrame,
    covariates,
    reference_levels: dict[str, str] | None = None,
    cluster: str | None = None,
    splines: dict[str, int] | None = None,
) -> ModelData:
    """Outcome, design matrix and the warnings every binary model shares (missing covariates, constant
    or collinear columns, events per parameter, separation by a single level). Episodes without a
    known outcome are counted in `n_unknown_outcome`: leaving them out is the design, not a problem."""
    covariates = list(dict.fromkeys(covariates))
    extra = [cluster] if cluster else []
    data, n_unknown = known_outcomes(episodes, [*covariates, *extra, "event"])
    design = build_design(data, covariates, reference_levels, extra_columns=extra, splines=splines)
    y = (data.loc[design.rows, "event"].to_numpy() == EVENT_DROPOUT).astype(float)
    events = int(y.sum())
    epv, few = events_per_parameter(events, len(y), design.X.shape[1])
    notes = design.warnings + few + single_level_separation(design.X, y)
    groups = data.loc[design.rows, cluster].to_numpy() if cluster else None
    return ModelData(design, y, n_unknown, events, float(epv), notes, groups)


def events_per_parameter(events: int, n: int, n_params: int) -> tuple[float, list[str]]:
    """Outcomes per model term (counted on the rarer of dropout and completion) and a warning when few."""
    limiting = min(events, n - events)
    epv = limiting / n_params if n_params else float(limiting)
    if n_params and 0 < events < n and epv < MIN_EPV:
        return epv, [
            f"Only {epv:.1f} outcomes per model term (fewer than {MIN_EPV}; counted on the rarer of dropout "
            "and completion): estimates may be unstable. Use fewer covariates or merge rare levels."
        ]
    return epv, []


def unusable(model: ModelData) -> str | None:
    """Why no model can be fitted to these rows, or None."""
    return unusable_counts(len(model.y), model.events, model.X.shape[1])


def unusable_counts(n: int, events: int, n_terms: int) -> str | None:
    """Why no model can be fitted to `n` rows with `events` dropouts and `n_terms` terms (with the intercept), or None."""
    if n == 0:
        return "No episode with a known outcome and complete covariates is left, so no model can be fitted."
    if events in (0, n):
        which = "dropout" if events == 0 else "planned completion"
        return f"No episode in the rows used ended in {which}, so there is nothing to compare; no model was fitted."
    if n <= n_terms:
        return (f"Only {n} episodes for {n_terms} model terms; choose fewer covariates.")
    return None


def odds_ratio_table(terms, coef, se) -> pd.DataFrame:
    """term, or, Wald 95% interval and Wald p-value from log-odds coefficients and standard errors."""
    coef = np.asarray(coef, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        return pd.DataFrame(
            {
                "term": list(terms),
                "or": np.exp(coef),
                "ci_lower": np.exp(coef - Z95 * se),
                "ci_upper": np.exp(coef + Z95 * se),
                "p": 2 * stats.norm.sf(np.abs(coef / se)),
            }
        )


def single_level_separation(X: pd.DataFrame, y: np.ndarray) -> list[str]:
    """0/1 terms (a category level, a marker) whose episodes all dropped out or all completed; more
    than three are summarized in one sentence."""
    if X.shape[1] == 0 or y.sum() in (0, len(y)):
        return []
    values = X.to_numpy(dtype=float)
    binary = np.all((values == 0) | (values == 1), axis=0)
    ones = values[:, binary]
    return separation_sentences(np.asarray(X.columns)[binary], ones.sum(axis=0), (ones * y[:, None]).sum(axis=0),
                                y.sum(), len(y))


def separation_sentences(names, n_one, drop_one, events: int, n: int) -> list[str]:
    """The separation sentences from each 0/1 term's count of ones and of dropouts among them."""
    found = []
    for name, k1, n1, k0, n0 in zip(names, drop_one, n_one, events - np.asarray(drop_one), n - np.asarray(n_one)):
        found += [(name, side, int(n), "dropped out" if k == n else "completed")
                  for k, n, side in ((k1, n1, "with"), (k0, n0, "without")) if n > 0 and k in (0, n)]
    fix = "Merge rare levels with similar ones, drop the covariate, or use a penalized (Firth) model."
    if len(found) > 3:
        listed = ", ".join(name for name, *_ in found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        return [f"{len(found)} terms ({listed}) have episodes that all dropped out or all completed (separation): "
                f"their odds ratios cannot be estimated. {fix}"]
    return [f"Every one of the {n} episodes {side} {name} {outcome} (separation): its odds ratio cannot be "
            f"estimated. {fix}" for name, side, n, outcome in found]


def separation_warnings(params, bse, fitted, caught) -> list[str]:
    """Quasi-separation seen in a fit: fitted probabilities of 0 or 1, or huge coefficients or SEs."""
    names = np.asarray(getattr(params, "index", [f"term {i + 1}" for i in range(len(params))]))
    fitted = np.asarray(fitted, dtype=float)
    extreme = np.sum((fitted < EXTREME) | (fitted > 1 - EXTREME)) if fitted.size else 0
    return quasi_separation(names, params, bse, extreme, any("separation" in str(w.message).lower() for w in caught))


def quasi_separation(names, params, bse, extreme: int, flagged: bool) -> list[str]:
    """The quasi-separation sentence from the fit and the number of fitted probabilities within
    EXTREME of 0 or 1."""
    names = np.asarray(names)
    params, bse = np.asarray(params, dtype=float), np.asarray(bse, dtype=float)
    huge = (np.abs(params) > 10) | ~np.isfinite(bse) | (bse > 50)
    if not (extreme > 0 or huge.any() or flagged):
        return []
    terms = list(names[huge])
    which = f" ({', '.join(map(str, terms))})" if terms else ""
    return [
        f"Some covariate combinations predict dropout or completion perfectly (quasi-separation){which}: those odds "
        "ratios and intervals are not trustworthy. Merge rare levels, drop the covariate, or use a penalized (Firth) model."
    ]


def not_converged(what: str) -> str:
    return (f"{what} did not converge within its iteration limit; the estimates may be wrong. "
            "Use fewer covariates, merge rare levels, or rescale large numeric covariates.")


def unique(notes: list[str]) -> list[str]:
    return list(dict.fromkeys(notes))


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c == "term" else float) for c in TABLE_COLUMNS})
