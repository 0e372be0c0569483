"""The proportional-hazards test of a Cox fit, as R's `cox.zph(fit)` (survival >= 3.0).

For each covariate it is the score test of adding beta(t) = beta + gamma * g(t), with g(t) the
Kaplan-Meier transform of time (1 - S(t-), centred over the dropouts), at (beta_hat, gamma = 0):
one degree of freedom per model term of the covariate, plus a GLOBAL test of all of them. The
scaled Schoenfeld residuals (beta + V^-1 r, with R's per-stratum event-count scaling) estimate
beta(t) and are what the residual plot smooths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.survival import efron


@dataclass
class PHTestResult(Reported):
    table: pd.DataFrame  # term, statistic, df, p (last row GLOBAL)
    residuals: pd.DataFrame  # term, time, residual (scaled Schoenfeld, one row per dropout)
    takeaway: str = ""
    privacy: ClassVar[Privacy] = NO_COUNTS


def ph_test(result, alpha: float = 0.05) -> PHTestResult:
    """Score test of proportional hazards per covariate and globally, and what to do if it fails."""
    m = result.model
    if m is None or not len(m.beta):
        empty = pd.DataFrame(columns=["term", "statistic", "df", "p"])
        return PHTestResult(empty, pd.DataFrame(columns=["term", "time", "residual"]),
                            "There is no fitted covariate to test.")
    rs, beta = m.risk_sets, m.beta
    p = len(beta)
    terms = list(result.table["term"])
    owners = list(dict.fromkeys(m.term_covariate[t] for t in terms))
    columns = [[j for j, t in enumerate(terms) if m.term_covariate[t] == o] for o in owners]

    fit = efron.efron(beta, rs)
    gt = _km_transform(rs)
    dead, dg = rs.death_rows, rs.death_group
    X = rs.X
    g_death = gt[dg]
    u = np.concatenate([np.zeros(p), (g_death[:, None] * (X[dead] - fit.means)).sum(axis=0)])
    blocks = [_information(fit, rs, gt ** e) for e in range(3)]
    imat = np.block([[blocks[0], blocks[1]], [blocks[1], blocks[2]]])

    rows = []
    for owner, jj in zip(owners, columns):  # one test per covariate (a handful)
        kk = list(range(p)) + [j + p for j in jj]
        rows.append((owner, float(u[kk] @ _solve(imat[np.ix_(kk, kk)], u[kk])), len(jj)))
    rows.append(("GLOBAL", float(u @ _solve(imat, u)), p))
    table = pd.DataFrame(rows, columns=["term", "statistic", "df"])
    table["p"] = stats.chi2.sf(table["statistic"], table["df"])
    residuals = _scaled_schoenfeld(fit, rs, beta, blocks[0], owners, columns)
    return PHTestResult(table, residuals, " ".join(_advice(table, alpha, result.strata)), n_used=result.n_used,
                        n_left_out=result.n_left_out)


def _solve(information: np.ndarray, b: np.ndarray) -> np.ndarray:
    """information^-1 b; NaN when the information is singular, as when every dropout falls at one time
    (the time transform is then constant, so a change over time cannot be seen) or there is a single
    dropout. R's cox.zph stops there ("system is exactly singular")."""
    try:
        return np.linalg.solve(information, b)
    except np.linalg.LinAlgError:
        return np.full(np.shape(b), np.nan)


def _km_transform(rs: efron.RiskSets) -> np.ndarray:
    """Per event group: 1 - S(t-) of the pooled Kaplan-Meier curve, centred on its mean over dropouts."""
    stop, start = rs.stop, rs.start
    dead_times = stop[rs.event]
    times, d = np.unique(dead_times, return_counts=True)
    sorted_stop = np.sort(stop)
    sorted_start = np.sort(start[np.isfinite(start)])
    at_risk = (len(stop) - np.searchsorted(sorted_stop, times, "left")) - (
        len(sorted_start) - np.searchsorted(sorted_start, times, "left"))
    surv = np.cumprod(1 - d / at_risk)
    before = np.concatenate([[1.0], surv[:-1]])
    transform = 1 - before[np.searchsorted(times, rs.group_time)]
    mean = np.sum(transform * rs.deaths) / rs.deaths.sum()
    return transform - mean


def _information(fit: efron.EfronTerms, rs: efron.RiskSets, weight: np.ndarray) -> np.ndarray:
    """sum over Efron terms of weight(t) * (weighted covariance of x in the risk set)."""
    r = fit.r
    q = r * efron.per_row(fit.w * weight, rs)
    q[rs.death_rows] -= r[rs.death_rows] * (fit.v * weight)[rs.death_group]
    wk = weight[rs.death_group]
    return (rs.X * q[:, None]).T @ rs.X - (fit.means * wk[:, None]).T @ fit.means


def _scaled_schoenfeld(fit, rs, beta, info, owners, columns) -> pd.DataFrame:
    p = len(beta)
    resid = efron.schoenfeld(fit, rs)
    frame = pd.DataFrame(rs.X + 0.0).assign(stratum=rs.stratum)
    varies = (frame.groupby("stratum").max() != frame.groupby("stratum").min()).to_numpy()
    events = np.bincount(rs.stratum[rs.event], minlength=varies.shape[0])[:, None]
    used = np.where(varies, events, 0)
    wtmat = np.minimum(used[:, :, None], used[:, None, :]).sum(axis=0)
    vmean = info / np.where(wtmat == 0, 1, wtmat)

    combine = np.zeros((p, len(owners)))
    for i, jj in enumerate(columns):  # per covariate: a several-level term is combined through beta
        combine[jj, i] = 1.0 if len(jj) == 1 else beta[jj]
    resid = resid @ combine
    vmean = combine.T @ vmean @ combine
    used = used[:, [jj[0] for jj in columns]]
    death_stratum = rs.stratum[rs.death_rows]
    scaled = np.full_like(resid, np.nan)
    for s in np.unique(death_stratum):  # one solve per stratum (none where it is singular: left out below)
        k = np.flatnonzero(used[s] > 0)
        mine = death_stratum == s
        if len(k):
            scaled[np.ix_(mine, k)] = _solve(vmean[np.ix_(k, k)], resid[np.ix_(mine, k)].T).T
    scaled += np.array([beta[jj[0]] if len(jj) == 1 else 1.0 for jj in columns])
    time = rs.stop[rs.death_rows]
    long = pd.DataFrame({
        "term": np.repeat(owners, len(time)),
        "time": np.tile(time, len(owners)),
        "residual": scaled.T.ravel(),
    })
    return long.dropna(subset=["residual"]).reset_index(drop=True)


def _advice(table: pd.DataFrame, alpha: float, strata) -> list[str]:
    if table["p"].isna().any():
        untested = table.loc[table["p"].isna() & (table["term"] != "GLOBAL"), "term"].str.replace("_", " ").tolist()
        return [f"The proportional-hazards test could not be computed for {', '.join(untested) or 'the model as a whole'}: "
                "the dropouts fall at too few different times to show a change over the course of therapy."]
    failing = table[(table["term"] != "GLOBAL") & (table["p"] < alpha)]
    advice = [
        f"The association of {row.term.replace('_', ' ')} with dropout appears to change over the course of "
        f"therapy (proportional-hazards test p = {row.p:.3f}). Consider stratifying on it (strata=\"{row.term}\") "
        "if it is not of interest itself, splitting time (separate estimates for early and later sessions), "
        "or adding its interaction with time."
        for row in failing.itertuples()
    ]
    global_p = float(table.loc[table["term"] == "GLOBAL", "p"].iloc[0])
    if not advice and global_p < alpha:
        advice.append(
            f"Taken together the covariates' associations appear to change over time (global test p = {global_p:.3f}), "
            "although no single covariate stands out; read the hazard ratios as averages over follow-up."
        )
    if not advice:
        advice.append("No covariate shows a clear departure from proportional hazards.")
    return advice
