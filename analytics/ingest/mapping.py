"""From a real export's columns and words to the canonical tables: a suggested, editable Mapping.

EHR exports call the same thing "Client ID", "Patient ID" or "MRN", and write statuses as
"Show", "Kept" or "Arrived". The Mapping is plain JSON data (canonical column -> source column,
value maps, one date format per date column) so a user can correct it and a saved recipe can
re-apply it to next month's export. Value conversions work on the distinct values only and map
back through factorized codes, so ten million rows cost what their few distinct values cost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.ingest.vocabulary import code_list, header_key, header_names, value_key
from analytics.ingest.vocabulary import words as vocabulary_words
from analytics.schema import (
    CLIENT_COLUMNS,
    SESSION_COLUMNS,
    SESSION_STATUSES,
    TABLES,
    TERMINATIONS,
    THERAPIST_COLUMNS,
)

CANONICAL_COLUMNS = {"sessions": SESSION_COLUMNS, "clients": CLIENT_COLUMNS, "therapists": THERAPIST_COLUMNS}
# Status meanings whose appointments are left out and counted: booked but not yet held,
# appointments entered in error (FHIR `entered-in-error`), and any a user leaves out on purpose.
NOT_HELD = ("not_yet_held", "entered_in_error", "left_out")
# Who cancelled, read from a second column beside the status (TheraNest's "Canceled By", FHIR's
# cancelationReason): a client or late cancellation by the clinician is a clinician cancellation.
CANCELLED_BY = ("client", "clinician")
VALUE_SETS = {"status": SESSION_STATUSES + NOT_HELD, "termination": TERMINATIONS, "cancelled_by": CANCELLED_BY}
CANCELLED_BY_HEADERS = ("cancelled_by", "cancelled by", "canceled by", "cancellation by", "cancelation by",
                        "cancelled by whom", "who cancelled", "who canceled", "cancelled_by_party")
DATE_COLUMNS = ("date", "intake_date")
ISO = "ISO8601"
DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%d.%m.%Y", "%d.%m.%y",
    "%m-%d-%Y", "%d-%m-%Y", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y", "%d %B %Y", "%B %d, %Y", "%Y%m%d",
)
FORMAT_LABELS = {"%m/%d/%Y": "MM/DD/YYYY", "%d/%m/%Y": "DD/MM/YYYY", "%Y-%m-%d": "YYYY-MM-DD", ISO: "ISO 8601",
                 "%m/%d/%y": "MM/DD/YY", "%d/%m/%y": "DD/MM/YY", "%d.%m.%Y": "DD.MM.YYYY", "%m-%d-%Y": "MM-DD-YYYY",
                 "%d-%m-%Y": "DD-MM-YYYY", "%Y/%m/%d": "YYYY/MM/DD"}
_TIME_PART = re.compile(r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)$")
_SAMPLE_VALUES = 2000

_CLIENT_ID = ("client_id", "client id", "client", "client number", "client no", "client code", "patient id", "patient",
              "patient number", "patient no", "pt id", "mrn", "medical record number", "chart number", "chart id",
              "chart no", "case id", "case number", "case no", "person id", "member id", "consumer id",
              "service user id", "individual id", "participant id", "subject id", "record id")
_THERAPIST_ID = ("therapist_id", "therapist id", "therapist", "therapist name", "therapist code", "clinician",
                 "clinician id", "clinician name", "clinician code", "provider", "provider id", "provider name",
                 "provider code", "rendering provider", "servicing provider", "primary clinician",
                 "assigned clinician", "assigned therapist", "primary therapist", "counselor", "counsellor",
                 "counselor id", "counsellor id", "staff", "staff id", "staff name", "staff member",
                 "practitioner", "practitioner id", "psychologist")
_TELEHEALTH = ("telehealth", "telehealth flag", "is telehealth", "virtual", "video", "telemedicine", "video session")
_SHARED = {
    "site": ("site", "location", "clinic", "office", "branch", "site name", "clinic name", "location name",
             "service location", "facility"),
    "age": ("age", "age at intake", "age at admission", "client age", "age years", "age at referral"),
    "gender": ("gender", "sex", "gender identity", "client gender", "sex at birth"),
    "ethnicity": ("ethnicity", "race", "race ethnicity", "ethnic group", "ethnic origin", "ethnicity race"),
    "religion": ("religion", "faith", "religious affiliation"),
}
HEADER_SYNONYMS = {
    "sessions": {
        "client_id": _CLIENT_ID + ("id",),
        "therapist_id": _THERAPIST_ID,
        "date": ("date", "date of service", "dos", "service date", "session date", "appointment date", "appt date",
                 "visit date", "date of appointment", "scheduled date", "appointment start", "start time",
                 "appointment time", "scheduled start", "date time", "datetime", "session datetime",
                 "event date", "encounter date"),
        "status": ("status", "appointment status", "appt status", "attendance", "attendance status",
                   "session status", "visit status", "encounter status", "show status", "appointment outcome",
                   "arrival status", "attended"),
        "srs": ("srs", "srs total", "srs score", "srs total score", "session rating scale"),
        "wai": ("wai", "wai sr", "wai total", "wai sr total", "working alliance", "working alliance inventory"),
        "ors": ("ors", "ors total", "ors score", "ors total score", "outcome rating scale"),
        "phq9": ("phq9", "phq 9 total", "phq 9 score", "phq9 total score", "phq", "phq 9 depression",
                 "patient health questionnaire", "patient health questionnaire 9", "depression score"),
        "gad7": ("gad7", "gad 7 total", "gad 7 score", "gad7 total score", "gad", "gad 7 anxiety",
                 "generalized anxiety disorder 7", "generalised anxiety disorder 7", "anxiety score"),
        "oq45": ("oq45", "oq 45 2", "oq45 total", "oq 45 total score", "oq", "oq total", "outcome questionnaire",
                 "outcome questionnaire 45"),
        "core10": ("core10", "core 10 total", "core 10 score", "core10 total score", "core 10 clinical score"),
        "telehealth": _TELEHEALTH,
        "service_code": ("service_code", "service code", "cpt", "cpt code", "procedure code", "billing code",
                         "service", "service type", "appointment type", "visit type", "session type"),
    },
    "clients": {
        "client_id": _CLIENT_ID + ("id",),
        "therapist_id": _THERAPIST_ID,
        "intake_date": ("intake_date", "intake date", "intake", "admission date", "admit date", "admission",
                        "start date", "episode start", "episode start date", "enrollment date", "enrolment date",
                        "case open date", "open date", "date opened", "registration date", "first contact"),
        "termination": ("termination", "termination reason", "discharge reason", "reason for discharge",
                        "discharge status", "discharge type", "reason for termination", "ending", "ending type",
                        "closure reason", "reason closed", "case status", "episode status", "treatment status",
                        "discharge disposition", "disposition", "end reason", "reason for ending", "outcome",
                        "status"),
        "duration": ("duration",),
        "event": ("event",),
        "age_band": ("age_band", "age band", "age group", "age range", "age category"),
        "language": ("language", "primary language", "preferred language", "first language", "spoken language",
                     "home language"),
        "referral": ("referral", "referral source", "referred by", "source of referral", "referral type", "referrer"),
        "court_mandated": ("court_mandated", "court mandated", "court ordered", "mandated", "court order",
                           "mandated treatment", "legal mandate"),
        "diagnosis": ("diagnosis", "primary diagnosis", "dx", "diagnosis group", "primary dx", "diagnosis category",
                      "presenting problem"),
        "trauma_history": ("trauma_history", "trauma history", "trauma", "history of trauma"),
        "prior_negative_therapy": ("prior_negative_therapy", "prior negative therapy",
                                   "prior negative therapy experience", "negative prior therapy",
                                   "previous negative therapy"),
        "modality": ("modality", "treatment modality", "therapy type", "treatment type"),
        "telehealth": _TELEHEALTH,
        "expectations_explained": ("expectations_explained", "expectations explained", "expectations discussed",
                                   "role induction"),
        "background_discussed": ("background_discussed", "background discussed", "culture discussed",
                                 "cultural background discussed"),
        "goals_agreed": ("goals_agreed", "goals agreed", "goals set", "goal agreement", "treatment goals agreed"),
        "approach_adapted": ("approach_adapted", "approach adapted", "treatment adapted", "adapted approach"),
        "env_comfort": ("env_comfort", "env comfort", "comfort", "room comfort", "comfort rating"),
        "env_privacy": ("env_privacy", "env privacy", "privacy", "room privacy", "privacy rating"),
        "env_noise": ("env_noise", "env noise", "noise", "room noise", "noise rating"),
        "env_temperature": ("env_temperature", "env temperature", "temperature", "room temperature"),
        "env_seating": ("env_seating", "env seating", "seating", "seating comfort"),
        **_SHARED,
    },
    "therapists": {
        "therapist_id": _THERAPIST_ID + ("id",),
        "languages": ("languages", "languages spoken", "language", "language spoken", "spoken languages"),
        "experience_years": ("experience_years", "experience years", "years of experience", "experience",
                             "years experience", "years in practice", "years practicing", "years licensed",
                             "yrs experience"),
        "trainee": ("trainee", "intern", "is trainee", "student", "trainee status", "in training"),
        "orientation": ("orientation", "theoretical orientation", "approach", "therapy approach"),
        **_SHARED,
    },
}

STATUS_WORDS = {
    "attended": ("attended", "attend", "show", "shown", "showed", "kept", "arrived", "completed", "complete",
                 "checked out", "checked in", "check out", "seen", "present", "done", "came", "kept appointment"),
    "no_show": ("no show", "noshow", "no showed", "did not attend", "dna", "did not show", "failed",
                "failed appointment", "fta", "missed", "missed appointment", "absent", "no call no show", "ncns"),
    "late_cancel": ("late cancel", "late canceled", "late cancelled", "late cancellation", "late cxl", "lc",
                    "cancelled late", "canceled late", "client late cancel", "short notice cancellation"),
    "cancelled": ("cancelled", "canceled", "cancel", "cancellation", "cxl", "client canceled", "client cancelled",
                  "patient canceled", "patient cancelled", "canceled by client", "cancelled by client",
                  "canceled by patient", "cancelled by patient", "client cancellation"),
    "clinician_cancelled": ("clinician cancelled", "clinician canceled", "provider canceled", "provider cancelled",
                            "therapist canceled", "therapist cancelled", "staff canceled", "staff cancelled",
                            "canceled by provider", "cancelled by provider", "canceled by clinician",
                            "cancelled by clinician", "canceled by therapist", "cancelled by therapist",
                            "office canceled", "office cancelled", "clinic canceled", "clinic cancelled",
                            "provider cancellation", "clinician cancellation"),
}
_STATUS_RULES = (
    ("no_show", r"no ?show|did ?n[o ]?t (attend|show)|missed|\bdna\b|\bfail"),
    ("clinician_cancelled", r"(canc|cxl).*(clinician|provider|therapist|staff|office|clinic|practice|counsel|doctor|\bdr\b)"
                            r"|(clinician|provider|therapist|staff|office|clinic|practice|counsel|doctor|\bdr\b).*(canc|cxl)"),
    ("late_cancel", r"(canc|cxl).*(late|short notice)|(late|short notice).*(canc|cxl)"),
    ("cancelled", r"canc|cxl"),
    ("attended", r"\bshow|kept|arriv|attend|complet|checked|\bseen\b"),
)
TERMINATION_WORDS = {
    "dropout": ("dropout", "drop out", "dropped out", "dropped", "withdrew", "withdrawn", "ama", "lost to follow up",
                "no show", "unplanned", "premature termination", "unilateral termination", "discontinued"),
    "completed": ("completed", "complete", "completion", "goals met", "goals achieved", "planned ending",
                  "planned termination", "planned discharge", "mutual termination", "mutual agreement", "graduated"),
    "ongoing": ("ongoing", "active", "open", "current", "in treatment", "in progress", "continuing", "enrolled"),
    "transferred": ("transferred", "transfer", "referred out", "referred elsewhere", "referred on", "onward referral",
                    "higher level of care"),
    "other": ("other", "moved", "moved away", "relocated", "deceased", "died", "financial", "insurance",
              "incarcerated", "hospitalized", "hospitalised", "administrative"),
}
_TERMINATION_RULES = (
    ("dropout", r"drop|discontinu|withdr|lost to|lost contact|stopped (attending|coming)|did ?n[o ]?t return|"
                r"no longer (attending|coming)|non ?attend|disengag|against (medical )?advice|\bama\b|premature|"
                r"unilateral|unplanned|no ?show|not complet|incomplet|non ?complet|failed to (return|attend)|"
                r"left (treatment|therapy)|abandon|no contact|client (ended|terminated|stopped)"),
    ("transferred", r"transfer|referred (out|to|elsewhere|on)|referral to|onward referr|signposted|higher level of care"
                    r"|step(ped)? up"),
    ("completed", r"complet|goals? (met|achieved|reached)|\bplanned|mutual|graduat|success|finished|recovered"),
    ("ongoing", r"\bactive\b|ongoing|\bopen\b|\bcurrent\b|in treatment|in progress|continuing|enrolled"),
    ("other", r"other|moved|relocat|deceas|\bdied\b|death|financ|insurance|incarcerat|hospitali[sz]|administrative"),
)
_CANCELLED_BY_RULES = (
    ("clinician", r"^prov\b|provider|clinician|therapist|counsel|staff|practice|office|clinic|doctor|\bdr\b"),
    ("client", r"^pat\b|patient|client|service user|self|guardian|parent|family"),
)
_YES = ("yes", "y", "true", "t", "1", "x", "ja", "oui", "si")
_NO = ("no", "n", "false", "f", "0", "nein", "non")


@dataclass
class TableMapping:
    """How one file becomes one canonical table.

    `columns`: canonical column -> source column. `values`: canonical column -> {source value:
    canonical value or None (= unknown)}; keys are matched ignoring case, spacing and punctuation.
    `date_formats`: canonical date column -> strptime format (e.g. "%m/%d/%Y") or "ISO8601".
    `cancelled_by`: the source column saying who cancelled ("" = none); its words map through
    `values["cancelled_by"]` to client or clinician, and a status that maps to cancelled or
    late_cancel becomes clinician_cancelled where that column says clinician.
    A status may also map to not_yet_held or entered_in_error: those appointments are left out
    and counted. Source columns not in `columns` pass through under their own name.
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    cancelled_by: str = ""

    def to_dict(self) -> dict:
        out = {"columns": dict(self.columns), "values": {k: dict(v) for k, v in self.values.items()},
               "date_formats": dict(self.date_formats)}
        if self.cancelled_by:
            out["cancelled_by"] = self.cancelled_by
        return out


@dataclass
class Mapping:
    """The mapping of every loaded file, keyed by table name ("sessions", "clients", "therapists")."""

    tables: dict[str, TableMapping] = field(default_factory=dict)

    def table(self, name: str) -> TableMapping:
        return self.tables.get(name, TableMapping())

    def to_dict(self) -> dict:
        return {name: mapping.to_dict() for name, mapping in self.tables.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Mapping":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"The mapping is not valid JSON: {error.msg} (line {error.lineno}).") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data) -> "Mapping":
        """Check and build a mapping; a ValueError says exactly which entry is wrong."""
        if not isinstance(data, dict):
            raise ValueError("A mapping must be an object keyed by table: sessions, clients or therapists.")
        tables = {}
        for name, entry in data.items():
            if name not in TABLES:
                raise ValueError(f"Mapping: '{name}' is not a table; use {', '.join(TABLES)}.")
            tables[name] = _table_from_dict(name, entry)
        return cls(tables)

    def with_tables(self, other: "Mapping") -> "Mapping":
        """This mapping, completed by `other`'s mappings of tables this one does not cover."""
        return Mapping({**other.tables, **self.tables})


def _table_from_dict(name: str, entry) -> TableMapping:
    if not isinstance(entry, dict):
        raise ValueError(f"Mapping of {name}: expected an object with columns, values and date_formats.")
    unknown = set(entry) - {"columns", "values", "date_formats", "cancelled_by"}
    if unknown:
        raise ValueError(f"Mapping of {name}: unknown key(s) {', '.join(sorted(unknown))}; "
                         "use columns, values, date_formats, cancelled_by.")
    cancelled_by = entry.get("cancelled_by", "")
    if not isinstance(cancelled_by, str) or (cancelled_by and name != "sessions"):
        raise ValueError(f"Mapping of {name}: cancelled_by names one column of the sessions file.")
    columns = _string_dict(entry.get("columns", {}), f"Mapping of {name}, columns")
    allowed = CANONICAL_COLUMNS[name]
    for canonical in columns:
        if canonical not in allowed:
            raise ValueError(f"Mapping of {name}: '{canonical}' is not a canonical column; use one of {', '.join(allowed)}.")
    values = entry.get("values", {})
    if not isinstance(values, dict):
        raise ValueError(f"Mapping of {name}, values: expected an object of value maps.")
    checked_values = {}
    for canonical, value_map in values.items():
        if not isinstance(value_map, dict):
            raise ValueError(f"Mapping of {name}, values of '{canonical}': expected an object {{source value: canonical value}}.")
        allowed_values = VALUE_SETS.get(canonical)
        for source, target in value_map.items():
            if target is not None and not isinstance(target, str):
                raise ValueError(f"Mapping of {name}, values of '{canonical}': '{source}' maps to {target!r}, not text.")
            if allowed_values and target not in (None, "") and target not in allowed_values:
                raise ValueError(f"Mapping of {name}, values of '{canonical}': '{source}' maps to '{target}'; "
                                 f"use one of {', '.join(allowed_values)} (or leave it empty).")
        checked_values[canonical] = {str(k): (v or None) for k, v in value_map.items()}
    formats = _string_dict(entry.get("date_formats", {}), f"Mapping of {name}, date_formats")
    for column, fmt in formats.items():
        _check_date_format(fmt, f"Mapping of {name}, date format of '{column}'")
    return TableMapping(columns, checked_values, formats, cancelled_by)


def _string_dict(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{where}: expected an object of text to text.")
    return dict(value)


def _check_date_format(fmt: str, where: str) -> None:
    if fmt == ISO:
        return
    if "%" not in fmt:
        raise ValueError(f"{where}: '{fmt}' is not a date format; write it like %m/%d/%Y or use ISO8601.")
    probe = pd.Timestamp("2024-03-15").strftime(fmt)
    if pd.isna(pd.to_datetime(pd.Series([probe]), format=fmt, errors="coerce").iloc[0]):
        raise ValueError(f"{where}: '{fmt}' cannot be read back as a date.")


# --- suggestion -----------------------------------------------------------------------------------

def suggest_mapping(frames: dict[str, pd.DataFrame]) -> Mapping:
    """A mapping suggested from the headers and values of each file, keyed by its table name."""
    return Mapping({name: suggest_table(name, frame) for name, frame in frames.items() if name in TABLES and frame is not None})


def suggest_table(table: str, frame: pd.DataFrame) -> TableMapping:
    """Columns from header synonyms (first synonym wins, then the vocabularies' header names), then
    status, date and ending columns recognised from their values; value maps for statuses, endings
    and who cancelled (a column whose header names a code list, such as the NHS AttendOrDNACode,
    is read with that list); a format per date column."""
    by_key = {}
    for column in frame.columns:
        by_key.setdefault(header_key(column), column)
    columns, used = {}, set()
    for canonical in CANONICAL_COLUMNS[table]:
        synonyms = HEADER_SYNONYMS[table].get(canonical, (canonical,)) + header_names(table, canonical)
        _claim(columns, used, canonical, [by_key[k] for k in map(header_key, synonyms) if k in by_key])
    if table == "sessions":
        for measure in ("srs", "wai", "ors"):
            if measure not in columns:
                _claim(columns, used, measure, [c for c in frame.columns if header_key(c).startswith(measure)])
        if "status" not in columns:
            _claim(columns, used, "status", _columns_by_share(frame, used, classify_status, 0.8))
        if "date" not in columns:
            _claim(columns, used, "date", _date_columns(frame, used))
    if table == "clients" and "termination" not in columns:
        _claim(columns, used, "termination", _columns_by_share(frame, used, classify_termination, 0.6))
    cancelled_by = ""
    if table == "sessions":
        headers = CANCELLED_BY_HEADERS + header_names("sessions", "cancelled_by")
        free = [by_key[k] for k in map(header_key, headers) if k in by_key and by_key[k] not in used]
        cancelled_by = free[0] if free else ""

    values = {}
    sources = {c: columns.get(c) for c in ("status", "termination")} | {"cancelled_by": cancelled_by or None}
    for canonical, source in sources.items():
        if source is not None:
            values[canonical] = _suggest_values(frame[source], source, canonical)
    formats = {c: detect_date_format(frame[columns[c]])[0] or ISO for c in DATE_COLUMNS if c in columns}
    return TableMapping(columns, values, formats, cancelled_by)


def complete_values(mapping: Mapping, frames: dict[str, pd.DataFrame]) -> Mapping:
    """`mapping` with a meaning for every distinct status, ending and cancelled-by value of these
    files: values it does not cover get the suggested one (None when unknown), so a saved or
    edited mapping applied to next month's export lists its new values instead of losing them."""
    tables = {}
    for name, table in mapping.tables.items():
        frame = frames.get(name)
        sources = {c: table.columns.get(c) for c in ("status", "termination")} | {"cancelled_by": table.cancelled_by}
        values = {c: dict(v) for c, v in table.values.items()}
        for canonical, source in sources.items():
            if frame is not None and source and source in frame.columns:
                given = {value_key(k) for k in values.get(canonical, {})}
                found = _suggest_values(frame[source], source, canonical)
                values[canonical] = {**values.get(canonical, {}),
                                     **{v: m for v, m in found.items() if value_key(v) not in given}}
        tables[name] = TableMapping(dict(table.columns), values, dict(table.date_formats), table.cancelled_by)
    return Mapping(tables)


def _suggest_values(series: pd.Series, source: str, canonical: str) -> dict[str, str | None]:
    """Each distinct value of `series` and what it means (None = unknown), read with the code list
    its header names, if any, before the words every column shares."""
    listed = code_list(source)
    codes = listed[1] if listed is not None and listed[0] == canonical else {}
    classify = CLASSIFIERS[canonical]
    out = {}
    for value in distinct_text(series, limit=500):
        code = value[:-2] if value.endswith(".0") else value  # an Excel cell read 5 as 5.0
        out[value] = codes[code] if code in codes else classify(value)
    return out


def _claim(columns: dict, used: set, canonical: str, candidates: list) -> None:
    free = [c for c in candidates if c not in used]
    if free:
        columns[canonical] = free[0]
        used.add(free[0])


def _columns_by_share(frame: pd.DataFrame, used: set, classify, share: float) -> list:
    """Columns whose most frequent values are mostly recognised by `classify`."""
    found = []
    for column in frame.columns:
        if column in used or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        counts = frame[column].value_counts(dropna=True).head(50)
        counts = counts[counts > 0]
        if counts.empty:
            continue
        recognised = np.array([classify(str(v)) is not None for v in counts.index])
        if counts.to_numpy()[recognised].sum() >= share * counts.sum():
            found.append(column)
    return found


def _date_columns(frame: pd.DataFrame, used: set) -> list:
    return [c for c in frame.columns if c not in used and detect_date_format(frame[c], min_share=0.9)[0] is not None]


def classify_status(value) -> str | None:
    """The canonical status a written status means, or None when it is not recognisable."""
    return _classify(value, "status", STATUS_WORDS, _STATUS_RULES)


def classify_termination(value) -> str | None:
    """The canonical ending a discharge reason means, or None when it is not recognisable."""
    return _classify(value, "termination", TERMINATION_WORDS, _TERMINATION_RULES)


def classify_cancelled_by(value) -> str | None:
    """client or clinician for a "cancelled by" word or FHIR reason code, or None."""
    return _classify(value, "cancelled_by", {}, _CANCELLED_BY_RULES)


def _classify(value, column: str, words: dict, rules: tuple) -> str | None:
    """A system's own word first (the vocabularies), then the common words, then the rules."""
    key = value_key(value)
    if not key:
        return None
    known = vocabulary_words(column)
    if key in known:
        return known[key]
    for canonical, synonyms in words.items():
        if key == value_key(canonical) or key in synonyms:
            return canonical
    for canonical, pattern in rules:
        if re.search(pattern, key):
            return canonical
    return None


CLASSIFIERS = {"status": classify_status, "termination": classify_termination, "cancelled_by": classify_cancelled_by}


def text_counts(series: pd.Series) -> pd.Series:
    """How many rows hold each distinct non-empty value, as trimmed text: most frequent first, and
    values as frequent in text order (as an engine's ORDER BY n DESC, v lists them; value_counts
    alone leaves the order of ties to its sort)."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    labels = pd.Index(counts.index.astype(str)).str.strip()
    counts = pd.Series(counts.to_numpy(), index=labels).groupby(level=0).sum()  # sorted by text
    return counts[counts.index != ""].sort_values(ascending=False, kind="stable")


def distinct_text(series: pd.Series, limit: int | None = None) -> list[str]:
    """The distinct non-empty values as trimmed text, most frequent first (text_counts)."""
    counts = text_counts(series)
    return list(counts.index[:limit] if limit else counts.index)


def format_label(fmt: str | None) -> str:
    """A date format as a user writes it: '%m/%d/%Y' -> 'MM/DD/YYYY'."""
    return FORMAT_LABELS.get(fmt or ISO, fmt or ISO)


def detect_date_format(series: pd.Series, min_share: float = 0.5) -> tuple[str | None, bool]:
    """(format, ambiguous): the format reading most of the distinct values; ambiguous when both the
    month-first and day-first readings fit every value (no day above 12), month-first is chosen then."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return ISO, False
    sample = _factorized(series)[1].dropna().iloc[:_SAMPLE_VALUES]
    if sample.empty:
        return None, False
    native = sample.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "year"))
    if native.all():
        return ISO, False
    text = _strip_time(sample[~native].astype(str).str.strip())
    best, best_share, shares = None, 0.0, {}
    for fmt in DATE_FORMATS:
        share = pd.to_datetime(text, format=fmt, errors="coerce").notna().mean()
        shares[fmt] = share
        if share > best_share:
            best, best_share = fmt, share
    if best is None or best_share < min_share:
        return None, False
    twin = {"%m/%d/%Y": "%d/%m/%Y", "%m/%d/%y": "%d/%m/%y", "%m-%d-%Y": "%d-%m-%Y"}.get(best)
    return best, bool(twin and shares[twin] == best_share)


# --- applying a mapping ---------------------------------------------------------------------------

def apply_mapping(frame: pd.DataFrame, mapping: TableMapping, table: str) -> pd.DataFrame:
    """The file's columns under canonical names (mapped) or their own (passed through); no values change.

    A passed-through column whose own name is a canonical column used by the mapping is renamed
    '<name>_source' so the mapped column is unambiguous. Mapped source columns that are missing
    from the file are skipped (validation reports them).
    """
    present = {c: s for c, s in mapping.columns.items() if s in frame.columns and c in CANONICAL_COLUMNS[table]}
    out = {canonical: frame[source] for canonical, source in present.items()}
    used = set(present.values())
    for column in frame.columns:
        if column in used:
            continue
        name = f"{column}_source" if column in out else column
        out[name] = frame[column]
    return pd.DataFrame(out, index=frame.index, copy=False)  # columns are replaced, never written into


def _factorized(series: pd.Series):
    """(codes, distinct values as an object Series); -1 marks a missing value. A categorical's own
    codes are used as they are, so nothing is hashed again."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), pd.Series(np.asarray(series.cat.categories, dtype=object), dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype=object)


def _categorical(codes: np.ndarray, values: np.ndarray, index) -> pd.Series:
    """values[codes] as a categorical (-1 and missing values give NaN), without touching each row."""
    value_codes, categories = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    codes = _take(value_codes, codes, -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object), validate=False),
                     index=index)


def given(series: pd.Series) -> np.ndarray:
    """True where a value is given (neither missing nor blank text)."""
    codes, uniques = _factorized(series)
    if not len(uniques):
        return np.zeros(len(series), dtype=bool)
    text = uniques.astype(str)
    blank = uniques.isna().to_numpy()
    maybe = may_strip(text.to_numpy()) & ~blank
    blank[maybe] = text[maybe].str.strip().eq("").to_numpy()
    return _take(~blank, codes, False)


def may_strip(text: np.ndarray) -> np.ndarray:
    """True where str.strip() could change a text (or leave it blank): it is empty, or starts or
    ends with white space as Python's str.isspace judges it. pyarrow takes the first and last
    character of a million ids at once and Python judges the few distinct ones, so the answer is
    Python's, without a Python call per text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = arrow_text(text)
    if array is None:
        return np.ones(len(text), dtype=bool)
    first, last = pc.utf8_slice_codeunits(array, 0, 1), pc.utf8_slice_codeunits(array, -1)
    ends = pc.unique(pa.concat_arrays([first, last])).to_pylist()
    space = pa.array([c for c in ends if c is not None and (c == "" or c.isspace())], pa.string())
    return pc.or_(pc.is_in(first, space), pc.is_in(last, space)).to_numpy(zero_copy_only=False)


def arrow_text(text: np.ndarray):
    """Python texts as a pyarrow string array, or None when one cannot be held (a lone surrogate):
    the caller then judges every text in Python."""
    import pyarrow as pa

    try:
        return pa.array(text, pa.string())
    except (pa.ArrowException, UnicodeEncodeError):
        return None


def as_category(series: pd.Series) -> pd.Series:
    """A text column as a categorical in order of appearance (no sorting of a million ids)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object), validate=False),
                     index=series.index, name=series.name)


def _take(values: np.ndarray, codes: np.ndarray, missing) -> np.ndarray:
    """values[codes] with `missing` where the code is -1 (a missing source value): one lookup per
    row, in the values followed by `missing`, where -1 points."""
    return np.append(values, np.array([missing], dtype=values.dtype))[codes]


def to_ids(series: pd.Series) -> pd.Series:
    """Identifiers as trimmed text ('007' stays '007'; a number read as 1001.0 becomes '1001')."""
    codes, uniques = _factorized(series)
    all_text = pd.api.types.infer_dtype(uniques, skipna=False) == "string"  # one pass in C, not a call per id
    is_text = np.ones(len(uniques), dtype=bool) if all_text else uniques.map(type).eq(str).to_numpy()
    text = uniques.copy()
    untrimmed = is_text.copy()
    untrimmed[is_text] = may_strip(uniques[is_text].to_numpy())
    text[untrimmed] = uniques[untrimmed].str.strip()
    numbers = pd.to_numeric(uniques[~is_text], errors="coerce")
    whole = numbers.notna() & (numbers == np.floor(numbers))
    text[~is_text] = uniques[~is_text].astype(str).str.strip()
    text[whole[whole].index] = numbers[whole].astype(np.int64).astype(str)
    text = text.mask(text.eq("") | uniques.isna())
    if text.equals(uniques):  # ids already trimmed text: the distinct values stay distinct, nothing to re-factorize
        if isinstance(series.dtype, pd.CategoricalDtype) and series.cat.categories.dtype == object and not series.cat.ordered:
            return pd.Series(series.array, index=series.index)  # the same categories, not checked again
        return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object), validate=False),
                         index=series.index)
    return _categorical(codes, text.to_numpy(dtype=object), series.index)


def map_values(series: pd.Series, value_map: dict, allowed: tuple = ()) -> pd.Series:
    """Values through `value_map` (matched ignoring case, spacing and punctuation); the allowed
    canonical values map to themselves; anything else becomes missing."""
    lookup = {value_key(v): v for v in allowed}
    lookup.update({value_key(k): v for k, v in value_map.items()})
    codes, uniques = _factorized(series)
    keys = pd.Series(uniques.astype(str)).str.casefold().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()
    return _categorical(codes, keys.map(lookup).astype(object).to_numpy(), series.index)


def parse_dates(series: pd.Series, fmt: str | None) -> pd.Series:
    """Dates (datetime64, time of day dropped) read with `fmt`; what cannot be read becomes NaT."""
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        return parsed.dt.normalize().astype("datetime64[ns]")
    codes, uniques = _factorized(series)
    native = uniques.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "year")).astype(bool)
    parsed = pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[ns]")
    if native.any():
        parsed[native] = pd.to_datetime(uniques[native], errors="coerce")
    text = _strip_time(uniques[~native].astype(str).str.strip())
    if len(text):
        parsed[~native] = pd.to_datetime(text, format=fmt or ISO, errors="coerce")
    values = parsed.dt.normalize().to_numpy(dtype="datetime64[ns]")
    return pd.Series(_take(values, codes, np.datetime64("NaT")), index=series.index, dtype="datetime64[ns]")


def _strip_time(text: pd.Series) -> pd.Series:
    return text.str.replace(_TIME_PART, "", regex=True).str.strip()


def to_numbers(series: pd.Series) -> pd.Series:
    """Numbers as floats; a decimal comma ('35,5') is read as a point; anything else becomes NaN."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    codes, uniques = _factorized(series)
    text = uniques.astype(str).str.strip().str.replace(r"^(-?\d+),(\d{1,2})$", r"\1.\2", regex=True)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    return pd.Series(_take(numbers, codes, np.nan), index=series.index, dtype=float)


def to_flags(series: pd.Series) -> pd.Series | None:
    """Yes/no answers as 1.0/0.0, or None when some value is not a recognisable yes or no."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        numbers = series.astype(float)
        return numbers if numbers.dropna().isin([0.0, 1.0]).all() else None
    codes, uniques = _factorized(series)
    keys = pd.Series(uniques.astype(str)).map(value_key)
    flags = keys.map({**{k: 1.0 for k in _YES}, **{k: 0.0 for k in _NO}})
    if flags.isna().any():
        return None
    return pd.Series(_take(flags.to_numpy(dtype=float), codes, np.nan), index=series.index, dtype=float)


# --- the mapping as editable tables (the Data page's editors) -------------------------------------

def column_table(mapping: TableMapping, table: str) -> pd.DataFrame:
    """One row per canonical column of `table`: its name and the source column mapped to it ("" = none)."""
    columns = CANONICAL_COLUMNS[table]
    return pd.DataFrame({"column": list(columns), "source": [mapping.columns.get(c, "") for c in columns]})


def value_table(mapping: TableMapping, column: str) -> pd.DataFrame:
    """One row per value found in the file for `column` and the canonical value it means ("" = unknown)."""
    values = mapping.values.get(column, {})
    order = sorted(values, key=lambda v: values[v] is not None)  # unknown values first: they need a meaning
    return pd.DataFrame({"value": order, "means": [values[v] or "" for v in order]})


def table_mapping_from_tables(table: str, columns: pd.DataFrame, values: dict[str, pd.DataFrame],
                              date_formats: dict[str, str], cancelled_by: str = "") -> TableMapping:
    """The TableMapping the edited tables describe, checked like a saved one (ValueError says what is wrong)."""
    chosen = columns.loc[columns["source"].fillna("").astype(str) != ""]
    entry = {
        "columns": dict(zip(chosen["column"].astype(str), chosen["source"].astype(str))),
        "values": {c: {str(v): (m or None) for v, m in zip(f["value"], f["means"].where(f["means"].notna(), None))}
                   for c, f in values.items()},
        "date_formats": {c: f for c, f in date_formats.items() if c in set(chosen["column"])},
        "cancelled_by": cancelled_by or "",
    }
    return _table_from_dict(table, entry)
