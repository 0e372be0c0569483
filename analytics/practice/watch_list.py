"""The watch list: open episodes ranked by their current risk of dropping out, with the reasons.

Leakage. An open episode is seen part-way through; a closed one is seen to its end, and its last
appointments often define the outcome (under the unilateral definition a missed last appointment
*is* the dropout). So every closed episode with at least two scheduled appointments is cut at a
random earlier appointment k (uniform on 1..n-1, seeded) and described only by what was known
after appointment k: attended so far, client misses so far, whether appointment k was missed, the
latest alliance rating and a rupture in the last two ratings by then, plus intake facts (referral,
prior negative therapy, trauma history). The label is whether that episode ended in dropout. Open
episodes (event 0 and no recorded ending other than ongoing) are described after their latest
appointment, the same way.

Model: logistic regression with a small ridge penalty (stable under separation; features scaled),
fitted by Newton steps. Accuracy is measured on a seeded 30% of closed episodes held out from the
fit (AUC with a DeLong interval, calibration by tenths of predicted risk); the list itself uses the
model refitted on every closed episode. Reasons are the features pushing a client's risk up most
(coefficient times the client's difference from the average closed episode), in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.client_runs import ClientRuns, in_client_order
from analytics.models.design import build_design
from analytics.models.regression import auc, calibration_table
from analytics.proportions import Z95
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.ruptures import flag_ruptures
from analytics.schema import CLIENT_MISSES, EVENT_COMPLETED, EVENT_DROPOUT, SRS_CUTOFF

INTAKE_FEATURES = ("referral", "prior_negative_therapy", "trauma_history")
RIDGE = 1.0
HOLDOUT = 0.3
MIN_CLOSED = 40


# The calibration table counts clients per decile; the observed share and its interval follow from them.
CALIBRATION_PRIVACY = Privacy(("n", "dropouts"), {"dropouts": ("observed", "ci_lower", "ci_upper"),
                                                  "n": ("observed", "ci_lower", "ci_upper")})


@dataclass
class WatchListResult(Reported):
    table: pd.DataFrame  # rank, client_id, therapist_id, sessions_attended, risk, reasons
    coefficients: pd.DataFrame  # term, coef, odds_ratio (per unit), mean
    accuracy: pd.DataFrame  # one row: auc, ci_lower, ci_upper, test_episodes, test_dropouts, train_episodes
    calibration: pd.DataFrame  # decile, n, dropouts, predicted, observed, ci_lower, ci_upper
    takeaway: str
    privacy: ClassVar[Privacy] = NO_COUNTS  # one row per client; the calibration's counts: CALIBRATION_PRIVACY


def auc_delong(y, p) -> tuple[float, float, float]:
    """AUC with DeLong's variance (placement values from mid-ranks), 95% normal interval in [0, 1]."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    m, n = int(y.sum()), int((~y).sum())
    area = auc(y, p)
    if m < 2 or n < 2:
        return area, np.nan, np.nan
    combined = pd.Series(p).rank().to_numpy()
    within_pos = pd.Series(p[y]).rank().to_numpy()
    within_neg = pd.Series(p[~y]).rank().to_numpy()
    v10 = (combined[y] - within_pos) / n  # share of negatives below each positive
    v01 = 1 - (combined[~y] - within_neg) / m  # share of positives above each negative
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    return area, max(0.0, area - Z95 * se), min(1.0, area + Z95 * se)


def appointment_features(sessions: pd.DataFrame, srs_drop: float = 5, srs_cutoff: float | None = SRS_CUTOFF) -> pd.DataFrame:
    """One row per scheduled appointment: what was known about the client right after it."""
    s = in_client_order(sessions).reset_index(drop=True)
    runs = ClientRuns(s["client_id"])
    attended = (s["status"] == "attended").to_numpy()
    missed = s["status"].isin(CLIENT_MISSES).to_numpy()
    out = pd.DataFrame({
        "client_id": s["client_id"],
        "appointment": runs.number(),
        "attended_so_far": runs.cumsum(attended),
        "misses_so_far": runs.cumsum(missed),
        "missed_last": missed.astype(float),
    })
    if "srs" in s and s["srs"].notna().any():
        rated = s.loc[attended & s["srs"].notna().to_numpy(), ["client_id", "srs"]]
        rupture = flag_ruptures(rated, "srs", srs_drop, srs_cutoff).to_numpy()
        rated_number = ClientRuns(rated["client_id"]).number()
        out["srs_last"] = runs.ffill(s["srs"].where(attended))
        number = np.full(runs.n, np.nan)  # per appointment: the latest rated session's number, and
        number[rated.index] = rated_number  # the number of the latest one that was a rupture
        last_rupture = np.full(runs.n, np.nan)
        last_rupture[rated.index[rupture]] = rated_number[rupture]
        with np.errstate(invalid="ignore"):
            out["recent_rupture"] = (runs.ffill(last_rupture) >= runs.ffill(number) - 1).astype(float)
        out["no_rating"] = out["srs_last"].isna().astype(float)
    return out


def _open_mask(episodes: pd.DataFrame) -> np.ndarray:
    open_ = episodes["event"].to_numpy() == 0
    if "termination" in episodes:
        open_ &= (episodes["termination"].isna() | (episodes["termination"] == "ongoing")).to_numpy()
    return open_


def _snapshots(sessions: pd.DataFrame, episodes: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Closed episodes at a random earlier appointment, open ones at their latest appointment."""
    closed = episodes["event"].isin((EVENT_DROPOUT, EVENT_COMPLETED)).to_numpy()
    n_appointments = episodes["sessions_scheduled"].to_numpy()
    rng = np.random.default_rng(seed)
    cut = rng.integers(1, np.maximum(n_appointments, 2))  # uniform on 1..n-1 (one draw per episode, in order)
    cut = np.where(_open_mask(episodes), n_appointments, np.where(closed & (n_appointments >= 2), cut, 0))
    wanted = pd.DataFrame({"client_id": episodes["client_id"].to_numpy(), "appointment": cut,
                           "closed": closed, "dropout": (episodes["event"] == EVENT_DROPOUT).to_numpy()})
    wanted = wanted.loc[wanted["appointment"] > 0]
    features = appointment_features(sessions.loc[sessions["client_id"].isin(wanted["client_id"])])
    snap = wanted.merge(features, on=["client_id", "appointment"], how="inner")
    intake = [c for c in INTAKE_FEATURES + ("therapist_id", "sessions_attended") if c in episodes]
    return snap.merge(episodes[["client_id"] + intake], on="client_id", how="left")


def _fit_ridge(X: np.ndarray, y: np.ndarray, ridge: float = RIDGE, iterations: int = 50) -> np.ndarray:
    """Penalized logistic regression (no penalty on the intercept) by Newton-Raphson; X is scaled."""
    Z = np.column_stack([np.ones(len(X)), X])
    beta = np.zeros(Z.shape[1])
    penalty = np.full(Z.shape[1], ridge)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-Z @ beta))
        gradient = Z.T @ (y - p) - penalty * beta
        hessian = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def _predict(beta: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))


class _Scaled:
    """Feature scaling learnt on the training rows, applied unchanged to any other rows."""

    def __init__(self, X: np.ndarray):
        self.mean = X.mean(axis=0)
        self.sd = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.sd


def watch_list(
    sessions: pd.DataFrame | None, episodes: pd.DataFrame, seed: int = 2026, therapist: str | None = None, reasons: int = 3
) -> WatchListResult:
    """Rank open episodes by predicted dropout risk (see the module docstring for the method)."""
    if sessions is None:
        raise ValueError("The watch list needs the appointment history (a sessions file): risk is read from "
                         "attendance, misses and alliance ratings so far.")
    snap = _snapshots(sessions, episodes, seed)
    open_before = int((~snap["closed"]).sum())
    features = [c for c in ("attended_so_far", "misses_so_far", "missed_last", "srs_last", "recent_rupture", "no_rating")
                if c in snap]
    features += [c for c in INTAKE_FEATURES if c in snap and snap[c].nunique() >= 2]
    warnings = []
    if "srs_last" in snap:
        closed_mean = snap.loc[snap["closed"], "srs_last"].mean()
        snap["srs_last"] = snap["srs_last"].fillna(closed_mean)
    else:
        warnings.append("No `srs` column: the risk model runs without the alliance (low alliance and ruptures).")
    design = build_design(snap, features)
    snap = snap.loc[design.rows]
    X = design.X.to_numpy(dtype=float)
    warnings += design.warnings
    closed = snap["closed"].to_numpy()
    y = snap["dropout"].to_numpy()[closed].astype(float)
    if closed.sum() < MIN_CLOSED or y.sum() < 5 or (1 - y).sum() < 5:
        raise ValueError(f"Too few ended episodes to learn from ({int(closed.sum())} usable, {int(y.sum())} dropouts): "
                         f"the watch list needs at least {MIN_CLOSED}, with at least 5 dropouts and 5 completions.")
    X_closed = X[closed]
    rng = np.random.default_rng(seed + 1)
    test = rng.random(len(X_closed)) < HOLDOUT
    scale = _Scaled(X_closed[~test])
    beta = _fit_ridge(scale(X_closed[~test]), y[~test])
    p_test = _predict(beta, scale(X_closed[test]))
    area, lower, upper = auc_delong(y[test], p_test)
    accuracy = pd.DataFrame([{"auc": area, "ci_lower": lower, "ci_upper": upper, "test_episodes": int(test.sum()),
                              "test_dropouts": int(y[test].sum()), "train_episodes": int((~test).sum())}])
    calibration = calibration_table(y[test], p_test)
    calibration.insert(2, "dropouts", np.rint(calibration["observed"] * calibration["n"]).astype(int))

    scale = _Scaled(X_closed)
    beta = _fit_ridge(scale(X_closed), y)
    coef = beta[1:] / scale.sd
    coefficients = pd.DataFrame({"term": design.terms, "coef": coef, "odds_ratio": np.exp(coef), "mean": scale.mean})

    open_rows = snap.loc[~closed].reset_index(drop=True)
    X_open = X[~closed]
    risk = _predict(beta, scale(X_open))
    contributions = coef * (X_open - scale.mean)
    binary = np.isin(X_closed, (0.0, 1.0)).all(axis=0)
    table = pd.DataFrame({
        "client_id": open_rows["client_id"],
        "therapist_id": open_rows["therapist_id"] if "therapist_id" in open_rows else np.nan,
        "sessions_attended": open_rows["attended_so_far"],
        "risk": risk,
        "reasons": _reasons(design.terms, X_open, contributions, coef, binary, reasons),
    }).sort_values("risk", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    if therapist is not None:
        table = table.loc[table["therapist_id"] == therapist].reset_index(drop=True)
    return WatchListResult(table, coefficients, accuracy, calibration, _takeaway(table, accuracy), warnings=warnings,
                           n_used=len(open_rows), n_left_out=open_before - len(open_rows))


_MARKER_PHRASES = {
    "missed_last": "missed the last appointment",
    "recent_rupture": "an alliance rupture in the last two ratings",
    "no_rating": "no alliance rating yet",
    "prior_negative_therapy": "a previous negative experience of therapy",
    "trauma_history": "a trauma history",
}
# Numeric features with a worded reason for the direction that raises risk: (sign of coef, words).
_NUMBER_PHRASES = {
    "srs_last": (-1, "low alliance at the last rating (SRS {})"),
    "attended_so_far": (-1, "only {} session(s) attended so far"),
    "misses_so_far": (1, "{} missed appointment(s) so far"),
}


def _phrases(term: str, values: np.ndarray, coef: float, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """Why a feature raises a client's risk, in words, and whether it can be a reason at all: a 0/1
    feature only when present and risk-raising; a number only in its risk-raising direction."""
    if binary:
        words = _MARKER_PHRASES.get(term, f"referral: {term[9:-1]}" if term.startswith("referral[") else term.replace("_", " "))
        return np.full(len(values), words, dtype=object), (values == 1) & (coef > 0)
    sign, template = _NUMBER_PHRASES.get(term, (np.sign(coef), ("higher " if coef > 0 else "lower ") + term.replace("_", " ") + " ({})"))
    shown = pd.Series(values).round(1).map("{:g}".format).to_numpy(dtype=object)
    head, _, tail = template.partition("{}")
    words = head + shown + tail
    return words, np.full(len(values), np.sign(coef) == sign and coef != 0)


def _reasons(terms: list[str], X: np.ndarray, contributions: np.ndarray, coef: np.ndarray, binary: np.ndarray, top: int) -> np.ndarray:
    """The up-to-`top` features raising each client's risk most, joined with "; "."""
    if len(X) == 0:
        return np.array([], dtype=object)
    pairs = [_phrases(t, X[:, j], coef[j], binary[j]) for j, t in enumerate(terms)]
    phrases = np.column_stack([words for words, _ in pairs])
    allowed = np.column_stack([ok for _, ok in pairs])
    strength = np.where(allowed & (contributions > 0), contributions, 0.0)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :top]
    rows = np.arange(len(X))[:, None]
    chosen = np.where(strength[rows, order] > 0, phrases[rows, order], "")
    joined = chosen[:, 0].astype(object)
    for k in range(1, chosen.shape[1]):  # the strongest reasons come first, so blanks only trail
        joined = joined + np.where(chosen[:, k] != "", "; " + chosen[:, k].astype(object), "")
    return np.where(joined == "", "nothing stands out", joined)


def _takeaway(table: pd.DataFrame, accuracy: pd.DataFrame) -> str:
    a = accuracy.iloc[0]
    if table.empty:
        return "No open episodes to rank."
    high = int((table["risk"] >= 0.5).sum())
    opening = (f"{len(table)} clients are in therapy now; {high} {'has' if high == 1 else 'have'} an estimated "
               "dropout risk of 50% or more. ")
    interval = f"AUC {a['auc']:.2f}, 95% CI {a['ci_lower']:.2f} to {a['ci_upper']:.2f} on ended episodes it had not seen"
    if not a["ci_lower"] > 0.5:
        return opening + f"The ranking is no better than chance could give ({interval}): do not rely on it."
    quality = "good" if a["auc"] >= 0.8 else "fair" if a["auc"] >= 0.7 else "modest"
    return opening + f"The model's ranking is {quality} ({interval}): use it to decide whom to check in with, not as a verdict."
