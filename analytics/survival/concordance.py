"""Harrell's concordance of a Cox model as R's survival reports it, in O(n log^2 n) without row loops.

A pair is comparable when one member has a dropout at time t and the other is still at risk after
t (censored at t counts as at risk; two dropouts at the same t are a tie in time and left out).
It is concordant when the one who dropped out had the higher risk score, and a tie in the score
counts one half: C = (concordant + tied/2) / (concordant + discordant + tied).

Counting is a vectorized merge-sort tree over time bins: at each of log2(bins) levels the rows are
sorted by (block of bins, score) and every dropout looks up the block after its own with
`searchsorted` (few levels when durations are session counts).
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


def _later_counts(bins: np.ndarray, value: np.ndarray, weight: np.ndarray,
                  query_bin: np.ndarray, query_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query: the weight of elements in a later bin with a smaller value, and with a
    smaller or equal value. The later bins are the union, over the bit levels L where the query's
    bin has a 0, of the block of 2^L bins just after it; each level is one stable sort of the
    elements (already in value order) by block, and `searchsorted` per query."""
    less = np.zeros(len(query_bin))
    leq = np.zeros(len(query_bin))
    if not len(bins) or not len(query_bin):
        return less, leq
    span = int(max(value.max(), query_value.max())) + 2
    by_value = np.argsort(value, kind="stable")
    bins, value, weight = bins[by_value], value[by_value], weight[by_value]
    top = int(max(bins.max(), query_bin.max()))
    level = 0
    while (top >> level) > 0 or level == 0:
        block = bins >> level
        order = np.argsort(block.astype(np.uint16) if block.max() < 2**16 else block, kind="stable")
        keys = block[order] * span + value[order]
        cum = np.concatenate([[0.0], np.cumsum(weight[order])])
        take = ((query_bin >> level) & 1) == 0
        base = ((query_bin[take] >> level) + 1) * span
        lo = np.searchsorted(keys, base, "left")
        below = np.searchsorted(keys, base + query_value[take], "left")
        upto = np.searchsorted(keys, base + query_value[take], "right")
        less[take] += cum[below] - cum[lo]
        leq[take] += cum[upto] - cum[lo]
        level += 1
    return less, leq


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray, stratum: np.ndarray | None = None,
                start: np.ndarray | None = None) -> Concordance:
    """Concordance of `risk` (higher = earlier dropout) with (start, stop] or right-censored times."""
    n = len(time)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    stratum = np.zeros(n, dtype=np.int64) if stratum is None else np.asarray(stratum, dtype=np.int64)
    ranks = _tolerant_ranks(np.asarray(risk, dtype=float))
    width = int(ranks.max()) + 1 if n else 1
    value = stratum * width + ranks  # only same-stratum rows can count as "smaller"
    finite = np.isfinite(start) if start is not None else np.zeros(n, bool)
    times, codes = np.unique(np.concatenate([time, start[finite]]) if finite.any() else time, return_inverse=True)
    slots = 2 * len(times)
    # Bins on (stratum, time): at time t the dropouts (bin 2t) come before the censored (2t+1), so
    # "a later bin than a dropout" is exactly "still at risk after it", tied dropouts excluded.
    stop_bin = stratum * slots + 2 * codes[:n] + (~event)
    q = np.flatnonzero(event)
    less, leq = _later_counts(stop_bin, value, np.ones(n), stop_bin[q], value[q])
    later = _later_total(stop_bin, stop_bin[q], stratum[q], slots)
    if finite.any():
        # Rows entering only at or after the dropout's time (start >= t) are not at risk at t.
        start_bin = stratum[finite] * slots + 2 * codes[n:] + 1
        s_less, s_leq = _later_counts(start_bin, value[finite], np.ones(len(start_bin)), stop_bin[q], value[q])
        less, leq = less - s_less, leq - s_leq
        later = later - _later_total(start_bin, stop_bin[q], stratum[q], slots)
    tied = leq - less
    discordant = later - leq
    return Concordance(float(less.sum()), float(discordant.sum()), float(tied.sum()))


def _later_total(bins: np.ndarray, query_bin: np.ndarray, query_stratum: np.ndarray, slots: int) -> np.ndarray:
    """Number of elements in a later bin of the query's stratum."""
    sorted_bins = np.sort(bins)
    end = np.searchsorted(sorted_bins, (query_stratum + 1) * slots, "left")
    return (end - np.searchsorted(sorted_bins, query_bin, "right")).astype(float)


def _tolerant_ranks(risk: np.ndarray) -> np.ndarray:
    """Dense ranks where scores equal up to rounding (1e-10 relative) share a rank: identical
    covariates must tie even when a vectorized product rounds them differently."""
    order = np.argsort(risk, kind="stable")
    values = risk[order]
    tol = 1e-10 * max(1.0, float(np.abs(values).max(initial=0.0)))
    ranks = np.empty(len(risk), dtype=np.int64)
    ranks[order] = np.cumsum(np.concatenate([[False], np.diff(values) > tol]))
    return ranks
