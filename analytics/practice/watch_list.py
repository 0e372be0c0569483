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
(coefficient times the client's difference from the average closed episode), each a sentence.

A weight read alone can mislead: a rupture is a fall in the rating, so with the latest rating in the
model a rupture's own weight compares clients with the *same* latest rating, one of whom came down to
it (the one who was higher before). Every feature's odds ratio on its own is reported beside its
adjusted one, and where the two point different ways a sentence says why (`model_notes`).

Calibration is drawn for every tenth of predicted risk: its privacy rule counts the clients in a
tenth, not the dropouts (a tenth is a group by predicted risk, not by a trait a person could be
found by), so a tenth of at least the threshold's number of clients is shown whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.client_runs import ClientRuns, in_client_order
from analytics.episodes import EpisodeSettings
from analytics.models.design import build_design
from analytics.models.regression import auc, calibration_table
from analytics.practice.display import column_label, in_words, sentence_label
from analytics.proportions import Z95
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.ruptures import flag_ruptures
from analytics.schema import CLIENT_MISSES, EVENT_COMPLETED, EVENT_DROPOUT

INTAKE_FEATURES = ("referral", "prior_negative_therapy", "trauma_history")
RIDGE = 1.0
HOLDOUT = 0.3
MIN_CLOSED = 40
RUPTURES = EpisodeSettings()  # the default rupture rule
_EPOCH = pd.Timestamp("1970-01-01")  # dates travel through ClientRuns.ffill as whole days since


# The calibration table counts clients per tenth of predicted risk; the dropouts, observed share and
# its interval are shown wherever the tenth's clients are.
CALIBRATION_PRIVACY = Privacy(("n",), {"n": ("dropouts", "observed", "ci_lower", "ci_upper")})


@dataclass
class WatchListResult(Reported):
    table: pd.DataFrame  # rank, client_id, therapist_id, therapist_label, sessions_attended, last_attended,
    # days_since_contact, next_appointment, risk, reasons
    coefficients: pd.DataFrame  # term, coef, odds_ratio (per unit, adjusted), odds_ratio_alone, mean
    accuracy: pd.DataFrame  # one row: auc, ci_lower, ci_upper, test_episodes, test_dropouts, train_episodes
    calibration: pd.DataFrame  # decile, n, dropouts, predicted, observed, ci_lower, ci_upper
    takeaway: str
    model_notes: list[str]  # where a weight alone points the other way from the feature on its own, why
    booked_note: str  # "" when the export holds booked appointments after its date; else says it holds none
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


def appointment_features(sessions: pd.DataFrame, srs_drop: float = RUPTURES.srs_rupture_drop,
                         srs_cutoff: float | None = RUPTURES.srs_rupture_cutoff) -> pd.DataFrame:
    """One row per scheduled appointment: what was known about the client right after it (ruptures
    by the default rule of the episodes)."""
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
        "last_attended": _days_to_dates(runs.ffill((s["date"].where(attended) - _EPOCH).dt.days.to_numpy(dtype=float))),
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


def _days_to_dates(days: np.ndarray) -> np.ndarray:
    """Whole days since _EPOCH (NaN: none) as dates, in numpy: pandas' to_timedelta of a float
    array was a quarter of the watch list's time at 100,000 clients."""
    dates = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    known = ~np.isnan(days)
    dates[known] = np.datetime64(_EPOCH, "D") + days[known].astype(np.int64).astype("timedelta64[D]")
    return dates


def _open_mask(episodes: pd.DataFrame) -> np.ndarray:
    open_ = episodes["event"].to_numpy() == 0
    if "termination" in episodes:
        open_ &= (episodes["termination"].isna() | (episodes["termination"] == "ongoing")).to_numpy()
    return open_


def _snapshots(sessions: pd.DataFrame, episodes: pd.DataFrame, seed: int,
               appointments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Closed episodes at a random earlier appointment, open ones at their latest appointment
    (a client's features are computed from that client's appointments alone: those of every
    client, when given, pick the same rows)."""
    closed = episodes["event"].isin((EVENT_DROPOUT, EVENT_COMPLETED)).to_numpy()
    n_appointments = episodes["sessions_scheduled"].to_numpy()
    rng = np.random.default_rng(seed)
    cut = rng.integers(1, np.maximum(n_appointments, 2))  # uniform on 1..n-1 (one draw per episode, in order)
    cut = np.where(_open_mask(episodes), n_appointments, np.where(closed & (n_appointments >= 2), cut, 0))
    wanted = pd.DataFrame({"client_id": episodes["client_id"].to_numpy(), "appointment": cut,
                           "closed": closed, "dropout": (episodes["event"] == EVENT_DROPOUT).to_numpy()})
    wanted = wanted.loc[wanted["appointment"] > 0]
    if appointments is None:
        appointments = appointment_features(sessions.loc[sessions["client_id"].isin(wanted["client_id"])])
    row, found = _appointment_rows(appointments, wanted["client_id"], wanted["appointment"].to_numpy())
    taken = wanted.index[found]  # the episodes' own rows (one per client), in their order
    intake = [c for c in INTAKE_FEATURES + ("therapist_id", "therapist_label", "sessions_attended") if c in episodes]
    features = appointments.iloc[row].drop(columns=["client_id", "appointment"])
    return pd.concat([wanted.loc[taken].reset_index(drop=True), features.reset_index(drop=True),
                      episodes[intake].iloc[taken].reset_index(drop=True)], axis=1)


def _appointment_rows(appointments: pd.DataFrame, client_ids: pd.Series, number: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each client's `number`-th appointment is in appointment_features' table, and which
    were found. The table holds each client's appointments 1, 2, ... as one run, so the row is the
    run's start plus the number (1 or more): one lookup per client, not a join on (client, appointment)."""
    starts = np.flatnonzero(appointments["appointment"].to_numpy() == 1)
    lengths = np.append(np.diff(np.append(starts, len(appointments))), 0)  # a client not found (-1): none
    run = pd.Index(appointments["client_id"].to_numpy()[starts]).get_indexer(client_ids)
    found = number <= lengths[run]
    return starts[run[found]] + number[found] - 1, found


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
    sessions: pd.DataFrame | None, episodes: pd.DataFrame, seed: int = 2026, therapist: str | None = None, reasons: int = 3,
    export_date: pd.Timestamp | None = None, booked: pd.DataFrame | None = None,
    appointments: pd.DataFrame | None = None,
) -> WatchListResult:
    """Rank open episodes by predicted dropout risk (see the module docstring for the method), with
    each client's last attended date, the days from it to `export_date` (the latest appointment
    date when not given) and the first appointment booked after it (`booked`: the caseload's).
    `appointments`: appointment_features(sessions) when already computed (they do not depend on
    the definition, so the dashboard keeps them when it changes)."""
    if sessions is None:
        raise ValueError("The watch list needs the appointment history (a sessions file): risk is read from "
                         "attendance, misses and alliance ratings so far.")
    snap = _snapshots(sessions, episodes, seed, appointments)
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
    warnings += in_words(design.warnings, {c: sentence_label(c) for c in features})
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
    scaled = scale(X_closed)
    beta = _fit_ridge(scaled, y)
    coef = beta[1:] / scale.sd
    alone = np.array([_fit_ridge(scaled[:, [j]], y)[1] / scale.sd[j] for j in range(X.shape[1])])
    coefficients = pd.DataFrame({"term": design.terms, "coef": coef, "odds_ratio": np.exp(coef),
                                 "odds_ratio_alone": np.exp(alone), "mean": scale.mean})

    open_rows = snap.loc[~closed].reset_index(drop=True)
    X_open = X[~closed]
    risk = _predict(beta, scale(X_open))
    contributions = coef * (X_open - scale.mean)
    binary = np.isin(X_closed, (0.0, 1.0)).all(axis=0)
    today = pd.Timestamp(export_date) if export_date is not None else sessions["date"].max()
    upcoming = next_appointments(booked, today)
    table = pd.DataFrame({
        "client_id": open_rows["client_id"],
        "therapist_id": open_rows["therapist_id"] if "therapist_id" in open_rows else np.nan,
        "therapist_label": open_rows["therapist_label"] if "therapist_label" in open_rows else np.nan,
        "sessions_attended": open_rows["attended_so_far"],
        "last_attended": open_rows["last_attended"],
        "days_since_contact": (today - open_rows["last_attended"]).dt.days,
        "next_appointment": open_rows["client_id"].map(upcoming),
        "risk": risk,
        "reasons": _reasons(design.terms, X_open, contributions, coef, binary, reasons),
    }).sort_values("risk", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    if therapist is not None:
        table = table.loc[table["therapist_id"] == therapist].reset_index(drop=True)
    return WatchListResult(table, coefficients, accuracy, calibration, _takeaway(table, accuracy),
                           model_notes(coefficients), _booked_note(upcoming, today), warnings=warnings, n_used=len(open_rows),
                           n_left_out=open_before - len(open_rows))


def next_appointments(booked: pd.DataFrame | None, after: pd.Timestamp) -> pd.Series:
    """Each client's first appointment booked after `after` (client_id -> date); empty when none."""
    if booked is None or booked.empty:
        return pd.Series(dtype="datetime64[ns]")
    future = booked.loc[booked["date"] > after]
    return future.groupby("client_id")["date"].min()


def _booked_note(upcoming: pd.Series, after: pd.Timestamp) -> str:
    if len(upcoming):
        return ""
    return (f"The export holds no appointments booked after {after:%d %B %Y}, so the next booked appointment "
            "is not shown. Export future appointments too to see it.")


_MARKER_PHRASES = {
    "missed_last": "Missed the last appointment.",
    "recent_rupture": "Had an alliance rupture in the last two ratings.",
    "no_rating": "Has no alliance rating yet.",
    "prior_negative_therapy": "Had a negative experience of therapy before.",
    "trauma_history": "Has a trauma history.",
}
# Numeric features with a reason for the direction that raises risk: (sign of coef, sentence, plural).
_NUMBER_PHRASES = {
    "srs_last": (-1, "The latest alliance rating was low (SRS {}).", None),
    "attended_so_far": (-1, "Only {} session attended so far.", "Only {} sessions attended so far."),
    "misses_so_far": (1, "{} missed appointment so far.", "{} missed appointments so far."),
}


def _phrases(term: str, values: np.ndarray, coef: float, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """Why a feature raises a client's risk, as a sentence, and whether it can be a reason at all: a
    0/1 feature only when present and risk-raising; a number only in its risk-raising direction."""
    if binary:
        words = _MARKER_PHRASES.get(term, f"{column_label(term)}." if "[" in term else f"{column_label(term)}: yes.")
        return np.full(len(values), words, dtype=object), (values == 1) & (coef > 0)
    default = f"{'Higher' if coef > 0 else 'Lower'} {sentence_label(term)} ({{}})."
    sign, one, many = _NUMBER_PHRASES.get(term, (np.sign(coef), default, None))
    shown = pd.Series(values).round(1).map("{:g}".format).to_numpy(dtype=object)
    words = np.array([(many if many and v != 1 else one).replace("{}", text) for v, text in zip(values, shown)],
                     dtype=object)
    return words, np.full(len(values), np.sign(coef) == sign and coef != 0)


def model_notes(coefficients: pd.DataFrame) -> list[str]:
    """A sentence for each feature whose weight in the model reads against the direction it is known
    to push the risk (a rupture, a missed appointment raise it; a higher rating, more sessions lower
    it): which way the weight reads, and why that is not what it means."""
    notes = []
    for row in coefficients.itertuples():
        expected = _RAISES_RISK.get(row.term)
        if expected is None or np.sign(np.log(row.odds_ratio)) in (0, expected):
            continue
        reads = "less" if expected > 0 else "more"
        why = _WHY_REVERSED.get(row.term, "it overlaps with the other features, which carry its link with dropout")
        notes.append(f"{column_label(row.term)}: the model's odds ratio is {row.odds_ratio:.2f} (on its own "
                     f"{row.odds_ratio_alone:.2f}), which reads as {reads} dropout. It does not mean {reads} risk: "
                     f"{why}. It is never given as a reason on the list.")
    return notes


# The direction each feature is known to push the risk (+1 raises it): the published links the
# watch list is built on (DESIGN.md: alliance, attendance, earlier negative therapy).
_RAISES_RISK = {"attended_so_far": -1, "misses_so_far": 1, "missed_last": 1, "srs_last": -1, "recent_rupture": 1,
                "no_rating": 1, "prior_negative_therapy": 1}
_WHY_REVERSED = {
    "recent_rupture": "a rupture is a sudden fall in the rating, and the rating it fell to is already in the model; "
                      "of two clients with the same latest rating, the one who fell to it from higher often recovers, "
                      "the one whose rating has been low all along does not, and only clients rated twice (who stayed "
                      "past their first sessions) can have a rupture at all. The risk sits in the low rating itself, "
                      "and a rupture is the moment to talk about it with the client",
    "misses_so_far": "the most recent miss and the sessions attended, both in the model, carry most of what the count "
                     "of misses says",
}


def _reasons(terms: list[str], X: np.ndarray, contributions: np.ndarray, coef: np.ndarray, binary: np.ndarray, top: int) -> np.ndarray:
    """The up-to-`top` features raising each client's risk most, one sentence each."""
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
        joined = joined + np.where(chosen[:, k] != "", " " + chosen[:, k].astype(object), "")
    return np.where(joined == "", "Nothing stands out.", joined)


def auc_reading(accuracy: pd.Series) -> tuple[str, str]:
    """The held-out AUC as the page shows it, and the caption under it: its interval, or why it has none."""
    figure = f"{accuracy['auc']:.2f}" if np.isfinite(accuracy["auc"]) else "unknown"
    if _has_interval(accuracy):
        interval = f"95% CI {accuracy['ci_lower']:.2f} to {accuracy['ci_upper']:.2f} (DeLong)."
    else:
        interval = "No interval: too few of the held-out episodes ended each way."
    return figure, f"{interval} 0.5 is a coin toss, 1 a perfect ranking."


def _has_interval(accuracy: pd.Series) -> bool:
    """DeLong's interval needs two held-out dropouts and two completions (auc_delong)."""
    return bool(np.isfinite([accuracy["ci_lower"], accuracy["ci_upper"]]).all())


def ranking_reading(accuracy: pd.DataFrame) -> str:
    """Whether the ranking can be relied on, from its AUC on the held-out ended episodes (the
    page's takeaway and the meeting summary say the same)."""
    a = accuracy.iloc[0]
    if not np.isfinite(a["auc"]):
        return ("The ended episodes the model had not seen all ended the same way, so how well it ranks cannot be "
                "judged: do not rely on it.")
    if not _has_interval(a):
        return (f"Too few of the ended episodes the model had not seen ended each way to judge the ranking "
                f"(AUC {a['auc']:.2f}, no interval): do not rely on it.")
    interval = f"AUC {a['auc']:.2f}, 95% CI {a['ci_lower']:.2f} to {a['ci_upper']:.2f} on ended episodes the model had not seen"
    if not a["ci_lower"] > 0.5:
        return f"The ranking is no better than chance could give ({interval}): do not rely on it."
    quality = "good" if a["auc"] >= 0.8 else "fair" if a["auc"] >= 0.7 else "modest"
    return f"The model's ranking is {quality} ({interval}): use it to decide whom to check in with, not as a verdict."


def _takeaway(table: pd.DataFrame, accuracy: pd.DataFrame) -> str:
    if table.empty:
        return "No open episodes to rank."
    high = int((table["risk"] >= 0.5).sum())
    return (f"{len(table)} clients are in therapy now; {high} {'has' if high == 1 else 'have'} an estimated "
            f"dropout risk of 50% or more. {ranking_reading(accuracy)}")
