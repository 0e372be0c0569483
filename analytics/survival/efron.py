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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class RiskSets:
    """The rows sorted by (stratum, stop) and the lookup indices that do not change between Newton
    iterations. Every per-row array here is in sorted order; `perm` maps back (row i here is
    input row perm[i])."""

    perm: np.ndarray
    X: np.ndarray  # n x p, centered
    X_dead: np.ndarray  # X[death_rows], taken once for every Newton iteration
    X_dead_sum: np.ndarray  # its column sums, the score's constant part (unweighted)
    event: np.ndarray  # bool
    stratum: np.ndarray  # int codes
    start: np.ndarray
    stop: np.ndarray
    group_time: np.ndarray  # one entry per event time (stratum, time), ascending
    group_stratum: np.ndarray
    deaths: np.ndarray  # number of deaths per group
    death_rows: np.ndarray  # event rows, grouped by event time
    death_group: np.ndarray  # group of each entry of death_rows
    group_first: np.ndarray  # offset of each group in death_rows
    efron_k: np.ndarray  # per death: fraction k/d of the tie already removed (Efron)
    row_from: np.ndarray  # per row: the event groups inside (start, stop] are [row_from, row_to)
    row_to: np.ndarray
    stop_window: tuple  # segment bounds and per-group lookups for rows with stop >= t
    start_window: tuple | None  # the same for rows with start >= t (counting-process data)
    order_start: np.ndarray | None
    weight: np.ndarray | None = None  # case weights (None: every row counts once)


def _sort_order(keys: np.ndarray) -> np.ndarray:
    """Stable argsort; small integer keys go through numpy's O(n) radix sort."""
    if len(keys) and keys.min() >= 0 and keys.max() < 2**16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    return np.argsort(keys, kind="stable")


def _rows(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] along the first axis: `take` gathers a 2-d table's rows several times faster
    than fancy indexing (5.4 ms against 1.5 ms for 88,000 rows by 12)."""
    return np.take(values, index, axis=0)


def dense_rank(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's index among them (hash-based: fast with many ties)."""
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(uniques), codes.astype(np.int64)


def _window(sorted_keys: np.ndarray, group_key: np.ndarray, group_end: np.ndarray) -> tuple:
    """Segments of the sorted rows such that every group's window [first key >= its key, stratum
    end) is a run of whole segments: sums then cost one `reduceat` pass plus a small cumsum."""
    n = len(sorted_keys)
    lo = np.searchsorted(sorted_keys, group_key, "left")
    hi = np.searchsorted(sorted_keys, group_end, "left")
    bounds = np.unique(np.concatenate([[0], lo, hi]))
    bounds = bounds[bounds < n]
    return bounds, np.searchsorted(bounds, lo), np.searchsorted(bounds, hi)


def risk_sets(X: np.ndarray, stop: np.ndarray, event: np.ndarray, stratum: np.ndarray | None = None,
              start: np.ndarray | None = None, weight: np.ndarray | None = None) -> RiskSets:
    n = len(stop)
    stop = np.asarray(stop, dtype=float)
    start = np.full(n, -np.inf) if start is None else np.asarray(start, dtype=float)
    stratum = np.zeros(n, dtype=np.int64) if stratum is None else np.asarray(stratum, dtype=np.int64)
    event = np.asarray(event, dtype=bool)

    # Integer keys (stratum, time rank); rank 0 stands for "no start" (right-censored rows).
    finite = np.isfinite(start)
    times, ranks = dense_rank(np.concatenate([stop, start[finite]]))
    width = len(times) + 1
    key_stop = stratum * width + ranks[:n] + 1
    key_start = stratum * width
    key_start[finite] += ranks[n:] + 1

    perm = _sort_order(key_stop)
    X = _rows(np.asarray(X, dtype=float), perm)
    center = X.mean(axis=0) if n else 0.0
    X = np.asfortranarray(X)  # by column: the risk sums over rows run several times faster
    X -= center
    stop, start, event, stratum = stop[perm], start[perm], event[perm], stratum[perm]
    key_stop, key_start, finite = key_stop[perm], key_start[perm], finite[perm]

    death_rows = np.flatnonzero(event)  # already grouped: rows are sorted by key
    X_dead = _rows(X, death_rows)
    group_key, group_first, deaths = np.unique(key_stop[death_rows], return_index=True, return_counts=True)
    death_group = np.repeat(np.arange(len(group_key)), deaths)
    group_stratum = group_key // width
    group_end = (group_stratum + 1) * width
    order_start = None
    start_window = None
    if finite.any():
        order_start = np.flatnonzero(finite)[_sort_order(key_start[finite])]
        start_window = _window(key_start[order_start], group_key, group_end)
    return RiskSets(
        perm=perm, X=X, event=event, stratum=stratum, start=start, stop=stop,
        group_time=times[group_key % width - 1] if len(group_key) else np.empty(0),
        group_stratum=group_stratum, deaths=deaths, death_rows=death_rows, death_group=death_group,
        group_first=group_first.astype(np.int64),
        efron_k=(np.arange(len(death_rows)) - group_first[death_group]) / deaths[death_group]
        if len(death_rows) else np.empty(0),
        row_from=np.searchsorted(group_key, key_start, "right"),
        row_to=np.searchsorted(group_key, key_stop, "right"),
        stop_window=_window(key_stop, group_key, group_end),
        start_window=start_window, order_start=order_start,
        weight=None if weight is None else np.asarray(weight, dtype=float)[perm],
        X_dead=X_dead, X_dead_sum=X_dead.sum(axis=0),
    )


def _segment_sums(values: np.ndarray, window: tuple) -> np.ndarray:
    bounds, lo, hi = window
    shape = (len(bounds) + 1,) + values.shape[1:]
    suffix = np.zeros(shape)
    if len(bounds):
        seg = np.add.reduceat(values, bounds, axis=0)
        suffix[:-1] = np.cumsum(seg[::-1], axis=0)[::-1]
    return suffix[lo] - suffix[hi]


def _window_sums(values: np.ndarray, rs: RiskSets) -> np.ndarray:
    """Per event group: the sum of `values` over rows at risk (start < t <= stop, same stratum)."""
    out = _segment_sums(values, rs.stop_window)
    if rs.start_window is not None:
        out = out - _segment_sums(values[rs.order_start], rs.start_window)
    return out


def per_row(group_values: np.ndarray, rs: RiskSets) -> np.ndarray:
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
    shift: float  # max(eta), taken out of every exp against overflow
    denom: np.ndarray  # per death (Efron term)
    means: np.ndarray  # per death, p
    w: np.ndarray  # per group: sum_k 1/denom_k
    v: np.ndarray  # per group: sum_k f_k/denom_k
    hazard: np.ndarray  # per death: its share of the hazard step, 1/denom (weights: mean death weight/denom)


def efron(beta: np.ndarray, rs: RiskSets, information: bool = True) -> EfronTerms:
    """Log partial likelihood, score and information at `beta` (Efron's approximation for ties).
    With case weights, as R's coxfit6/agfit4: rows enter the risk sums with weight * risk, and each
    of a time's d Efron terms counts with the mean weight of its deaths."""
    X = rs.X
    eta = X @ beta
    shift = eta.max() if len(eta) else 0.0
    r = np.exp(eta - shift)
    g = rs.death_group
    f = rs.efron_k
    dead = rs.death_rows
    rw = r if rs.weight is None else r * rs.weight
    rX = rw[:, None] * X
    R = _window_sums(rw, rs)
    A = _window_sums(rX, rs)
    E = _group_sum(rw[dead], rs)
    A2 = _group_sum(rw[dead][:, None] * rs.X_dead, rs)  # = rX[dead]: the same products
    denom = R[g] - f * E[g]
    means = (_rows(A, g) - f[:, None] * _rows(A2, g)) / denom[:, None]
    if rs.weight is None:
        loglik = float(np.sum(eta[dead] - shift) - np.sum(np.log(denom)))
        score = rs.X_dead_sum - means.sum(axis=0)
        hazard = 1.0 / denom
    else:
        died = rs.weight[dead]
        mean_weight = (_group_sum(died, rs) / rs.deaths)[g]
        loglik = float(np.sum(died * (eta[dead] - shift)) - np.sum(mean_weight * np.log(denom)))
        score = (died[:, None] * rs.X_dead).sum(axis=0) - (mean_weight[:, None] * means).sum(axis=0)
        hazard = mean_weight / denom
    w = _group_sum(hazard, rs)
    v = _group_sum(f * hazard, rs)
    info = None
    if information:
        q = rw * per_row(w, rs)
        q[dead] -= rw[dead] * v[rs.death_group]
        half = X * np.sqrt(np.clip(q, 0, None))[:, None]  # q >= 0: the product is a symmetric rank-k update
        weighted_means = means if rs.weight is None else means * np.sqrt(hazard * denom)[:, None]
        info = half.T @ half - weighted_means.T @ weighted_means
    return EfronTerms(loglik, score, info, r, shift, denom, means, w, v, hazard)


def baseline_hazard(beta: np.ndarray, rs: RiskSets) -> np.ndarray:
    """Per event group: the Efron-type hazard increment at the covariate means (R's survfit.coxph)."""
    terms = efron(beta, rs, information=False)
    return terms.w * np.exp(-terms.shift)


def score_residuals(terms: EfronTerms, rs: RiskSets) -> np.ndarray:
    """Efron score residuals per row (R's residuals(fit, "score")), for the sandwich variance
    (with case weights, multiply by the weight before summing, as R's dfbeta residuals)."""
    X, r = rs.X, terms.r
    inv = terms.hazard
    m1 = _group_sum(terms.means * inv[:, None], rs)
    mv = _group_sum(terms.means * (rs.efron_k * inv)[:, None], rs)
    mbar = _group_sum(terms.means, rs) / rs.deaths[:, None]
    W = per_row(terms.w, rs)
    SM = per_row(m1, rs)
    resid = X * W[:, None]  # -r (X W - SM), in place
    resid -= SM
    resid *= -r[:, None]
    dead, dg = rs.death_rows, rs.death_group
    resid[dead] += rs.X_dead - _rows(mbar, dg)
    resid[dead] += r[dead, None] * (rs.X_dead * terms.v[dg, None] - _rows(mv, dg))
    return resid


def schoenfeld(terms: EfronTerms, rs: RiskSets) -> np.ndarray:
    """Schoenfeld residuals per death (in `rs.death_rows` order): x minus the mean of the Efron means."""
    mbar = _group_sum(terms.means, rs) / rs.deaths[:, None]
    return rs.X_dead - _rows(mbar, rs.death_group)


@dataclass
class NewtonResult:
    beta: np.ndarray
    terms: EfronTerms
    loglik_null: float
    iterations: int
    converged: bool
    timed_out: bool
    last_step: np.ndarray


def newton(evaluate: Callable[[np.ndarray], EfronTerms], p: int, max_iter: int = 50, time_limit: float = 120.0,
           tol: float = 1e-9, start: EfronTerms | None = None) -> NewtonResult:
    """Newton-Raphson from beta = 0 (`start`: the terms there, if already computed) with step
    halving when the likelihood falls, as R's coxph: converged when a full step changes the log
    likelihood by at most `tol` (relative; R's default eps), so the iterates are R's. Stops after
    `max_iter` steps or `time_limit` seconds. `evaluate(beta)` gives the log likelihood, score and
    information, from rows in memory (`efron`) or from an engine's sums (analytics.engines.cox)."""
    beta = np.zeros(p)
    terms = start if start is not None else evaluate(beta)
    loglik_null = terms.loglik
    started = _time.monotonic()
    step = np.zeros(p)
    converged = timed_out = False
    iterations = 0
    # A step too far (separation, a small practice) overflows the risk scores: its likelihood is not
    # finite and the step is halved. That is expected, so numpy is not to print warnings about it
    # on a user's terminal.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while iterations < max_iter:
            iterations += 1
            step = _solve(terms.information, terms.score)
            candidate = beta + step
            new = evaluate(candidate)
            halvings = 0
            while (not np.isfinite(new.loglik) or new.loglik < terms.loglik - 1e-12 * abs(terms.loglik)) and halvings < 30:
                step = step / 2
                candidate = beta + step
                new = evaluate(candidate)
                halvings += 1
            change = abs(new.loglik - terms.loglik)
            beta, terms = candidate, new
            if (change <= tol * abs(new.loglik) and halvings == 0) or np.max(np.abs(step), initial=0) < 1e-12:
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


def cluster_sums(resid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows of `resid` summed within clusters (integer codes 0..G-1)."""
    size = int(codes.max()) + 1 if len(codes) else 0
    return np.column_stack([np.bincount(codes, weights=resid[:, j], minlength=size) for j in range(resid.shape[1])])
