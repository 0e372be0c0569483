"""Fine-Gray subdistribution hazard regression of dropout, with planned completion as the
competing event (Fine & Gray 1999, JASA 94:496).

The cause-specific Cox model (`cox.fit_cox`) answers "among clients still in therapy, what goes
with a higher dropout rate?"; this model answers "what goes with a higher share of clients who
end up dropping out?" (the cumulative incidence). Completers stay in the risk set with a weight
G(t)/G(T_i), G being the Kaplan-Meier curve of the censoring times, so a covariate that speeds
completion lowers the subdistribution hazard of dropout even when it does not touch the dropout
rate itself.

The numerics are those of R's `cmprsk::crr` (Breslow ties; censoring curve evaluated just before
each time; the sandwich variance with the part from estimating G), written as cumulative sums
over the sorted times instead of nested loops. Times that differ only by floating-point noise are
merged first (R's `timefix`, as for every survival analysis here; crr itself compares them raw,
which only matters for such near-ties). With a cluster (therapist) the per-client
influence terms are summed within clusters before the sandwich, the usual clustered extension
(R has no `crr` equivalent; survival::finegray + coxph(cluster = ) is the nearest check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analytics.models.design import build_design
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT
from analytics.survival import efron
from analytics.survival.cox_results import MIN_EVENTS_PER_PARAMETER, Z95
from analytics.episodes import check_event_coding, timefix

TABLE_COLUMNS = ["term", "coef", "shr", "se", "shr_ci_lower", "shr_ci_upper", "p"]
QUESTION = ("Subdistribution hazard ratios (Fine-Gray): what goes with a higher share of clients who end up "
            "dropping out, with completion as the competing ending.")
_EPS = np.finfo(float).eps


@dataclass
class FineGrayResult(Reported):
    """Subdistribution hazard ratios of dropout (completion competing)."""

    table: pd.DataFrame
    events: int = 0
    competing: int = 0
    converged: bool = False
    iterations: int = 0
    cluster: str | None = None
    n_clusters: int | None = None
    question: str = QUESTION
    privacy: ClassVar[Privacy] = NO_COUNTS

    @property
    def takeaway(self) -> str:
        clear = self.table.dropna(subset=["p"]).query("p < 0.05")
        if clear.empty:
            return ("No covariate was clearly associated with the share of clients who end up dropping out "
                    "(every 95% interval of the subdistribution hazard ratio includes 1).")
        return " ".join(
            f"{row.term.replace('_', ' ')}: subdistribution hazard ratio {row.shr:.2f} (95% CI "
            f"{row.shr_ci_lower:.2f} to {row.shr_ci_upper:.2f}), i.e. a {'higher' if row.shr > 1 else 'lower'} "
            "cumulative incidence of dropout." for row in clear.itertuples()
        ) + " These are associations in observational data, not proof of cause."


def fit_fine_gray(episodes: pd.DataFrame, covariates, reference_levels: dict[str, str] | None = None,
                  cluster: str | None = None, duration: str = "duration", event: str = "event",
                  splines: dict[str, int] | None = None) -> FineGrayResult:
    """Fine-Gray model of dropout (event 1) with completion (event 2) competing and ongoing
    episodes (event 0) censored, on complete cases; equals `cmprsk::crr(duration, event, X)`.
    `splines`: numeric covariates as natural splines, as in the Cox model."""
    covariates = list(covariates)
    extra = [duration, event] + ([cluster] if cluster else [])
    if event in episodes:
        check_event_coding(episodes[event], event)
    design = build_design(episodes, covariates, reference_levels, extra_columns=extra, splines=splines)
    rows = episodes.loc[design.rows]
    time = pd.to_numeric(rows[duration], errors="coerce").to_numpy(dtype=float)
    status = pd.to_numeric(rows[event], errors="coerce").to_numpy(dtype=float)
    usable = (time >= 0) & np.isin(status, (0, EVENT_DROPOUT, EVENT_COMPLETED))
    warnings = list(design.warnings)
    if (~usable).any():
        warnings.append(f"{int((~usable).sum())} episodes without a usable {duration} or {event} were left out.")
    X = design.X.to_numpy(dtype=float)[usable]
    time, status = timefix(time[usable])[0], status[usable].astype(int)
    groups = pd.factorize(rows[cluster].to_numpy()[usable])[0] if cluster else None
    terms = list(design.terms)
    events, competing = int((status == EVENT_DROPOUT).sum()), int((status == EVENT_COMPLETED).sum())
    base = dict(warnings=warnings, n_used=len(time), n_left_out=design.n_left_out + int((~usable).sum()),
                events=events, competing=competing, cluster=cluster,
                n_clusters=int(groups.max()) + 1 if groups is not None and len(groups) else None)
    if events == 0 or not terms:
        warnings.append("There are no dropouts to model." if events == 0 else "There are no covariates to model.")
        return FineGrayResult(pd.DataFrame({"term": terms}).reindex(columns=TABLE_COLUMNS), **base)
    if events / len(terms) < MIN_EVENTS_PER_PARAMETER:
        warnings.append(f"There are {events} dropouts for {len(terms)} model terms; at least "
                        f"{MIN_EVENTS_PER_PARAMETER} per term are advised, so the estimates may be unstable.")
    data = _Sorted(X, time, status, groups)
    beta, converged, iterations = _newton(data)
    if not converged:
        warnings.append(f"The Fine-Gray model did not converge in {iterations} iterations; the estimates are unreliable.")
    se = np.sqrt(np.clip(np.diag(_sandwich(data, beta)), 0, None))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "term": terms, "coef": beta, "shr": np.exp(beta), "se": se,
            "shr_ci_lower": np.exp(beta - Z95 * se), "shr_ci_upper": np.exp(beta + Z95 * se),
            "p": 2 * stats.norm.sf(np.abs(beta / se)),
        }, columns=TABLE_COLUMNS)
    return FineGrayResult(table, converged=converged, iterations=iterations, **base)


class _Sorted:
    """Rows sorted by time, the censoring curve G just before each time (as crr), and the
    distinct dropout times with their counts."""

    def __init__(self, X, time, status, groups):
        order = np.argsort(time, kind="stable")
        self.X = X[order] - X.mean(axis=0)
        self.time, self.status = time[order], status[order]
        self.groups = None if groups is None else groups[order]
        self.G = censoring_before(self.time, self.status == 0)
        fail = self.status == EVENT_DROPOUT
        self.fail_times, self.d = np.unique(self.time[fail], return_counts=True)
        first = np.searchsorted(self.time, self.fail_times, "left")  # first row at each dropout time
        self.G_fail = self.G[first]
        self.at_risk_from = first  # rows [first, n) have time >= t
        self.fail_index = np.searchsorted(self.fail_times, self.time)  # for dropouts: their time's index
        self.competing = (self.status == EVENT_COMPLETED) / self.G


def censoring_before(time: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Kaplan-Meier curve of the censoring times, read at time * (1 - 100 eps) as crr reads it
    (just before each time, and at 0 itself for time 0); `time` sorted."""
    times, at = np.unique(time, return_inverse=True)
    c = np.bincount(at, weights=censored.astype(float), minlength=len(times))
    n = len(time) - np.searchsorted(time, times, "left")
    curve = np.cumprod(1 - c / n)
    i = np.searchsorted(times, time * (1 - 100 * _EPS), "right") - 1
    return np.where(i >= 0, curve[np.maximum(i, 0)], 1.0)


def _suffix(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    total = np.concatenate([np.cumsum(values[::-1], axis=0)[::-1], np.zeros((1,) + values.shape[1:])])
    return total[start]


def _prefix(values: np.ndarray, stop: np.ndarray) -> np.ndarray:
    total = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    return total[stop]


def _risk_sums(data: _Sorted, r: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per dropout time t: sum of r * values over the weighted risk set (time >= t, weight 1;
    completed before t, weight G(t-)/G(T_i-))."""
    start = data.at_risk_from
    weight = (r * data.competing).reshape((-1,) + (1,) * (values.ndim - 1))
    late = _suffix(r.reshape(weight.shape) * values, start)
    early = _prefix(weight * values, start)
    return late + data.G_fail.reshape((-1,) + (1,) * (values.ndim - 1)) * early


def _terms(data: _Sorted, beta: np.ndarray, information: bool = True):
    X = data.X
    eta = X @ beta
    r = np.exp(eta)
    S0 = _risk_sums(data, r, np.ones(len(r)))
    S1 = _risk_sums(data, r, X)
    xbar = S1 / S0[:, None]
    fail = data.status == EVENT_DROPOUT
    loglik = float(eta[fail].sum() - data.d @ np.log(S0))
    score = X[fail].sum(axis=0) - data.d @ xbar
    info = None
    if information:
        S2 = _risk_sums(data, r, X[:, :, None] * X[:, None, :])
        info = np.einsum("k,kij->ij", data.d / S0, S2) - (xbar * data.d[:, None]).T @ xbar
    return loglik, score, info, r, S0, xbar


def _newton(data: _Sorted, max_iter: int = 50) -> tuple[np.ndarray, bool, int]:
    """Newton-Raphson with step halving from beta = 0 (the pseudo log likelihood is concave)."""
    beta = np.zeros(data.X.shape[1])
    loglik, score, info, *_ = _terms(data, beta)
    for iteration in range(1, max_iter + 1):
        step = efron._solve(info, score)
        for _ in range(30):
            new = _terms(data, beta + step)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2
        beta = beta + step
        loglik, score, info = new[:3]
        if np.max(np.abs(step)) < 1e-10 * max(1.0, np.max(np.abs(beta))):
            return beta, True, iteration
    return beta, False, max_iter


def _sandwich(data: _Sorted, beta: np.ndarray) -> np.ndarray:
    """crr's variance: H^-1 (sum over clients, or clusters, of (eta_i + psi_i)(eta_i + psi_i)') H^-1,
    eta_i the client's score contribution and psi_i the part from estimating G."""
    _, _, info, r, S0, xbar = _terms(data, beta)
    X, time, status, G = data.X, data.time, data.status, data.G
    fail = status == EVENT_DROPOUT
    d_over = data.d / S0
    # up to and including the client's own time: weight 1 in every dropout risk set
    upto = np.searchsorted(data.fail_times, time, "right")
    A, B = _prefix(d_over, upto), _prefix(d_over[:, None] * xbar, upto)
    U = -r[:, None] * (X * A[:, None] - B)
    U[fail] += X[fail] - xbar[data.fail_index[fail]]
    # completed clients stay in later risk sets with weight G(t-)/G(T_i-)
    gd = d_over * data.G_fail
    Ag = _suffix(gd, upto)
    Bg = _suffix(gd[:, None] * xbar, upto)
    done = status == EVENT_COMPLETED
    U[done] -= (r[done] / G[done])[:, None] * (X[done] * Ag[done, None] - Bg[done])
    U += _censoring_part(data, r, gd, xbar)
    if data.groups is not None:
        U = efron.cluster_sums(U, data.groups)
    inverse = efron.inverse(info)
    return inverse @ (U.T @ U) @ inverse


def _censoring_part(data: _Sorted, r: np.ndarray, gd: np.ndarray, xbar: np.ndarray) -> np.ndarray:
    """psi_i: how each client moves the estimate through the censoring curve G, integrated against
    the censoring martingale (q(u)/Y(u) at the client's own censoring, minus the compensator)."""
    time, status, X = data.time, data.status, data.X
    censored = status == 0
    p = X.shape[1]
    if not censored.any():
        return np.zeros((len(time), p))
    u, c = np.unique(time[censored], return_counts=True)
    Y = len(time) - np.searchsorted(time, u, "left")
    before = np.searchsorted(time, u, "left")  # rows with time < u
    C0 = _prefix(r * data.competing, before)
    C1 = _prefix((r * data.competing)[:, None] * X, before)
    from_u = np.searchsorted(data.fail_times, u, "left")  # dropout times >= u
    q = C1 * _suffix(gd, from_u)[:, None] - C0[:, None] * _suffix(gd[:, None] * xbar, from_u)
    compensator = np.cumsum(q * (c / Y**2)[:, None], axis=0)
    upto = np.searchsorted(u, time, "right")
    psi = -np.concatenate([np.zeros((1, p)), compensator])[upto]
    own = np.searchsorted(u, time[censored])
    psi[censored] += q[own] / Y[own, None]
    return psi
