"""The one dictionary of display labels a director reads: words for column names and coded levels,
rates as percentages, dates as dates, a dash for a missing value, no scientific notation. Every
director table (ui/widgets.py), director view and chart takes its words from here, so a column
or an ending reads the same everywhere (the colour of each ending: analytics/charts/theme.py)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

MISSING = "–"
HIDDEN = "hidden"

COLUMN_LABELS = {
    # counts
    "clients": "Clients", "known": "Clients with a known outcome", "dropouts": "Dropouts", "ongoing": "Still in therapy",
    "paired": "Clients with a first and last score", "unpaired": "Clients without two scores", "improved": "Improved",
    "assessed": "Clients assessed", "reached": "Clients with the outcome", "n": "Clients", "compared": "Clients compared",
    "both_dropout": "Dropout under both", "both_not": "Dropout under neither", "disagree": "Definitions disagree", "only_a": "Dropout under the first only",
    "only_b": "Dropout under the second only", "clients_rated_twice": "Clients rated at least twice",
    "clients_with_rupture": "Clients with a rupture", "ruptures": "Ruptures", "transitions": "Rated session pairs",
    "ruptured": "Clients with a rupture", "repaired": "Repaired", "not_repaired": "Not repaired",
    "not_yet_known": "Not known yet", "index_sessions": "Sessions compared", "below_cutoff": "Clients below the cutoff",
    "clients_recorded": "Clients with the habit recorded", "done": "Habit done", "known_with": "Known outcome, habit done",
    "dropouts_with": "Dropouts, habit done", "known_without": "Known outcome, habit not done",
    "dropouts_without": "Dropouts, habit not done", "n_used": "Clients in the model", "events": "Dropouts in the model",
    "sessions_attended": "Sessions attended", "session_number": "Session",
    # rates and intervals
    "rate": "Dropout rate", "shrunk_rate": "Best estimate of the rate", "ci_lower": "95% CI from", "ci_upper": "95% CI to",
    "share": "Share", "agreement": "Agreement", "agreement_ci_lower": "Agreement 95% CI from",
    "agreement_ci_upper": "Agreement 95% CI to", "prevalence": "Share of clients", "prevalence_ci_lower": "Share 95% CI from",
    "prevalence_ci_upper": "Share 95% CI to", "rate_with": "Dropout rate, habit done",
    "rate_without": "Dropout rate, habit not done", "below_cutoff_share": "Share below the cutoff",
    "per_100_transitions": "Ruptures per 100 rated session pairs", "risk": "Estimated dropout risk",
    "predicted": "Predicted risk", "observed": "Observed dropout rate", "practice_rate": "Practice rate",
    "hr": "Hazard ratio", "hr_ci_lower": "Hazard ratio 95% CI from", "hr_ci_upper": "Hazard ratio 95% CI to",
    "odds_ratio": "Odds ratio", "p": "p-value", "d": "Effect size (d)", "d_ci_lower": "Effect size 95% CI from",
    "d_ci_upper": "Effect size 95% CI to", "mean": "Mean", "sd": "Standard deviation", "median": "Median",
    "mean_first": "Mean first score", "mean_last": "Mean last score", "mean_change": "Mean change",
    # what a row is
    "therapist": "Therapist", "therapist_label": "Therapist", "client_id": "Client", "rank": "Rank",
    "reasons": "Why", "zone": "Compared with the limits", "flag": "Flag", "figure": "Figure", "value": "Value",
    "note": "Note", "label": "Label", "ending": "Ending", "outcome": "Outcome", "group": "Group", "factor": "Factor",
    "level": "Level", "habit": "Habit", "marker": "Recorded as", "meaning": "Meaning", "found": "Recorded",
    "reading": "Reading", "measure": "Measure", "term": "Characteristic", "decile": "Tenth of predicted risk",
    "intake_period": "Intake", "definition": "Definition", "definition_a": "First definition",
    "definition_b": "Second definition", "score_from": "Score from", "score_to": "Score to",
    "last_attended": "Last attended", "days_since_contact": "Days since last contact",
    "next_appointment": "Next booked appointment", "landmark": "Landmark session", "group_at_landmark": "Group at the landmark",
    # client characteristics (analytics/schema.py)
    "site": "Site", "age": "Age", "age_band": "Age band", "gender": "Gender", "ethnicity": "Ethnicity",
    "religion": "Religion", "language": "Language", "referral": "Referral", "court_mandated": "Court-mandated referral",
    "diagnosis": "Diagnosis", "trauma_history": "Trauma history", "prior_negative_therapy": "Earlier negative therapy",
    "modality": "Modality", "telehealth": "Telehealth", "expectations_explained": "Expectations explained",
    "background_discussed": "Background discussed", "goals_agreed": "Goals agreed", "approach_adapted": "Approach adapted",
    "env_comfort": "Room comfort", "env_privacy": "Room privacy", "env_noise": "Room quiet", "env_temperature": "Room temperature",
    "env_seating": "Seating", "gender_match": "Same gender", "ethnicity_match": "Same ethnicity",
    "religion_match": "Same religion", "language_match": "Shared language", "age_gap": "Age gap (years)",
    "srs_first": "First alliance rating (SRS)", "srs_last": "Latest alliance rating (SRS)", "missed": "Missed appointments",
    "srs_mean": "Mean alliance rating (SRS)", "alliance_level": "First-session alliance",
    "attended_so_far": "Sessions attended so far", "misses_so_far": "Missed appointments so far",
    "missed_last": "Missed the last appointment", "recent_rupture": "Rupture in the last two ratings",
    "no_rating": "No alliance rating yet",
    # periods (analytics/practice/periods.py)
    "kind": "Length", "role": "Compared as", "period": "Period", "month": "Month", "target": "Practice target",
    "rise": "Rise beyond chance",
}

LEVEL_LABELS = {
    "left_improved": "left after improving", "left_unimproved": "left without improving", "completed": "completed",
    "ongoing": "still in therapy", "other": "ended another way", "dropout": "dropped out",
    "therapist_judged": "therapist-judged", "unilateral": "unilateral", "early": "early",
    "unilateral_unimproved": "unilateral before reliable improvement", "within": "within the limits",
    "above": "above the limits", "below": "below the limits", "this": "this period", "previous": "the period before",
    "last year": "the same period last year",
}

# Columns that hold proportions (0-1) and read as percentages; an interval (`ci_lower`, `ci_upper`)
# is a percentage in a table whose estimate is one.
PERCENT_COLUMNS = {
    "rate", "shrunk_rate", "share", "agreement", "agreement_ci_lower", "agreement_ci_upper", "prevalence",
    "prevalence_ci_lower", "prevalence_ci_upper", "rate_with", "rate_without", "below_cutoff_share", "risk",
    "predicted", "observed", "practice_rate", "target",
}
YES_NO_COLUMNS = {"rise"}  # flags a suppressed table turns into 0/1 numbers
INTERVAL_COLUMNS = ("ci_lower", "ci_upper")
NOT_PROPORTIONS = {"mean", "hr", "d", "odds_ratio", "coef", "value"}
# A table of mixed figures (the Overview's headline) names each row in `figure`: the rows that are
# rates read as percentages in every number column.
RATE_ROWS = ("rate", "benchmark")
# Columns whose values are themselves column names or model terms (a factor, a model's term).
NAMING_COLUMNS = {"factor", "term"}

def column_label(name: str) -> str:
    """The words for a column or a model term ("referral[court-mandated]" -> "Referral: court-mandated");
    a name the dictionary lacks reads with spaces, its first letter a capital."""
    name = str(name)
    if name.endswith("]") and "[" in name:
        column, level = name[:-1].split("[", 1)
        return f"{column_label(column)}: {level_label(level)}"
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    words = name.replace("_", " ")
    return words[:1].upper() + words[1:]  # not capitalize(): it would write an acronym as "Srs"


def sentence_label(name: str) -> str:
    """The words for a column inside a sentence: its label with a small first letter, an acronym
    kept ("first alliance rating (SRS)", "PHQ-9 first score")."""
    label = column_label(name)
    first = label.split(" ", 1)[0]
    return label if first.isupper() and len(first) > 1 else label[:1].lower() + label[1:]


# Names every model's notes may hold beside its covariates: the cluster of the robust errors.
NOTE_WORDS = {"therapist_id clusters": "therapists", "therapist_id": "therapist"}


def in_words(notes: list[str], words: dict[str, str]) -> list[str]:
    """Notes (a model's warnings) as a director page words them: each column name of `words` and of
    NOTE_WORDS (whole names only, so `age` stays in `age_gap`) replaced by its words, each note
    starting with a capital."""
    words = {**NOTE_WORDS, **words}
    name = re.compile(r"\b(" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + r")\b")
    plain = (name.sub(lambda found: words[found.group(1)], note) for note in notes)
    return [note[:1].upper() + note[1:] for note in plain]


def level_label(value) -> str:
    """The words for a coded value ("left_improved" -> "left after improving"); others as they are,
    with spaces for underscores."""
    if isinstance(value, str):
        return LEVEL_LABELS.get(value, value.replace("_", " "))
    return value


def period_label(period: pd.Period) -> str:
    """A month as "May 2025", a quarter as "Q2 2025"."""
    return f"Q{period.quarter} {period.year}" if period.freqstr.startswith("Q") else period.strftime("%B %Y")


def percent_columns(table: pd.DataFrame) -> list[str]:
    """The columns of `table` read as percentages."""
    out = [c for c in table.columns if c in PERCENT_COLUMNS]
    if out and not NOT_PROPORTIONS & set(table.columns):
        out += [c for c in INTERVAL_COLUMNS if c in table]
    return out


def number(value, percent: bool = False) -> str:
    """A value as a director reads it: a percentage to one decimal, whole numbers with thousands
    separators, others to three significant digits (p below 0.001 as "<0.001"), a date as a date,
    a month or quarter in words, missing as a dash."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, pd.Period):
        return period_label(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if (value.hour, value.minute) == (0, 0) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if percent:
            return f"{100 * value:.1f}%"
        if value.is_integer():
            return f"{int(value):,}"
        if 0 < abs(value) < 0.001:
            return "<0.001"
        text = f"{value:,.3g}" if abs(value) < 1e15 else f"{value:,.0f}"
        return f"{value:,.0f}" if "e" in text else text
    return str(level_label(value))


def _numbers_or_dates(values: pd.Series) -> bool:
    """Numbers (not true/false) or dates in a plain numpy column, where equal values read alike."""
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "iufM"


def _text(values: pd.Series) -> bool:
    """Text (and missing values) only: equal values read alike, as they would not in a column that
    mixes types (1 and True are one value to a hash, "1" and "yes" to a director)."""
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string"


def _distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values; a missing date, whole number or text is coded -1 (the word after the
    distinct values' words is the dash). Numbers with a decimal point are told apart by their bits:
    equality would merge -0.0 into 0.0, which read differently; a NaN is then a value of its own,
    which `number` writes as the dash."""
    if values.dtype.kind != "f":
        return pd.factorize(values)
    codes, bits = pd.factorize(values.to_numpy(dtype=np.float64).view(np.int64))
    return codes, bits.view(np.float64)


def director_table(table: pd.DataFrame) -> pd.DataFrame:
    """`table` (masked by Privacy.suppress when it has a `suppressed` column) as text a director
    reads: headers in words, values by `number`, a masked value as "hidden"."""
    masked_rows = table["suppressed"].to_numpy() if "suppressed" in table else np.zeros(len(table), dtype=bool)
    shown = table.drop(columns="suppressed", errors="ignore")
    percents = set(percent_columns(shown))
    rate_rows = (shown["figure"].astype(str).str.contains("|".join(RATE_ROWS)).to_numpy() if "figure" in shown
                 else np.zeros(len(shown), dtype=bool))
    out = {}
    for column in shown.columns:
        values = shown[column]
        if column in NAMING_COLUMNS:
            values = values.map(lambda v: column_label(v) if isinstance(v, str) else v)
        if column in YES_NO_COLUMNS:
            values = values.map(lambda v: v if pd.isna(v) else bool(v))
        numeric = pd.api.types.is_numeric_dtype(values)
        if (_numbers_or_dates(values) and not (numeric and rate_rows.any())) or _text(values):
            codes, distinct = _distinct(values)
            words = np.array([number(v, column in percents) for v in distinct] + [MISSING], dtype=object)
            text = words[codes]  # each distinct value written once: a network's table repeats most of them
        else:
            text = [number(v, column in percents or (numeric and row)) for v, row in zip(values.to_numpy(dtype=object), rate_rows)]
        hidden = masked_rows & values.isna().to_numpy()
        out[column_label(column)] = np.where(hidden, HIDDEN, np.array(text, dtype=object))
    return pd.DataFrame(out, index=shown.index).reset_index(drop=True)
