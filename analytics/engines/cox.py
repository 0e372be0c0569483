"""The clustered Efron Cox fit with the rows inside an engine (DuckDB or Spark).

Each Newton step is one aggregation: per stratum, distinct time and dropout or not, the sums of
r = exp(x'b), r x and r x x' over the episodes ending then (with the count, x and x'b): the
dropouts' rows give the tied-event sums, both rows together the sums entering the risk sets. Risk-set sums are suffix sums of that small table, and
Efron's correction for d tied dropouts needs, per time, only sums over k = 0..d-1 of
1/D_k, (k/d)/D_k, 1/D_k^2, (k/d)/D_k^2, (k/d)^2/D_k^2 and log D_k, with D_k = R - (k/d) E:
the mean vectors and the information expand in those. The robust (sandwich) variance needs
each therapist's summed score residuals: the per-time quantities go back into the engine as a
small table, are joined to the rows and summed per therapist. The Newton iterations, checks and
the result table are analytics.survival.cox_results.fit_rows, so the fit equals the in-memory
`fit_cox` (and R's coxph) to rounding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.engines.engine import Engine, whole
from analytics.engines.terms import build_design, column, number, quoted, refuse_in_memory_only
from analytics.schema import EVENT_DROPOUT
from analytics.survival.cox_results import CoxResult, ModelData, fit_rows

_tables = itertools.count()


def fit_cox(engine: Engine, episodes: str, covariates: list[str] | tuple[str, ...],
            reference_levels: dict[str, str] | None = None, strata: str | list[str] | None = None,
            cluster: str | None = "therapist_id", duration: str = "duration", event: str = "event",
            time_limit: float = 120.0, entry: str | None = None, splines: dict[str, int] | None = None,
            weights: str | None = None) -> CoxResult:
    """`analytics.survival.fit_cox` on the episodes table or view `episodes` of `engine`: the same
    complete cases, terms, warnings and numbers; only sums come back from the engine. The result
    has no risk sets (they stay in the engine), so concordance and adjusted curves are not given;
    `entry`, `splines` and `weights` are refused (fitted only in memory)."""
    refuse_in_memory_only("Cox model", entry=entry, splines=splines, weights=weights)
    covariates = list(covariates)
    strata = [strata] if isinstance(strata, str) else list(strata or [])
    missing = [c for c in [duration, event] + ([cluster] if cluster else []) + strata if c not in engine.columns(episodes)]
    if missing:
        raise ValueError(f"These columns are not in the episodes table: {', '.join(missing)}.")
    time = f"TRY_CAST({quoted(duration)} AS DOUBLE)"
    invalid = whole(engine.scalar(f"SELECT COUNT(*) FROM {episodes} WHERE {quoted(duration)} IS NOT NULL "
                                  f"AND NOT COALESCE({time} >= 0, FALSE)"))
    keep = {"_t": time, "_d": f"CASE WHEN {quoted(event)} = {EVENT_DROPOUT} THEN 1 ELSE 0 END",
            "_e": quoted(event)}
    if cluster:
        keep["_c"] = quoted(cluster)
    for j, name in enumerate(strata):
        keep[f"_s{j}"] = f"CAST({quoted(name)} AS VARCHAR)"
    usable = {duration: f"{time} >= 0", event: f"{quoted(event)} IS NOT NULL"}
    usable |= {name: f"{quoted(name)} IS NOT NULL" for name in ([cluster] if cluster else []) + strata}
    outcomes = {name: condition for name, condition in usable.items() if name not in covariates}
    design = build_design(engine, episodes, covariates, reference_levels, keep, valid=f"{time} >= 0", outcomes=outcomes)
    if invalid:  # a researcher's own table: unusable durations count as missing, as in memory
        design.warnings.insert(0, f"{invalid} episodes have a negative or non-numeric {duration} and were left out.")
    # each value prefixed by its length, so ("p, q", "r") and ("p", "q, r") stay two strata (as in memory)
    stratum = ("CONCAT_WS('|', " + ", ".join(f"CAST(LENGTH(_s{j}) AS VARCHAR), _s{j}" for j in range(len(strata))) + ")"
               if strata else "''")
    rows = EngineRows(engine, design.table, list(range(design.p)), stratum, cluster is not None,
                      design.center, design.markers, design.terms)
    return fit_rows(rows, design.terms, design.warnings, design.reference, covariates, cluster, strata or None,
                    design.n_left_out, time_limit)


@dataclass
class EngineTerms:
    """Log likelihood, score and information at `beta`, and the per-time quantities the score
    residuals need (one row per stratum and distinct time)."""

    loglik: float
    score: np.ndarray
    information: np.ndarray
    beta: np.ndarray
    shift: float
    times: pd.DataFrame


class EngineRows:
    """The rows of a Cox model inside an engine; the methods analytics.survival.cox_results.fit_rows
    calls (as InMemoryRows does in memory)."""

    def __init__(self, engine: Engine, table: str, columns: list[int], stratum: str, clustered: bool,
                 center: np.ndarray, markers: list[str], names: list[str]):
        self.engine, self.table, self.columns, self.stratum, self.clustered = engine, table, columns, stratum, clustered
        self.center, self.markers, self.names = center, markers, names
        counts = engine.collect(
            f"SELECT COUNT(*) AS n, SUM(_d) AS events"
            + (", COUNT(DISTINCT _c) AS clusters" if clustered else "")
            + ", " + ", ".join([f"MIN({column(j)}) AS lo{j}, MAX({column(j)}) AS hi{j}" for j in columns] or ["0 AS none"])
            + f" FROM {table}").iloc[0]
        self.n, self.events = int(counts["n"]), whole(counts["events"])
        self.n_clusters = int(counts["clusters"]) if clustered and self.n else None
        self.low = np.array([float(counts[f"lo{j}"]) for j in columns]) if self.n else np.zeros(len(columns))
        self.high = np.array([float(counts[f"hi{j}"]) for j in columns]) if self.n else np.zeros(len(columns))

    @property
    def p(self) -> int:
        return len(self.columns)

    def keep(self, positions: list[int]) -> EngineRows:
        return EngineRows(self.engine, self.table, [self.columns[j] for j in positions], self.stratum, self.clustered,
                          self.center[positions], self.markers, [self.names[j] for j in positions])

    def _linear(self, beta: np.ndarray) -> tuple[str, float]:
        """x'b as SQL, and a bound on its maximum from the columns' ranges, taken out of every exp
        against overflow (the likelihood does not depend on it)."""
        eta = " + ".join(f"{number(b)} * {column(j)}" for j, b in zip(self.columns, beta)) or "0.0"
        shift = float(np.sum(np.maximum(beta * self.low, beta * self.high)))
        return eta, shift

    def _x(self, k: int) -> str:
        return column(self.columns[k])

    def evaluate(self, beta: np.ndarray, information: bool = True) -> EngineTerms:
        """One pass: sums of r, r x and r x x' by stratum, time and dropout (the dropouts' sums
        are the rows with _d = 1; the risk set's, both rows), with the dropouts' count, x and x'b."""
        p = self.p
        eta, shift = self._linear(beta)
        pairs = [(j, k) for j in range(p) for k in range(j, p)]
        weighted = ["r"] + [f"r{j}" for j in range(p)] + [f"r{j}_{k}" for j, k in pairs]
        sums = (["SUM(_r) AS r", "COUNT(*) AS n", "SUM(_eta) AS eta"]
                + [f"SUM(_r * {self._x(j)}) AS r{j}" for j in range(p)]
                + [f"SUM({self._x(j)}) AS x{j}" for j in range(p)]
                + [f"SUM(_r * {self._x(j)} * {self._x(k)}) AS r{j}_{k}" for j, k in pairs])
        frame = self.engine.collect(
            f"SELECT _s, _t, _d, {', '.join(sums)} FROM (SELECT *, EXP(_eta - {number(shift)}) AS _r FROM "
            f"(SELECT {self.stratum} AS _s, _t, _d, {eta} AS _eta"
            f"{''.join(f', {self._x(j)}' for j in range(p))} FROM {self.table}) AS rows) AS risk GROUP BY _s, _t, _d")
        risk = frame.groupby(["_s", "_t"], sort=True)[weighted].sum()
        dead = frame.loc[frame["_d"] == 1].set_index(["_s", "_t"])
        dead = dead[["n", "eta"] + [f"x{j}" for j in range(p)] + weighted].rename(
            columns={"n": "d", **{c: "e" + c[1:] for c in weighted}})
        return _efron_terms(risk.join(dead, how="left").fillna(0).reset_index(), p, pairs, beta, shift)

    def cluster_scores(self, terms: EngineTerms) -> np.ndarray:
        """Score residuals summed per cluster: the per-time quantities joined to the rows inside the
        engine, then one sum per cluster and term."""
        p = self.p
        name = f"_cox_times_{next(_tables)}"
        self.engine.register(name, terms.times)
        eta, _ = self._linear(terms.beta)
        x = [self._x(j) for j in range(p)]
        resid = [f"SUM(-_r * {x[j]} * k._w + _r * k._sm{j} + _d * ({x[j]} - k._mbar{j} + _r * {x[j]} * k._v "
                 f"- _r * k._mv{j})) AS u{j}" for j in range(p)]
        frame = self.engine.collect(
            f"SELECT _c, {', '.join(resid)} FROM (SELECT *, EXP(_eta - {number(terms.shift)}) AS _r FROM "
            f"(SELECT {self.stratum} AS _s, _t, _d, _c, {eta} AS _eta{''.join(f', {c}' for c in x)} FROM {self.table}) "
            f"AS rows) AS u JOIN {quoted(name)} AS k ON u._s = k._s AND u._t = k._t GROUP BY _c")
        return frame[[f"u{j}" for j in range(p)]].to_numpy(dtype=float)

    def model(self, beta: np.ndarray, var: np.ndarray, term_covariate: dict[str, str],
              variance: np.ndarray) -> ModelData:
        markers = [t for t in term_covariate if t in self.markers]
        return ModelData(None, beta, var, self.center, term_covariate, [], markers, variance)


def _suffix_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per row: the sum over the rows from it to the end of its stratum (rows sorted by stratum,
    then time; `starts`: each stratum's first row, then the row count)."""
    out = np.empty_like(values)
    for a, b in zip(starts[:-1], starts[1:]):
        out[a:b] = np.cumsum(values[a:b][::-1], axis=0)[::-1]
    return out


def _prefix_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    for a, b in zip(starts[:-1], starts[1:]):
        out[a:b] = np.cumsum(values[a:b], axis=0)
    return out


def _efron_terms(frame: pd.DataFrame, p: int, pairs: list, beta: np.ndarray, shift: float) -> EngineTerms:
    """Efron's log likelihood, score and information from the per-(stratum, time) sums."""
    strata = frame["_s"].to_numpy()
    starts = np.flatnonzero(np.r_[True, strata[1:] != strata[:-1], True]) if len(frame) else np.array([0])
    vector = lambda prefix: frame[[f"{prefix}{j}" for j in range(p)]].to_numpy(dtype=float).reshape(len(frame), p)

    def matrix(prefix):
        out = np.zeros((len(frame), p, p))
        for j, k in pairs:
            out[:, j, k] = out[:, k, j] = frame[f"{prefix}{j}_{k}"].to_numpy(dtype=float)
        return out

    R = _suffix_sums(frame["r"].to_numpy(dtype=float), starts)
    A = _suffix_sums(vector("r"), starts)
    C = _suffix_sums(matrix("r"), starts)
    d = frame["d"].fillna(0).to_numpy(dtype=np.int64)
    E, A2, C2 = frame["e"].fillna(0).to_numpy(dtype=float), vector("e"), matrix("e")
    g = np.flatnonzero(d > 0)
    deaths = d[g]
    group = np.repeat(np.arange(len(g)), deaths)
    first = np.r_[0, np.cumsum(deaths)[:-1]]
    f = (np.arange(deaths.sum()) - first[group]) / deaths[group]  # k/d for the k-th of d tied dropouts
    denom = R[g][group] - f * E[g][group]
    total = lambda v: np.add.reduceat(v, first) if len(first) else np.zeros(0)
    w, v = total(1 / denom), total(f / denom)
    s2, sf2, sff2 = total(1 / denom**2), total(f / denom**2), total(f**2 / denom**2)
    Ag, A2g = A[g], A2[g]
    loglik = float(frame["eta"].fillna(0).sum() - shift * deaths.sum() - np.sum(np.log(denom)))
    score = vector("x")[g].sum(axis=0) - (Ag * w[:, None] - A2g * v[:, None]).sum(axis=0)
    outer = lambda a, b: a[:, :, None] * b[:, None, :]
    information = ((C[g] * w[:, None, None] - C2[g] * v[:, None, None]).sum(axis=0)
                   - (outer(Ag, Ag) * s2[:, None, None] - (outer(Ag, A2g) + outer(A2g, Ag)) * sf2[:, None, None]
                      + outer(A2g, A2g) * sff2[:, None, None]).sum(axis=0))
    # Per time, for the score residuals: cumulative sums of w and of sum_k m_k / D_k over the event
    # times up to it; at an event time, the mean of the Efron means and sum_k (k/d) m_k / D_k.
    per_event = np.zeros((len(frame), 2 + 3 * p))
    per_event[g, 0] = w
    per_event[g, 1] = v
    per_event[g, 2:2 + p] = Ag * s2[:, None] - A2g * sf2[:, None]
    per_event[g, 2 + p:2 + 2 * p] = (Ag * w[:, None] - A2g * v[:, None]) / deaths[:, None]
    per_event[g, 2 + 2 * p:] = Ag * sf2[:, None] - A2g * sff2[:, None]
    cumulative = _prefix_sums(per_event[:, [0] + list(range(2, 2 + p))], starts)
    times = pd.DataFrame({"_s": frame["_s"], "_t": frame["_t"], "_w": cumulative[:, 0], "_v": per_event[:, 1]})
    for j in range(p):
        times[f"_sm{j}"] = cumulative[:, 1 + j]
        times[f"_mbar{j}"] = per_event[:, 2 + p + j]
        times[f"_mv{j}"] = per_event[:, 2 + 2 * p + j]
    return EngineTerms(loglik, score, information, np.asarray(beta, dtype=float), shift, times)
