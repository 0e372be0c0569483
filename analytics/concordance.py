"""Harrell's concordance of a Cox model as R's survival reports it, in O(n log^2 n) without row loops.

A pair is comparable when one member has a dropout at time t and the other is still at risk after
t (censored at t counts as at risk; two dropouts at the same t are a tie in time and left out).
It is concordant when the one who dropped out had the higher risk score, and a tie in the score
counts one half: C = (concordant + tied/2) / (concordant + discordant + tied).

Counting is a vectorized merge-sort tree: at each of log2(n) levels the rows are sorted by
(block, score) and every query looks up its right-hand sibling block with `searchsorted`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Concordance:
    concordant: float
    discordant: float
    tied_risk: float

    @property
    def value(self) -> float:
        total = self.concordant + self.discordant + self.tied_risk
        return float((self.concordant + self.tied_risk / 2) / total) if total else float("nan")


def _later_counts(value: np.ndarray, weight: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For elements in position order 0..n-1 (non-negative integer `value`), and each query position
    i: the weight of later elements with a smaller value, and with a smaller or equal value."""
    n = len(value)
    less = np.zeros(len(queries))
    leq = np.zeros(len(queries))
    if n < 2 or not len(queries):
        return less, leq
    span = int(value.max()) + 2
    positions = np.arange(n, dtype=np.int64)
    perm = positions
    qval = value[queries].astype(np.int64)
    level = 0
    while (1 << level) < n:
        keys = (positions[perm] >> level) * span + value[perm]
        cum = np.concatenate([[0.0], np.cumsum(weight[perm])])
        take = ((queries >> level) & 1) == 0
        base = ((queries[take] >> level) + 1) * span
        lo = np.searchsorted(keys, base, "left")
        below = np.searchsorted(keys, base + qval[take], "left")
        upto = np.searchsorted(keys, base + qval[take], "right")
        less[take] += cum[below] - cum[lo]
        leq[take] += cum[upto] - cum[lo]
        level += 1
        next_keys = (positions[perm] >> level) * span + value[perm]
        perm = perm[np.argsort(next_keys, kind="stable")]
    return less, leq


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray, stratum: np.ndarray | None = None,
                start: np.ndarray | None = None) -> Concordance:
    """Concordance of `risk` (higher = earlier dropout) with (start, stop] or right-censored times."""
    n = len(time)
    event = np.asarray(event, dtype=bool)
    stratum = np.zeros(n, dtype=np.int64) if stratum is None else np.asarray(stratum, dtype=np.int64)
    ranks = _tolerant_ranks(np.asarray(risk, dtype=float))
    width = int(ranks.max()) + 1 if n else 1
    value = stratum * width + ranks  # only same-stratum rows can count as "smaller"

    # Rows by (stratum, time, dropouts first, within a tie the higher score first): every row after
    # a dropout is at risk after it, except the tied dropouts that follow it.
    order = np.lexsort((-ranks, ~event, time, stratum))
    val = value[order]
    ev = event[order]
    t = np.asarray(time, dtype=float)[order]
    st = stratum[order]
    q = np.flatnonzero(ev)
    less, leq = _later_counts(val, np.ones(n), q)

    tie_id = np.cumsum(np.concatenate([[True], (t[q][1:] != t[q][:-1]) | (st[q][1:] != st[q][:-1])]))
    same_id = np.cumsum(np.concatenate([[True], (tie_id[1:] != tie_id[:-1]) | (val[q][1:] != val[q][:-1])]))
    tied_after = _remaining_in_run(tie_id)
    equal_after = _remaining_in_run(same_id)
    stratum_end = np.searchsorted(st, st[q], "right")
    after = (stratum_end - q - 1 - tied_after).astype(float)

    concordant = less - (tied_after - equal_after)
    tied = leq - less - equal_after
    if start is not None and np.isfinite(start).any():
        c_less, c_leq, c_after = (a[order[q]] for a in _started_later(start, time, event, stratum, value))
        concordant -= c_less
        tied -= c_leq - c_less
        after -= c_after
    discordant = after - concordant - tied
    return Concordance(float(concordant.sum()), float(discordant.sum()), float(tied.sum()))


def _tolerant_ranks(risk: np.ndarray) -> np.ndarray:
    """Dense ranks where scores equal up to rounding (1e-10 relative) share a rank: identical
    covariates must tie even when a vectorized product rounds them differently."""
    order = np.argsort(risk, kind="stable")
    values = risk[order]
    tol = 1e-10 * max(1.0, float(np.abs(values).max(initial=0.0)))
    ranks = np.empty(len(risk), dtype=np.int64)
    ranks[order] = np.cumsum(np.concatenate([[False], np.diff(values) > tol]))
    return ranks


def _remaining_in_run(run_id: np.ndarray) -> np.ndarray:
    """For sorted run labels: how many later entries share each entry's label."""
    ends = np.searchsorted(run_id, run_id, "right")
    return ends - np.arange(len(run_id)) - 1


def _started_later(start, stop, event, stratum, value):
    """Rows that enter the risk set only after a dropout's time (start >= t): counted by the
    stop-time pass, removed here. Each dropout is a zero-weight query placed before those rows."""
    n = len(stop)
    dead = np.flatnonzero(event)
    start = np.where(np.isfinite(start), start, -np.inf)
    all_time = np.concatenate([start, np.asarray(stop, dtype=float)[dead]])
    all_stratum = np.concatenate([stratum, stratum[dead]])
    is_query = np.concatenate([np.zeros(n, bool), np.ones(len(dead), bool)])
    all_value = np.concatenate([value, value[dead]])
    order = np.lexsort((~is_query, all_time, all_stratum))
    weight = (~is_query[order]).astype(float)
    q = np.flatnonzero(is_query[order])
    less, leq = _later_counts(all_value[order], weight, q)
    # rows of the same stratum after the query position
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    st = all_stratum[order]
    end = np.searchsorted(st, st[q], "right")
    after = cum[end] - cum[q + 1]
    rows = dead[order[q] - n]
    out = np.zeros((3, n))
    out[:, rows] = less, leq, after
    return out[0], out[1], out[2]
