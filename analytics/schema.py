"""The canonical data model: table and column names, allowed values and measurement scales.

One name for one thing: every module, page and document uses these names, so a column means
the same everywhere from the importer to the exported table.
"""

from analytics.outcomes.measures import MEASURES

SESSION_STATUSES = ("attended", "no_show", "late_cancel", "cancelled", "clinician_cancelled")
CLIENT_MISSES = ("no_show", "late_cancel", "cancelled")
TERMINATIONS = ("dropout", "completed", "ongoing", "transferred", "other")

DEFINITIONS = ("therapist_judged", "unilateral", "early", "unilateral_unimproved")
DEFINITION_LABELS = {
    "therapist_judged": "Therapist-judged",
    "unilateral": "Unilateral (missed last appointment)",
    "early": "Early (few sessions attended)",
    "unilateral_unimproved": "Unilateral before reliable improvement",
}
# How each episode ended, read from the appointments and the outcome measure (see episodes.py).
ENDINGS = ("completed", "left_improved", "left_unimproved", "ongoing", "other")
LEFT = ("left_improved", "left_unimproved")
TIME_SCALES = ("sessions", "days")

EVENT_CENSORED, EVENT_DROPOUT, EVENT_COMPLETED = 0, 1, 2
EVENT_LABELS = {EVENT_CENSORED: "ongoing or censored", EVENT_DROPOUT: "dropout", EVENT_COMPLETED: "completed"}

# Closed measurement scales: (low, high). Ratings are the 1-5 room and environment ratings.
SCALES = {
    "srs": (0, 40),
    "wai": (12, 60),
    **{name: (m.low, m.high) for name, m in MEASURES.items()},
    "env_comfort": (1, 5),
    "env_privacy": (1, 5),
    "env_noise": (1, 5),
    "env_temperature": (1, 5),
    "env_seating": (1, 5),
}
SRS_CUTOFF = 36
# The built-in outcome measures (analytics/outcomes/measures.py holds their thresholds and sources).
OUTCOME_MEASURES = tuple(MEASURES)

SESSION_REQUIRED = ("client_id", "date", "status")
SESSION_COLUMNS = ("client_id", "therapist_id", "date", "status", "srs", "wai", "ors", "telehealth", "service_code",
                   "phq9", "gad7", "oq45", "core10")

CLIENT_REQUIRED = ("client_id",)
CLIENT_COVARIATES = (
    "site", "age", "age_band", "gender", "ethnicity", "religion", "language", "referral",
    "court_mandated", "diagnosis", "trauma_history", "prior_negative_therapy", "modality",
    "telehealth", "expectations_explained", "background_discussed", "goals_agreed",
    "approach_adapted", "env_comfort", "env_privacy", "env_noise", "env_temperature", "env_seating",
)
CLIENT_COLUMNS = ("client_id", "therapist_id", "intake_date", "termination", "duration", "event") + CLIENT_COVARIATES

THERAPIST_REQUIRED = ("therapist_id",)
THERAPIST_COLUMNS = (
    "therapist_id", "gender", "ethnicity", "religion", "languages", "age", "experience_years",
    "trainee", "orientation", "site",
)
# Therapist attributes enter the episodes table under this prefix (`therapist_trainee`, ...).
THERAPIST_PREFIX = "therapist_"

ENVIRONMENT_RATINGS = ("env_comfort", "env_privacy", "env_noise", "env_temperature", "env_seating")
HABIT_MARKERS = ("expectations_explained", "background_discussed", "goals_agreed", "approach_adapted")
MATCH_FACTORS = ("gender_match", "ethnicity_match", "religion_match", "language_match", "age_gap")
ALLIANCE_MEASURES = ("srs", "wai")
# Measures taken during therapy that a landmark analysis reads up to session k (analytics/survival/landmark.py).
LANDMARK_MEASURES = ("missed", "ruptures", "srs_mean")

TABLES = ("sessions", "clients", "therapists")


def letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ... (bijective base 26): spreadsheet column names and the
    anonymous therapist labels use the same letters."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out
