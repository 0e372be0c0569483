"""Multiple imputation by chained equations for missing covariates, pooled by Rubin's rules.

Complete cases stay the default everywhere; this is the alternative when covariates are missing
for many clients. Imputation is statsmodels' `MICEData` (chained linear models with predictive
mean matching, so a 0/1 marker or a 1-5 rating is filled with a value that occurs in the data).
The imputation model includes the outcome, as it must (White, Royston & Wood 2011, Stat Med
30:377): the dropout indicator and the Nelson-Aalen cumulative hazard at the episode's duration
(White & Royston 2009, Stat Med 28:1982). Numeric covariates (markers, ratings, scores) are
imputed; episodes missing a text category are still left out, and the result says how many.

Each completed data set is fitted by the model's own function; `rubin` pools the fits as R's
`mice::pool`: the mean estimate, total variance T = U + (1 + 1/m) B, and Barnard-Rubin degrees of
freedom with the complete-data df (events minus terms for a Cox model, rows minus terms for a
logistic model, as mice's get.dfcom).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.imputation.mice import MICEData

from analytics.models.design import is_categorical
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.schema import EVENT_DROPOUT

POOLED_COLUMNS = ["term", "coef", "ratio", "se", "ci_lower", "ci_upper", "p", "df", "fmi"]
DEFAULT_IMPUTATIONS = 20
BURN_IN, BETWEEN = 10, 5  # chained-equation cycles before the first data set and between data sets


@dataclass
class PooledResult(Reported):
    """A model fitted on each imputed data set and pooled by Rubin's rules."""

    table: pd.DataFrame
    model: str = ""
    imputations: int = 0
    n_imputed: int = 0  # episodes with at least one filled-in value
    takeaway: str = ""
    privacy: ClassVar[Privacy] = NO_COUNTS


def impute(episodes: pd.DataFrame, covariates, imputations: int = DEFAULT_IMPUTATIONS,
           seed: int = 2026) -> tuple[list[pd.DataFrame], int, list[str]]:
    """`imputations` completed copies of `episodes` (numeric covariates filled in), how many
    episodes had a value filled in, and warnings."""
    numeric = [c for c in covariates if not is_categorical(episodes[c])]
    missing = [c for c in numeric if episodes[c].isna().any()]
    warnings = []
    text_missing = [c for c in covariates if c not in numeric and episodes[c].isna().any()]
    if text_missing:
        warnings.append(f"{', '.join(text_missing)} {'is' if len(text_missing) == 1 else 'are'} text and not imputed: "
                        "episodes missing it are still left out.")
    if not missing:
        return [episodes] * imputations, 0, warnings + ["No numeric covariate is missing, so nothing was imputed."]
    usable = episodes["duration"].notna() & episodes["event"].notna()
    frame = pd.DataFrame({f"x{j}": pd.to_numeric(episodes.loc[usable, c], errors="coerce")
                          for j, c in enumerate(numeric)})
    frame["dropout"] = (episodes.loc[usable, "event"] == EVENT_DROPOUT).astype(float)
    frame["hazard"] = nelson_aalen(episodes.loc[usable, "duration"].to_numpy(float), frame["dropout"].to_numpy())
    chain = MICEData(frame, rng=np.random.default_rng(seed))
    chain.update_all(BURN_IN)
    datasets = []
    for k in range(imputations):
        if k:
            chain.update_all(BETWEEN)
        filled = episodes.copy()
        for j, c in enumerate(numeric):
            filled.loc[usable, c] = chain.data[f"x{j}"].to_numpy()
        datasets.append(filled)
    n_imputed = int(episodes.loc[usable, missing].isna().any(axis=1).sum())
    return datasets, n_imputed, warnings


def nelson_aalen(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Cumulative hazard of dropout at each episode's own time (ties: all who leave at t are at risk at t)."""
    times, at = np.unique(time, return_inverse=True)
    deaths = np.bincount(at, weights=event, minlength=len(times))
    at_risk = len(time) - np.searchsorted(np.sort(time), times, "left")
    return np.cumsum(deaths / at_risk)[at]


def rubin(estimates: np.ndarray, covariances: np.ndarray, dfcom: float) -> pd.DataFrame:
    """Rubin's rules with Barnard-Rubin df, as mice::pool: columns estimate, se, df, p, ci and
    the fraction of missing information (fmi), one row per term."""
    estimates, covariances = np.asarray(estimates, float), np.asarray(covariances, float)
    m = len(estimates)
    qbar = estimates.mean(axis=0)
    ubar = np.array([np.diag(c) for c in covariances]).mean(axis=0)
    b = estimates.var(axis=0, ddof=1) if m > 1 else np.zeros_like(qbar)
    t = ubar + (1 + 1 / m) * b
    lam = np.maximum((1 + 1 / m) * b / t, 1e-4)
    dfold = (m - 1) / lam**2
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    df = dfold if np.isinf(dfcom) else dfold * dfobs / (dfold + dfobs)
    riv = (1 + 1 / m) * b / ubar
    se = np.sqrt(t)
    q = stats.t.ppf(0.975, df)
    return pd.DataFrame({"estimate": qbar, "se": se, "df": df, "p": 2 * stats.t.sf(np.abs(qbar / se), df),
                         "ci_lower": qbar - q * se, "ci_upper": qbar + q * se,
                         "fmi": (riv + 2 / (df + 3)) / (riv + 1)})


def pooled_fit(episodes: pd.DataFrame, covariates, fit: Callable, model: str, ratio: str,
               imputations: int = DEFAULT_IMPUTATIONS, seed: int = 2026) -> PooledResult:
    """`fit(data)` on each imputed data set, pooled. `fit` returns a result with
    `coefficients()` -> (terms, coef, covariance, complete-data df), e.g. fit_cox or fit_logistic."""
    datasets, n_imputed, warnings = impute(episodes, list(covariates), imputations, seed)
    fits = [fit(d) for d in datasets]
    first = fits[0]
    terms, _, _, dfcom = first.coefficients()
    pieces = [f.coefficients() for f in fits]
    if any(p[0] != terms for p in pieces):
        raise ValueError("The imputed data sets gave models with different terms, so they cannot be pooled.")
    pooled = rubin([p[1] for p in pieces], [p[2] for p in pieces], dfcom)
    table = pd.DataFrame({
        "term": terms, "coef": pooled["estimate"], "ratio": np.exp(pooled["estimate"]), "se": pooled["se"],
        "ci_lower": np.exp(pooled["ci_lower"]), "ci_upper": np.exp(pooled["ci_upper"]), "p": pooled["p"],
        "df": pooled["df"], "fmi": pooled["fmi"]}, columns=POOLED_COLUMNS)
    warnings = warnings + [w for w in first.warnings if "chosen covariate is missing" not in w]
    result = PooledResult(table, model, imputations, n_imputed, warnings=list(dict.fromkeys(warnings)),
                          n_used=first.n_used, n_left_out=len(episodes) - first.n_used)
    clear = table.loc[table["p"] < 0.05, "term"].tolist()
    result.takeaway = (
        f"{model} on {imputations} imputed data sets ({n_imputed:,} episodes had a missing value filled in), pooled by "
        f"Rubin's rules ({ratio} in the ratio column). "
        + (f"Clearly associated with dropout: {', '.join(clear)}." if clear else
           "No term is clearly associated with dropout (every 95% interval includes 1).")
    )
    return result
