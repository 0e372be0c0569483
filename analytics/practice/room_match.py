"""The room, the therapist-client match and the five habits, each set against dropout.

Every association is shown twice: the raw dropout rate per level (Wilson intervals, known outcomes
only) and a hazard ratio from a Cox model (analytics.survival.cox.fit_cox, Efron ties, standard errors
clustered by therapist) adjusted for case mix: the referral source, diagnosis group, age, prior
negative therapy and trauma history, whichever are recorded. Each factor is fitted in its own model
with the case mix (not with the other factors), so each hazard ratio answers "clients alike in case
mix, differing in this one thing". Where the site is known every model is stratified by site, so
clients are compared within a site (its own baseline hazard), not across buildings. Room ratings
are per one point higher, the age gap per 10 years, markers and matches yes against no.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import partial
from typing import Callable, ClassVar

import numpy as np
import pandas as pd

from analytics.caseload import fits_in_threads
from analytics.models.design import Encodings
from analytics.practice.display import in_words, sentence_label
from analytics.proportions import (
    RATE_COUNTS,
    RATE_PRIVACY,
    add_rate,
    dropout_rates,
    known_counts,
    percent,
    wilson_interval,
    yes_no,
)
from analytics.results import Privacy, Reported
from analytics.schema import (
    CLIENT_COLUMNS,
    ENVIRONMENT_RATINGS,
    EVENT_COMPLETED,
    EVENT_DROPOUT,
    MATCH_FACTORS,
)
from analytics.suppression import suppress_small_cells
from analytics.survival.cox import fit_cox
from analytics.survival.cox_results import has_estimate

CASE_MIX = ("referral", "diagnosis", "age", "prior_negative_therapy", "trauma_history")
MATCH_LABELS = {
    "gender_match": "same gender as the therapist",
    "ethnicity_match": "same ethnicity as the therapist",
    "religion_match": "same religion as the therapist",
    "language_match": "therapist speaks the client's language",
    "age_gap_10": "age gap to the therapist (per 10 years)",
}
# The five habits: (habit, marker column(s), what the marker records).
HABITS = (
    ("Be transparent", ("expectations_explained",), "expectations explained at intake"),
    ("Consider background", ("background_discussed",), "background (culture, beliefs, history) discussed"),
    ("Create a safe space", ("env_privacy", "env_comfort"), "room rated 4 or 5 for privacy and comfort (average)"),
    ("Agree on goals", ("goals_agreed",), "goals agreed with the client"),
    ("Adapt the approach", ("approach_adapted",), "approach adapted to the client"),
)
HR_COLUMNS = ["hr", "hr_ci_lower", "hr_ci_upper", "p", "n_used", "events"]
_TRUE_WORDS = {"1", "yes", "y", "true", "t", "done"}
_FALSE_WORDS = {"0", "no", "n", "false", "f", "not done"}
# Columns the episodes table always means as something else (counts, outcomes, known covariates).
_NOT_RATINGS = set(CLIENT_COLUMNS) | set(MATCH_FACTORS) | {
    "sessions_scheduled", "sessions_attended", "missed", "ruptures", "wai_ruptures",
}

HAZARD_PRIVACY = Privacy(("n_used", "events"))  # the adjusted hazard ratios beside the rates
# The scorecard as a director's table: each habit on one line (what it means and its reading are
# the sentences above it; the model's p, clients and events, and the marker's column names, are the
# researchers' full table).
SCORECARD_COLUMNS = ["habit", "found", "clients_recorded", "done", "prevalence", "prevalence_ci_lower",
                     "prevalence_ci_upper", "known_with", "dropouts_with", "rate_with", "known_without",
                     "dropouts_without", "rate_without", "hr", "hr_ci_lower", "hr_ci_upper"]


@dataclass
class FactorResult(Reported):
    """Dropout rate per level of each factor (`rates`) and one adjusted hazard ratio per factor."""

    table: pd.DataFrame
    hazard: pd.DataFrame
    adjusted_for: list[str]
    takeaway: str
    by_site: pd.DataFrame | None = None
    privacy: ClassVar[Privacy] = RATE_PRIVACY


@dataclass
class Scorecard(Reported):
    """The five habits: marker, prevalence, dropout with and without, adjusted hazard ratio, reading."""

    table: pd.DataFrame
    adjusted_for: list[str]
    takeaway: str
    privacy: ClassVar[Privacy] = Privacy(
        ("clients_recorded", "done", "known_with", "dropouts_with", "known_without", "dropouts_without"),
        {"done": ("prevalence", "prevalence_ci_lower", "prevalence_ci_upper"), "dropouts_with": ("rate_with",),
         "known_with": ("rate_with",), "dropouts_without": ("rate_without",), "known_without": ("rate_without",)},
    )


def as_marker(series: pd.Series) -> pd.Series:
    """A yes/no marker as 1.0/0.0 (numbers: above 0 is yes; words: yes/no, true/false), else NaN."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return (series > 0).astype(float).where(series.notna())
    words = series.astype("string").str.strip().str.casefold()
    return pd.Series(np.select([words.isin(_TRUE_WORDS), words.isin(_FALSE_WORDS)], [1.0, 0.0], np.nan),
                     index=series.index)


def rating_columns(episodes: pd.DataFrame) -> list[str]:
    """The room ratings present: env_* columns and any other whole-number column rated 1 to 5."""
    found = [c for c in ENVIRONMENT_RATINGS if c in episodes and episodes[c].notna().any()]
    for column in episodes.columns:
        if column in found or column in _NOT_RATINGS or column.startswith(("therapist_", "srs_", "wai_", "ors_")):
            continue
        values = episodes[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        known = values.dropna()
        if known.nunique() >= 3 and known.between(1, 5).all() and (known == known.round()).all():
            found.append(column)
    return found


def case_mix(episodes: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """Case-mix covariates recorded for at least 80% of clients, with at least two values."""
    return [
        c for c in CASE_MIX
        if c in episodes and c not in exclude and episodes[c].nunique() >= 2 and episodes[c].notna().mean() >= 0.8
    ]


def case_mix_sentence(adjust: list[str]) -> str:
    """What the hazard ratios are adjusted for, in words (the page's introduction)."""
    if not adjust:
        return f"No case-mix columns ({', '.join(_words(CASE_MIX).values())}) were found, so the hazard ratios are unadjusted."
    return f"Case mix here: {', '.join(_words(adjust).values())}."


def adjusted_hazard(episodes: pd.DataFrame, column: str, adjust: list[str], strata: list[str] | None = None,
                    encodings: Encodings | None = None) -> tuple[dict, list[str]]:
    """Hazard ratio of `column` (a number or a 0/1 marker) adjusted for `adjust`; NaN with a
    warning when the model cannot be fitted. `encodings` shares the work on the table's columns
    between the models of one table."""
    empty = dict.fromkeys(HR_COLUMNS, np.nan)
    covariates = [column] + [c for c in adjust if c != column]
    try:
        result = fit_cox(episodes, covariates, strata=strata or None, encodings=encodings)
    except ValueError as problem:
        return empty, [f"{column}: {problem}"]
    row = result.table.loc[result.table["term"] == column]
    warnings = [f"{column}: {w}" for w in result.warnings]
    if row.empty:
        return empty, warnings + [f"{column} could not be estimated (it does not vary among the clients used)."]
    r = row.iloc[0]
    return {"hr": r["hr"], "hr_ci_lower": r["hr_ci_lower"], "hr_ci_upper": r["hr_ci_upper"], "p": r["p"],
            "n_used": result.n_used, "events": result.events}, warnings


def adjusted_hazards(data: pd.DataFrame, models: list[tuple[str, list[str]]],
                     strata: list[str] | None) -> list[tuple[dict, list[str]]]:
    """`adjusted_hazard` for each (column, adjust) of one table, the models side by side in threads
    (NumPy's loops and BLAS let go of the interpreter lock)."""
    return fits_in_threads(operator.call, hazard_tasks(data, models, strata))


def hazard_tasks(data: pd.DataFrame, models: list[tuple[str, list[str]]],
                 strata: list[str] | None) -> list[Callable[[], tuple[dict, list[str]]]]:
    """`adjusted_hazard` for each (column, adjust) of one table, to be run: the models share the
    table's encodings of their covariates and strata, worked out now, before they run side by side
    (the outcome's and cluster's missing-value masks, quick, are worked out as the fits need them)."""
    needed = {c for column, adjust in models for c in [column, *adjust]} | set(strata or [])
    encodings = Encodings(data).read([c for c in data.columns if c in needed])
    return [partial(adjusted_hazard, data, column, adjust, strata, encodings) for column, adjust in models]


def _site_strata(episodes: pd.DataFrame) -> list[str] | None:
    return ["site"] if "site" in episodes and episodes["site"].nunique() >= 2 and episodes["site"].notna().all() else None


def _level_rates(episodes: pd.DataFrame, columns: list[str], extra: list[str] | None = None) -> pd.DataFrame:
    """One long table: factor, level (and `extra` keys), counts, rate and Wilson interval."""
    blocks = []
    for column in columns:
        table = dropout_rates(episodes, [column] + list(extra or []))
        blocks.append(table.rename(columns={column: "level"}).assign(factor=column))
    if not blocks:
        return pd.DataFrame(columns=["factor", "level", "clients", "known", "dropouts", "rate", "ci_lower", "ci_upper"])
    table = pd.concat(blocks, ignore_index=True)
    return table[["factor", "level"] + list(extra or []) + ["clients", "known", "dropouts", "rate", "ci_lower", "ci_upper"]]


def _summed_levels(by_key: pd.DataFrame) -> pd.DataFrame:
    """`_level_rates` without its `extra` keys, from the table with them: each level's counts summed
    (the levels keep their order; every client is in one row of `by_key`)."""
    return add_rate(by_key.groupby(["factor", "level"], sort=False)[RATE_COUNTS].sum().reset_index())


def room_vs_dropout(episodes: pd.DataFrame, columns: list[str] | None = None, adjust: list[str] | None = None) -> FactorResult:
    """Dropout by room rating level and the adjusted hazard ratio per point, stratified by site."""
    columns = rating_columns(episodes) if columns is None else list(columns)
    if not columns:
        raise ValueError(
            "No room ratings found. Add 1-5 ratings to the clients file, e.g. `env_comfort`, `env_privacy`, `env_noise`, "
            "`env_temperature`, `env_seating` (how the client rated the room)."
        )
    adjust = case_mix(episodes) if adjust is None else list(adjust)
    strata = _site_strata(episodes)  # strata: every site known, so the rates by site count every client
    # The rates alongside the five models: run after them, they would leave a core idle for the last model.
    counted = partial(_level_rates, episodes, columns, ["site"] if strata else None)
    level_table, *hazards = fits_in_threads(operator.call, [counted, *hazard_tasks(
        episodes, [(c, adjust) for c in columns], strata)])
    rows, warnings = [], []
    for column, (hr, notes) in zip(columns, hazards):
        label = sentence_label(column)  # as the rates table and chart name it ("room quiet", not "noise")
        rows.append({"factor": column, "label": label, **hr})
        warnings += in_words(notes, {column: label, **_words(adjust)})
    hazard = pd.DataFrame(rows)
    by_site = level_table if strata else None
    takeaway = _hazard_takeaway(hazard, "room rating", higher_is="a room rated one point higher")
    rates = _summed_levels(level_table) if strata else level_table
    return FactorResult(rates, hazard, adjust, takeaway, by_site, warnings=warnings, **known_counts(episodes))


def match_columns(episodes: pd.DataFrame) -> list[str]:
    """Match factors present: the derived matches, the age gap, and any values-alignment score."""
    found = [c for c in ("gender_match", "ethnicity_match", "religion_match", "language_match", "age_gap")
             if c in episodes and episodes[c].notna().any()]
    found += [c for c in episodes.columns if ("values" in c.lower() or "alignment" in c.lower())
              and pd.api.types.is_numeric_dtype(episodes[c]) and episodes[c].notna().any()]
    return found


def match_vs_dropout(episodes: pd.DataFrame, adjust: list[str] | None = None) -> FactorResult:
    """Dropout with and without each kind of match, and each match's hazard ratio adjusted for case
    mix (age is left out of the adjustment for the age gap, which it partly determines)."""
    columns = match_columns(episodes)
    if not columns:
        raise ValueError(
            "No match factors can be computed. They need the same attribute on both sides: gender, ethnicity, "
            "religion, language or age in the clients file and gender, ethnicity, religion, languages or age in "
            "the therapists file (or a values-alignment score column)."
        )
    data = episodes
    if "age_gap" in columns:
        data = episodes.assign(age_gap_10=episodes["age_gap"] / 10,
                               age_gap_band=pd.cut(episodes["age_gap"], [-np.inf, 10, 20, np.inf], right=False,
                                                   labels=["under 10 years", "10-19 years", "20 years or more"]))
    adjusted = case_mix(data) if adjust is None else list(adjust)
    strata = _site_strata(data)
    terms = ["age_gap_10" if column == "age_gap" else column for column in columns]
    models = [(term, [c for c in adjusted if c != "age"] if term == "age_gap_10" and adjust is None else adjusted)
              for term in terms]
    rows, warnings = [], []
    for term, (hr, notes) in zip(terms, adjusted_hazards(data, models, strata)):
        label = MATCH_LABELS.get(term, term.replace("_", " "))
        rows.append({"factor": term, "label": label, **hr})
        warnings += in_words(notes, {term: label, **_words(adjusted)})
    hazard = pd.DataFrame(rows)
    rate_columns = ["age_gap_band" if c == "age_gap" else c for c in columns if c == "age_gap" or data[c].nunique() <= 5]
    rates = _level_rates(data.assign(**{c: yes_no(data[c]) for c in rate_columns}), rate_columns)
    takeaway = _hazard_takeaway(hazard, "match factor", higher_is="a match")
    return FactorResult(rates, hazard, adjusted, takeaway, None, warnings=warnings, **known_counts(episodes))


def _words(columns: list[str]) -> dict[str, str]:
    """The case mix's columns in the words of the display dictionary, inside a sentence."""
    return {c: sentence_label(c) for c in columns}


def _hazard_takeaway(hazard: pd.DataFrame, what: str, higher_is: str) -> str:
    clear = hazard.loc[(hazard["hr_ci_upper"] < 1) | (hazard["hr_ci_lower"] > 1)]
    if hazard["hr"].isna().all():
        return f"No adjusted comparison could be made for any {what}; see the notes below."
    if clear.empty:
        return f"No {what} shows a clear link with dropout once case mix is taken into account."
    parts = [f"{row.label} (hazard ratio {row.hr:.2f}, {'less' if row.hr < 1 else 'more'} dropout)"
             for row in clear.itertuples()]
    return "Clearly linked with dropout after adjusting for case mix: " + "; ".join(parts) + "."


def habit_columns(episodes: pd.DataFrame) -> list[str]:
    """The columns measuring any of the five habits that hold a value (see habit_marker)."""
    return [c for _, columns, _ in HABITS for c in columns if c in episodes and episodes[c].notna().any()]


def habit_marker(episodes: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series | None:
    """The habit as 1/0 per client: a marker column, or for the safe space the mean of the room's
    privacy and comfort ratings at 4 or more. None when none of the columns is there."""
    present = [c for c in columns if c in episodes and episodes[c].notna().any()]
    if not present:
        return None
    if len(columns) == 1:
        return as_marker(episodes[present[0]])
    rating = episodes[present].astype(float).mean(axis=1)
    return (rating >= 4).astype(float).where(rating.notna())


def habits_scorecard(episodes: pd.DataFrame, adjust: list[str] | None = None, suppress_below: int = 11) -> Scorecard:
    """For each of the five habits: the marker found (or the column that would measure it), how
    often it is done (Wilson interval), dropout with and without it, and its adjusted hazard ratio.
    Readings and the takeaway do not quote a habit done (or not done) for fewer than `suppress_below` clients."""
    adjust = case_mix(episodes) if adjust is None else list(adjust)
    event = episodes["event"].to_numpy()
    known = np.isin(event, (EVENT_DROPOUT, EVENT_COMPLETED))
    dropout = event == EVENT_DROPOUT
    strata = _site_strata(episodes)
    markers = [habit_marker(episodes, columns) for _, columns, _ in HABITS]
    names = [f"habit_marker_{i}" for i in range(len(HABITS))]  # one table for the five models
    data = episodes.assign(**{n: m for n, m in zip(names, markers) if m is not None})
    found = [name for name, marker in zip(names, markers) if marker is not None]
    hazards = dict(zip(found, adjusted_hazards(data, [(name, adjust) for name in found], strata)))
    rows, warnings = [], []
    for (habit, columns, meaning), marker, name in zip(HABITS, markers, names):
        row = {"habit": habit, "marker": " + ".join(columns), "meaning": meaning, "found": marker is not None}
        if marker is None:
            row["reading"] = f"Not measured: add a `{columns[0]}` column" + (
                f" (or `{columns[1]}`)" if len(columns) > 1 else "") + " to the clients file to see this habit."
            rows.append(row)
            continue
        m = marker.to_numpy()
        recorded = ~np.isnan(m)
        done = int((m == 1).sum())
        lower, upper = wilson_interval(done, recorded.sum())
        with_k, with_n = int((dropout & (m == 1)).sum()), int((known & (m == 1)).sum())
        without_k, without_n = int((dropout & (m == 0)).sum()), int((known & (m == 0)).sum())
        hr, notes = hazards[name]
        warnings += in_words(notes, {name: habit.lower(), **_words(adjust)})
        row.update({
            "clients_recorded": int(recorded.sum()), "done": done,
            "prevalence": done / recorded.sum() if recorded.sum() else np.nan,
            "prevalence_ci_lower": float(lower), "prevalence_ci_upper": float(upper),
            "known_with": with_n, "dropouts_with": with_k, "rate_with": with_k / with_n if with_n else np.nan,
            "known_without": without_n, "dropouts_without": without_k,
            "rate_without": without_k / without_n if without_n else np.nan,
            **hr,
        })
        row["reading"] = _habit_reading(row)
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ["clients_recorded", "done", "prevalence", "prevalence_ci_lower", "prevalence_ci_upper",
                   "known_with", "dropouts_with", "rate_with", "known_without", "dropouts_without",
                   "rate_without"] + HR_COLUMNS:
        if column not in table:
            table[column] = np.nan
    table = table[["habit", "marker", "meaning", "found", "clients_recorded", "done", "prevalence",
                   "prevalence_ci_lower", "prevalence_ci_upper", "known_with", "dropouts_with", "rate_with",
                   "known_without", "dropouts_without", "rate_without"] + HR_COLUMNS + ["reading"]]
    small = suppress_small_cells(table.assign(not_done=table["clients_recorded"] - table["done"]),
                                 ["done", "not_done"], suppress_below)["suppressed"].to_numpy()
    table.loc[small, "reading"] = "Recorded for too few clients either way to report without revealing small numbers."
    return Scorecard(table, adjust, _scorecard_takeaway(table.loc[~small | ~table["found"]]), warnings=warnings,
                     **known_counts(episodes))


def _habit_reading(row: dict) -> str:
    share = f"Done for {percent(row['prevalence'])} of clients"
    if not has_estimate(row):
        return share + "; its link with dropout could not be estimated."
    interval = f"hazard ratio {row['hr']:.2f}, 95% CI {row['hr_ci_lower']:.2f} to {row['hr_ci_upper']:.2f}"
    if row["hr_ci_upper"] < 1:
        return f"{share}; clients for whom it was done dropped out less ({interval}). Worth making routine."
    if row["hr_ci_lower"] > 1:
        return f"{share}; it goes with more dropout ({interval}): look at how it is done."
    return f"{share}; no clear link with dropout in this caseload ({interval})."


def _scorecard_takeaway(table: pd.DataFrame) -> str:
    helpful = table.loc[table["hr_ci_upper"] < 1]
    missing = table.loc[~table["found"], "habit"].tolist()
    if helpful.empty:
        text = "No recorded habit shows a clear link with less dropout here."
    else:
        best = helpful.sort_values("prevalence").iloc[0]
        text = (
            f"{', '.join(helpful['habit'])} go{'es' if len(helpful) == 1 else ''} with less dropout. "
            f"The least often done of these, '{best['habit'].lower()}' ({percent(best['prevalence'])} of clients), "
            "is where a change could help most."
        )
    if missing:
        text += f" Not measured: {', '.join(h.lower() for h in missing)}."
    return text
