"""Logistic regression of dropout (vs planned completion) with the rows inside an engine.

Iteratively reweighted least squares: each step is one aggregation of X'WX and X'Wz (with
W = mu(1 - mu) and z the working response) over the rows; Python solves the small system. The
terms are centred inside the engine (analytics/engines/terms.py); the intercept and its variance
are moved back to the uncentred terms at the end. The discrimination (AUC from mid-ranks) and the
calibration groups are window aggregates in the engine. The result is the in-memory
`analytics.models.fit_logistic` result (statsmodels' GLM), to rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.engines.engine import ROW, Engine, whole
from analytics.engines.terms import build_design, column, number, refuse_in_memory_only
from analytics.models.outcome import (
    EXTREME,
    INTERCEPT,
    NO_EVENT,
    events_per_parameter,
    not_converged,
    odds_ratio_table,
    quasi_separation,
    empty_table,
    separation_sentences,
    unique,
    unusable_counts,
)
from analytics.models.regression import (
    CALIBRATION_COLUMNS,
    MAX_VIF,
    LogisticResult,
    calibration_from_groups,
    collinear_warning,
    decile_edges,
    vif_table,
)
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT

MAX_ITERATIONS = 100  # as the in-memory fit(maxiter=100)
TOLERANCE = 1e-8  # statsmodels' default: converged when the deviance changes by at most this


def fit_logistic(engine: Engine, episodes: str, covariates, reference_levels: dict[str, str] | None = None,
                 splines: dict[str, int] | None = None) -> LogisticResult:
    """`analytics.models.fit_logistic` on the episodes table or view `episodes` of `engine`. Ties in
    predicted risk are split into calibration groups by the table's row order (`_row`, as the
    in-memory path splits them by its row order). `splines` are refused (fitted only in memory)."""
    refuse_in_memory_only("logistic model", splines=splines)
    columns = engine.columns(episodes)
    if "event" not in columns:
        raise ValueError(NO_EVENT)
    known = f"event IN ({EVENT_DROPOUT}, {EVENT_COMPLETED})"
    n_unknown = whole(engine.scalar(f"SELECT COUNT(*) FROM {episodes} WHERE NOT COALESCE({known}, FALSE)"))
    has_row = ROW in engine.collect(f"SELECT * FROM {episodes} LIMIT 0").columns
    keep = {"_y": f"CASE WHEN event = {EVENT_DROPOUT} THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END", "_o": ROW if has_row else "0"}
    design = build_design(engine, engine.view(f"SELECT * FROM {episodes} WHERE {known}"), covariates,
                          reference_levels, keep)
    p = design.p
    x = [column(j) for j in range(p)]
    binary = [j for j, t in enumerate(design.terms) if t in design.markers]
    counts = engine.collect(
        "SELECT COUNT(*) AS n, SUM(_y) AS events"
        + "".join(f", SUM({x[j]} + {number(design.center[j])}) AS one{j}, "
                  f"SUM(_y * ({x[j]} + {number(design.center[j])})) AS drop{j}" for j in binary)
        + f" FROM {design.table}").iloc[0]
    n, events = int(counts["n"]), whole(counts["events"])
    epv, notes = events_per_parameter(events, n, p)
    notes = design.warnings + notes
    if 0 < events < n and binary:
        notes += separation_sentences([design.terms[j] for j in binary],
                                      np.array([round(float(counts[f"one{j}"])) for j in binary]),
                                      np.array([round(float(counts[f"drop{j}"])) for j in binary]), events, n)
    markers = [t for t in design.terms if t in design.markers and "[" not in t]
    common = dict(n_used=n, n_left_out=design.n_left_out, n_unknown_outcome=n_unknown, events=events,
                  events_per_parameter=float(epv), reference=design.reference, markers=markers)
    problem = unusable_counts(n, events, p + 1)
    if problem:
        return LogisticResult(table=empty_table(), warnings=unique(notes + [problem]), auc=float("nan"),
                              calibration=pd.DataFrame(columns=CALIBRATION_COLUMNS),
                              vif=pd.DataFrame({"term": [], "vif": []}), **common)
    beta, cov, converged, perfect = _irls(engine, design.table, p)
    shift = np.eye(p + 1)  # uncentred terms: intercept = b0 - center'b
    shift[0, 1:] = -design.center
    beta, cov = shift @ beta, shift @ cov @ shift.T
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    risk = _sigmoid(_linear(beta, design.center, p))
    extreme = whole(engine.scalar(f"SELECT SUM(CASE WHEN {risk} < {EXTREME} OR {risk} > 1 - {EXTREME} THEN 1 ELSE 0 END) "
                                  f"FROM {design.table}"))
    if not converged:
        notes.append(not_converged("The logistic model"))
    terms = [INTERCEPT] + design.terms
    notes += quasi_separation(terms, beta, se, extreme, perfect)
    vif = _vif(engine, design.table, design.terms)
    high = vif.loc[vif["vif"] > MAX_VIF, "term"].tolist()
    if high:
        notes.append(collinear_warning(high))
    scored = engine.view(f"SELECT _y, _o, {risk} AS _p FROM {design.table}")
    return LogisticResult(table=odds_ratio_table(terms, beta, se), auc=_auc(engine, scored, events, n),
                          calibration=_calibration(engine, scored, n), vif=vif, warnings=unique(notes), **common)


def _linear(beta: np.ndarray, center: np.ndarray, p: int) -> str:
    """x'b on the uncentred terms (columns hold term - center)."""
    return " + ".join([number(beta[0] + beta[1:] @ center)] + [f"{number(beta[1 + j])} * {column(j)}" for j in range(p)])


def _sigmoid(eta: str) -> str:
    """1 / (1 + exp(-eta)) without overflow for large |eta|."""
    return f"(CASE WHEN ({eta}) >= 0 THEN 1 / (1 + EXP(-({eta}))) ELSE EXP({eta}) / (1 + EXP({eta})) END)"


def _irls(engine: Engine, table: str, p: int) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    """statsmodels' GLM IRLS step for step on the centred terms: start from mu = (y + 1/2) / 2,
    stop when the deviance changes by at most 1e-8, and take the variance from the last weighted
    least-squares step (the weights before the final update). Returns the coefficients, their
    variance, whether it converged and whether every fitted probability met its outcome (separation)."""
    x = ["CAST(1 AS DOUBLE)"] + [column(j) for j in range(p)]
    start = "((_y + 0.5) / 2)"
    information, target, deviance, perfect = _step(engine, table, x, f"LN({start} / (1 - {start}))", start)
    for _ in range(MAX_ITERATIONS):
        beta = _solve(information, target)
        eta = " + ".join(f"{number(b)} * {c}" for b, c in zip(beta, x))
        previous, last = information, deviance
        information, target, deviance, fitted_perfectly = _step(engine, table, x, eta, _sigmoid("_eta"))
        perfect = perfect or fitted_perfectly
        if abs(deviance - last) <= TOLERANCE:
            return beta, np.linalg.pinv(previous), True, perfect
    return beta, np.linalg.pinv(previous), False, perfect


def _step(engine: Engine, table: str, x: list[str], eta: str, mu: str) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """One pass over the rows at linear predictor `eta` and fitted probability `mu` (SQL in `_eta`):
    X'WX, X'Wz with W = mu(1 - mu) and z = eta + (y - mu) / W, the deviance, and whether every mu
    is within numpy's allclose of its outcome."""
    n = len(x)
    pairs = [(j, k) for j in range(n) for k in range(j, n)]
    sums = engine.collect(
        f"SELECT {', '.join(f'SUM(_w * {x[j]} * {x[k]}) AS a{j}_{k}' for j, k in pairs)}, "
        f"{', '.join(f'SUM({x[j]} * (_w * _eta + _y - _mu)) AS b{j}' for j in range(n))}, "
        "-2 * SUM(CASE WHEN _y = 1 THEN LN(_mu) ELSE LN(1 - _mu) END) AS deviance, "
        "SUM(CASE WHEN ABS(_mu - _y) > 1e-8 + 1e-5 * _y THEN 1 ELSE 0 END) AS off "
        f"FROM (SELECT *, _mu * (1 - _mu) AS _w FROM (SELECT *, {mu} AS _mu FROM "
        f"(SELECT *, {eta} AS _eta FROM {table}) AS a) AS b) AS c").iloc[0]
    information = np.zeros((n, n))
    for j, k in pairs:
        information[j, k] = information[k, j] = float(sums[f"a{j}_{k}"])
    target = np.array([float(sums[f"b{j}"]) for j in range(n)])
    return information, target, float(sums["deviance"]), int(sums["off"]) == 0


def _solve(information: np.ndarray, target: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(information, target)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(information, target, rcond=None)[0]


def _vif(engine: Engine, table: str, terms: list[str]) -> pd.DataFrame:
    """VIFs from the correlation matrix of the terms (their centred cross-products)."""
    p = len(terms)
    if p == 0:
        return pd.DataFrame({"term": [], "vif": []})
    if p == 1:
        return pd.DataFrame({"term": terms, "vif": [1.0]})
    pairs = [(j, k) for j in range(p) for k in range(j, p)]
    sums = engine.collect(f"SELECT {', '.join(f'SUM({column(j)} * {column(k)}) AS g{j}_{k}' for j, k in pairs)} "
                          f"FROM {table}").iloc[0]
    gram = np.zeros((p, p))
    for j, k in pairs:
        gram[j, k] = gram[k, j] = float(sums[f"g{j}_{k}"])
    scale = np.sqrt(np.diag(gram))
    return vif_table(terms, gram / np.outer(scale, scale))


def _auc(engine: Engine, scored: str, events: int, n: int) -> float:
    """The Mann-Whitney AUC from the dropouts' mid-ranks, summed per distinct predicted risk."""
    ranks = engine.scalar(
        "SELECT SUM(pos * (COALESCE(below, 0) + (n + 1) / 2.0)) FROM (SELECT pos, n, SUM(n) OVER (ORDER BY _p "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS below FROM "
        f"(SELECT _p, COUNT(*) AS n, SUM(_y) AS pos FROM {scored} GROUP BY _p) AS tied) AS ranked")
    return float((float(ranks) - events * (events + 1) / 2) / (events * (n - events)))


def _calibration(engine: Engine, scored: str, n: int) -> pd.DataFrame:
    """Mean predicted risk and dropouts in tenths of predicted risk (ties split by row order)."""
    edges = decile_edges(n)
    decile = "CASE " + " ".join(f"WHEN _rank <= {number(e)} THEN {i + 1}" for i, e in enumerate(edges[:-1])) + \
        f" ELSE {len(edges)} END"
    groups = engine.collect(
        f"SELECT {decile} AS decile, COUNT(*) AS n, AVG(_p) AS predicted, SUM(_y) AS dropouts FROM "
        f"(SELECT _y, _p, ROW_NUMBER() OVER (ORDER BY _p, _o) AS _rank FROM {scored}) AS ranked GROUP BY 1 ORDER BY 1")
    groups["n"] = groups["n"].astype(int)
    return calibration_from_groups(groups)
