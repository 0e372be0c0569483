"""The data dictionary (every canonical column: table, required, type, allowed values, meaning)
and blank template files, built from analytics.schema so documentation and checks never disagree.

The column types here are also what the importer converts to and checks against.
"""

from __future__ import annotations

import pandas as pd

from analytics.outcomes import MEASURES
from analytics.schema import (
    CLIENT_COLUMNS,
    CLIENT_REQUIRED,
    ENVIRONMENT_RATINGS,
    HABIT_MARKERS,
    SCALES,
    SESSION_COLUMNS,
    SESSION_REQUIRED,
    SESSION_STATUSES,
    TERMINATIONS,
    THERAPIST_COLUMNS,
    THERAPIST_REQUIRED,
)

COLUMNS = {"sessions": SESSION_COLUMNS, "clients": CLIENT_COLUMNS, "therapists": THERAPIST_COLUMNS}
REQUIRED = {"sessions": SESSION_REQUIRED, "clients": CLIENT_REQUIRED, "therapists": THERAPIST_REQUIRED}

FLAGS = ("telehealth", "court_mandated", "trauma_history", "prior_negative_therapy", "trainee") + HABIT_MARKERS
NUMBERS = ("age", "duration", "experience_years")
TYPE_NAMES = {
    "id": "identifier (text)",
    "date": "date",
    "status": "category",
    "termination": "category",
    "score": "number on a closed scale",
    "number": "number",
    "event": "0, 1 or 2",
    "flag": "yes/no (stored as 1/0)",
    "text": "text (category)",
}

MEANINGS = {
    ("sessions", "client_id"): "Pseudonymous client code; the same code in every file.",
    ("sessions", "therapist_id"): "Code of the therapist who held (or was to hold) the appointment.",
    ("sessions", "date"): "Date of the appointment (time of day is ignored).",
    ("sessions", "status"): "What happened to the appointment: attended, the client missed it "
                            "(no_show, late_cancel, cancelled) or the clinician cancelled it.",
    ("sessions", "srs"): "Session Rating Scale total (alliance, client-rated at the end of the session; below 36 flags concern).",
    ("sessions", "wai"): "Working Alliance Inventory, short revised (WAI-SR) total.",
    ("sessions", "ors"): "Outcome Rating Scale total (wellbeing; below 25 is the clinical range).",
    ("sessions", "telehealth"): "The appointment was held by video or phone.",
    ("sessions", "service_code"): "Billing or service code of the appointment (e.g. CPT 90837).",
    **{("sessions", m.name): (f"{m.label} total ({m.direction}; {m.caseness_rule} is the clinical range, "
                              f"a change of {m.reliable_change:g} points is reliable).")
       for m in MEASURES.values() if m.name != "ors"},
    ("clients", "client_id"): "Pseudonymous client code; matches client_id in the sessions file.",
    ("clients", "therapist_id"): "The client's main therapist (otherwise the one with most attended sessions).",
    ("clients", "intake_date"): "Date the episode started (otherwise the first appointment).",
    ("clients", "termination"): "How the therapist recorded the ending: dropout (unilateral, unplanned), completed "
                                "(planned), ongoing, transferred or other.",
    ("clients", "duration"): "For a researcher's own episode table: time in treatment (sessions or days).",
    ("clients", "event"): "For a researcher's own episode table: 0 ongoing/censored, 1 dropout, 2 completed.",
    ("clients", "site"): "Clinic site or office.",
    ("clients", "age"): "Age in years at intake.",
    ("clients", "age_band"): "Age group when the exact age is not exported (e.g. 18-25).",
    ("clients", "gender"): "Client's gender.",
    ("clients", "ethnicity"): "Client's ethnicity or race as recorded.",
    ("clients", "religion"): "Client's religion, if recorded.",
    ("clients", "language"): "Client's preferred language.",
    ("clients", "referral"): "Referral source: self, partner/family, GP/physician, court-mandated, ...",
    ("clients", "court_mandated"): "Treatment was mandated by a court.",
    ("clients", "diagnosis"): "Diagnosis group at intake.",
    ("clients", "trauma_history"): "A trauma history was recorded.",
    ("clients", "prior_negative_therapy"): "The client reported a previous negative experience of therapy.",
    ("clients", "modality"): "Treatment modality (individual, couple, group, ...).",
    ("clients", "telehealth"): "Treatment was mainly by video or phone.",
    ("clients", "expectations_explained"): "Habit marker: what therapy involves was explained at intake.",
    ("clients", "background_discussed"): "Habit marker: the client's background and culture were discussed.",
    ("clients", "goals_agreed"): "Habit marker: goals were agreed together.",
    ("clients", "approach_adapted"): "Habit marker: the approach was adapted to the client.",
    ("clients", "env_comfort"): "Client's rating of the room's comfort.",
    ("clients", "env_privacy"): "Client's rating of privacy (not overheard).",
    ("clients", "env_noise"): "Client's rating of quiet (5 = quiet).",
    ("clients", "env_temperature"): "Client's rating of the room temperature.",
    ("clients", "env_seating"): "Client's rating of the seating.",
    ("therapists", "therapist_id"): "Pseudonymous therapist code; matches therapist_id in the other files.",
    ("therapists", "gender"): "Therapist's gender.",
    ("therapists", "ethnicity"): "Therapist's ethnicity or race.",
    ("therapists", "religion"): "Therapist's religion, if recorded.",
    ("therapists", "languages"): "Languages the therapist works in, separated by ; or ,.",
    ("therapists", "age"): "Therapist's age in years.",
    ("therapists", "experience_years"): "Years of clinical experience.",
    ("therapists", "trainee"): "The therapist is a trainee or intern.",
    ("therapists", "orientation"): "Theoretical orientation (CBT, psychodynamic, integrative, ...).",
    ("therapists", "site"): "The therapist's main site.",
}


def column_type(column: str) -> str:
    """The kind of a canonical column, which decides its conversion and checks."""
    if column in ("client_id", "therapist_id"):
        return "id"
    if column in ("date", "intake_date"):
        return "date"
    if column in ("status", "termination", "event"):
        return column
    if column in SCALES:
        return "score"
    if column in NUMBERS:
        return "number"
    if column in FLAGS:
        return "flag"
    return "text"


def allowed_values(column: str) -> str:
    if column == "status":
        return ", ".join(SESSION_STATUSES)
    if column == "termination":
        return ", ".join(TERMINATIONS)
    if column == "event":
        return "0, 1, 2"
    if column in SCALES:
        low, high = SCALES[column]
        return f"{low}-{high}" + (" (1 = poor, 5 = good)" if column in ENVIRONMENT_RATINGS else "")
    if column_type(column) == "flag":
        return "yes/no, true/false or 1/0"
    if column_type(column) == "date":
        return "any one date format per column (ISO, MM/DD/YYYY, DD/MM/YYYY, ...)"
    return ""


def data_dictionary() -> pd.DataFrame:
    """One row per canonical column: table, column, required, type, allowed, meaning."""
    rows = [
        {
            "table": table,
            "column": column,
            "required": column in REQUIRED[table],
            "type": TYPE_NAMES[column_type(column)],
            "allowed": allowed_values(column),
            "meaning": MEANINGS.get((table, column), ""),
        }
        for table, columns in COLUMNS.items()
        for column in columns
    ]
    return pd.DataFrame(rows, columns=["table", "column", "required", "type", "allowed", "meaning"])


def template_csv(table: str) -> bytes:
    """A blank CSV for `table`: the canonical header row only."""
    if table not in COLUMNS:
        raise ValueError(f"No template for '{table}'; use one of {', '.join(COLUMNS)}.")
    return (",".join(COLUMNS[table]) + "\n").encode("utf-8")


def dictionary_markdown() -> str:
    """The data dictionary as a markdown table per table (for the README)."""
    out = []
    for table, rows in data_dictionary().groupby("table", sort=False):
        out.append(f"**{table}**\n")
        out.append("| column | required | type | allowed | meaning |")
        out.append("|---|---|---|---|---|")
        for row in rows.itertuples():
            out.append(f"| `{row.column}` | {'yes' if row.required else ''} | {row.type} | {row.allowed} | {row.meaning} |")
        out.append("")
    return "\n".join(out)
