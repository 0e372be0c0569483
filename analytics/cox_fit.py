"""The numeric core of the Cox model: Efron partial likelihood, Newton-Raphson, score residuals.

Everything works on counting-process data (start, stop], right-censored data being the case
start = -inf. Rows are never looped over: risk-set sums are suffix sums over rows sorted by
(stratum, time), looked up per event time with `searchsorted`; the Efron correction expands each
event time into its d tied deaths (one array entry per death) and sums back with `reduceat`.
The formulas are those of R's survival package (coxfit6/agfit4, coxscore2, zph1), so the
numbers agree with `coxph(..., ties = "efron")`.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RiskSets:
    """Sorting and lookup indices that do not change between Newton iterations."""

    X: np.ndarray  # n x p, centered
    event: np.ndarray  # bool, n
    stratum: np.ndarray  # int codes, n
    start: np.ndarray
    stop: np.ndarray
    order_stop: np.ndarray  # rows by (stratum, stop)
    order_start: np.ndarray  # rows with a finite start by (stratum, start)
    group_time: np.ndarray  # one entry per event time (stratum, time), ascending
    group_stratum: np.ndarray
    deaths: np.ndarray  # number of deaths per group
    death_rows: np.ndarray  # event rows sorted by group
    death_group: np.ndarray  # group of each entry of death_rows
    group_first: np.ndarray  # offset of each group in death_rows
    stop_lo: np.ndarray  # per group: first position in order_stop with stop >= time (same stratum)
    stop_hi: np.ndarray  # per group: end of the stratum in order_stop
    start_lo: np.ndarray
    start_hi: np.ndarray
    row_from: np.ndarray  # per row: groups strictly before index row_from are not at risk-window
    row_to: np.ndarray  # per row: groups [row_from, row_to) fall in (start, stop]
    row_group: np.ndarray  # per row: its own event group (-1 when censored)
    efron_k: np.ndarray = field(default=None)  # one entry per death: fraction k/d of the tie already removed
    efron_group: np.ndarray = field(default=None)


def risk_sets(X: np.ndarray, stop: np.ndarray, event: np.ndarray, stratum: np.ndarray | None = None,
              start: np.ndarray | None = None) -> RiskSets:
    n = len(stop)
    stop = np.asarray(stop, dtype=float)
    start = np.full(n, -np.inf) if start is None else np.asarray(start, dtype=float)
    stratum = np.zeros(n, dtype=np.int64) if stratum is None else np.asarray(stratum, dtype=np.int64)
    event = np.asarray(event, dtype=bool)
    X = np.asarray(X, dtype=float)
    X = X - X.mean(axis=0) if n else X

    # Integer keys (stratum, time rank): one sort order serves every stratum.
    times = np.unique(np.concatenate([stop, start[np.isfinite(start)]]))
    width = len(times) + 1
    key_stop = stratum * width + np.searchsorted(times, stop) + 1
    key_start = stratum * width + np.where(np.isfinite(start), np.searchsorted(times, start) + 1, 0)
    stratum_end = (stratum + 1) * width

    order_stop = np.argsort(key_stop, kind="stable")
    sorted_stop = key_stop[order_stop]
    finite = np.flatnonzero(np.isfinite(start))
    order_start = finite[np.argsort(key_start[finite], kind="stable")]
    sorted_start = key_start[order_start]

    group_key, death_group_of_event = np.unique(key_stop[event], return_inverse=True)
    event_rows = np.flatnonzero(event)
    by_group = np.argsort(death_group_of_event, kind="stable")
    death_rows = event_rows[by_group]
    death_group = death_group_of_event[by_group]
    deaths = np.bincount(death_group, minlength=len(group_key))
    group_first = np.concatenate([[0], np.cumsum(deaths)[:-1]]).astype(np.int64)
    group_stratum = group_key // width
    group_end = (group_stratum + 1) * width

    row_group = np.full(n, -1, dtype=np.int64)
    row_group[death_rows] = death_group
    k = np.arange(len(death_rows)) - group_first[death_group]
    rs = RiskSets(
        X=X, event=event, stratum=stratum, start=start, stop=stop,
        order_stop=order_stop, order_start=order_start,
        group_time=times[group_key % width - 1] if len(group_key) else np.empty(0),
        group_stratum=group_stratum, deaths=deaths, death_rows=death_rows, death_group=death_group,
        group_first=group_first,
        stop_lo=np.searchsorted(sorted_stop, group_key, "left"),
        stop_hi=np.searchsorted(sorted_stop, group_end, "left"),
        start_lo=np.searchsorted(sorted_start, group_key, "left"),
        start_hi=np.searchsorted(sorted_start, group_end, "left"),
        row_from=np.searchsorted(group_key, key_start, "right"),
        row_to=np.searchsorted(group_key, key_stop, "right"),
        row_group=row_group,
    )
    rs.efron_k = k / deaths[death_group] if len(death_rows) else np.empty(0)
    rs.efron_group = death_group
    return rs


def _window_sums(values: np.ndarray, rs: RiskSets) -> np.ndarray:
    """Per event group: the sum of `values` over rows at risk (start < t <= stop, same stratum)."""
    def suffix(order, lo, hi):
        v = values[order]
        s = np.zeros((len(v) + 1,) + v.shape[1:])
        s[:-1] = np.cumsum(v[::-1], axis=0)[::-1]
        return s[lo] - s[hi]
    out = suffix(rs.order_stop, rs.stop_lo, rs.stop_hi)
    if len(rs.order_start):
        out = out - suffix(rs.order_start, rs.start_lo, rs.start_hi)
    return out


def _per_row(group_values: np.ndarray, rs: RiskSets) -> np.ndarray:
    """Per row: the sum of a per-group quantity over the event groups inside the row's (start, stop]."""
    c = np.zeros((len(group_values) + 1,) + group_values.shape[1:])
    c[1:] = np.cumsum(group_values, axis=0)
    return c[rs.row_to] - c[rs.row_from]


def _group_sum(values: np.ndarray, rs: RiskSets) -> np.ndarray:
    """Sum of a per-death quantity within each event group."""
    if len(values) == 0:
        return np.zeros((0,) + values.shape[1:])
    return np.add.reduceat(values, rs.group_first, axis=0)


@dataclass
class EfronTerms:
    loglik: float
    score: np.ndarray
    information: np.ndarray
    r: np.ndarray  # exp(eta - shift)
    denom: np.ndarray  # per death (Efron term)
    means: np.ndarray  # per death, p
    w: np.ndarray  # per group: sum_k 1/denom_k
    v: np.ndarray  # per group: sum_k f_k/denom_k


def efron(beta: np.ndarray, rs: RiskSets, information: bool = True) -> EfronTerms:
    """Log partial likelihood, score and information at `beta` (Efron's approximation for ties)."""
    X = rs.X
    eta = X @ beta
    shift = eta.max() if len(eta) else 0.0
    r = np.exp(eta - shift)
    g = rs.efron_group
    f = rs.efron_k
    R = _window_sums(r, rs)
    A = _window_sums(r[:, None] * X, rs)
    dead = rs.death_rows
    E = _group_sum(r[dead], rs)
    A2 = _group_sum(r[dead, None] * X[dead], rs)
    denom = R[g] - f * E[g]
    means = (A[g] - f[:, None] * A2[g]) / denom[:, None]
    loglik = float(np.sum(eta[dead] - shift) - np.sum(np.log(denom)))
    score = X[dead].sum(axis=0) - means.sum(axis=0)
    w = _group_sum(1.0 / denom, rs)
    v = _group_sum(f / denom, rs)
    info = None
    if information:
        q = r * _per_row(w, rs)
        q[dead] -= r[dead] * v[rs.death_group]
        info = (X * q[:, None]).T @ X - means.T @ means
    return EfronTerms(loglik, score, info, r, denom, means, w, v)


def score_residuals(terms: EfronTerms, rs: RiskSets) -> np.ndarray:
    """Efron score residuals per row (R's residuals(fit, "score")), for the sandwich variance."""
    X, r = rs.X, terms.r
    inv = 1.0 / terms.denom
    m1 = _group_sum(terms.means * inv[:, None], rs)
    mv = _group_sum(terms.means * (rs.efron_k * inv)[:, None], rs)
    mbar = _group_sum(terms.means, rs) / rs.deaths[:, None]
    W = _per_row(terms.w, rs)
    SM = _per_row(m1, rs)
    resid = -r[:, None] * (X * W[:, None] - SM)
    dead, dg = rs.death_rows, rs.death_group
    resid[dead] += X[dead] - mbar[dg]
    resid[dead] += r[dead, None] * (X[dead] * terms.v[dg, None] - mv[dg])
    return resid


def schoenfeld(terms: EfronTerms, rs: RiskSets) -> np.ndarray:
    """Schoenfeld residuals per death (in `rs.death_rows` order): x minus the mean of the Efron means."""
    mbar = _group_sum(terms.means, rs) / rs.deaths[:, None]
    return rs.X[rs.death_rows] - mbar[rs.death_group]


@dataclass
class NewtonResult:
    beta: np.ndarray
    terms: EfronTerms
    loglik_null: float
    iterations: int
    converged: bool
    timed_out: bool
    last_step: np.ndarray


def newton(rs: RiskSets, max_iter: int = 50, time_limit: float = 120.0, tol: float = 1e-12) -> NewtonResult:
    """Newton-Raphson from beta = 0 with step halving when the likelihood falls (as R's coxph)."""
    p = rs.X.shape[1]
    beta = np.zeros(p)
    terms = efron(beta, rs)
    loglik_null = terms.loglik
    started = _time.monotonic()
    step = np.zeros(p)
    converged = timed_out = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        step = _solve(terms.information, terms.score)
        candidate = beta + step
        new = efron(candidate, rs)
        halvings = 0
        while (not np.isfinite(new.loglik) or new.loglik < terms.loglik - 1e-12 * abs(terms.loglik)) and halvings < 30:
            step = step / 2
            candidate = beta + step
            new = efron(candidate, rs)
            halvings += 1
        change = abs(new.loglik - terms.loglik)
        beta, terms = candidate, new
        if change <= tol * max(1.0, abs(new.loglik)) or np.max(np.abs(step), initial=0) < 1e-10:
            converged = True
            break
        if _time.monotonic() - started > time_limit:
            timed_out = True
            break
    last_step = _solve(terms.information, terms.score)
    return NewtonResult(beta, terms, loglik_null, iterations, converged, timed_out, last_step)


def _solve(information: np.ndarray, score: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(information, score)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(information, score, rcond=None)[0]


def inverse(information: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(information)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(information)


def singular_columns(information: np.ndarray, tol: float = 1e-9) -> list[int]:
    """Columns whose information is (near) a combination of earlier ones: a Cholesky with R's
    cholesky2 tolerance, so a covariate constant within every stratum is caught before fitting."""
    p = information.shape[0]
    a = information.astype(float).copy()
    scale = max(np.abs(np.diag(a)).max(initial=0.0), 1e-300)
    bad = []
    for j in range(p):  # p is the number of model terms, not of rows
        pivot = a[j, j]
        if pivot < tol * scale or not np.isfinite(pivot):
            bad.append(j)
            a[j, :] = a[:, j] = 0
            continue
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:]) / pivot
    return bad


def cluster_sums(resid: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    codes, inverse_ = np.unique(cluster, return_inverse=True)
    return np.column_stack([np.bincount(inverse_, weights=resid[:, j], minlength=len(codes))
                            for j in range(resid.shape[1])]) if resid.shape[1] else np.zeros((len(codes), 0))
