"""Direct-identifier scan of an imported table, and salted hashing of id-like columns.

Therapy data must reach the analysis without names, contact details, addresses, full postcodes,
dates of birth, national ids or free-text notes. The scan looks at column names and at a bounded
sample of distinct values (a few thousand, whatever the table size), so it costs the same for ten
rows or ten million. Pseudonymous clinic codes such as client "C000123" or therapist "T001" are
what the analysis needs and are not flagged; record numbers that point back to a chart (MRN,
insurance number) are flagged as `hashable`: a salted hash keeps them usable as keys.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SAMPLE_ROWS = 50_000
SAMPLE_UNIQUE = 2_000
MOST = 0.6  # share of sampled distinct values that must match a value pattern
HASH_HEX_CHARS = 16

COMMON_FIRST_NAMES = frozenset("""
james john robert michael william david richard joseph thomas charles christopher daniel matthew
anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward
jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin
samuel gregory alexander patrick frank raymond jack dennis jerry tyler aaron jose adam nathan
henry peter zachary douglas harold kyle noah carl arthur gerald roger keith jeremy terry lawrence
sean austin ethan jesse albert bryan bruce willie jordan dylan alan ralph gabriel roy juan wayne
eugene logan randy louis russell vincent philip bobby johnny bradley oliver harry george charlie
leo freddie alfie archie theo oscar arlo mohammed muhammad ahmed ali omar hassan yusuf ibrahim
wei jun hiroshi kenji raj arjun rahul amit vikram carlos luis miguel javier diego pedro
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty sandra
margaret ashley kimberly emily donna michelle carol amanda melissa deborah stephanie dorothy
rebecca sharon laura cynthia amy kathleen angela shirley brenda emma anna pamela nicole samantha
katherine christine helen debra rachel carolyn janet maria catherine heather diane olivia julie
joyce victoria ruth virginia lauren kelly christina joan evelyn judith andrea hannah megan cheryl
jacqueline martha madison teresa gloria sara janice ann kathryn abigail sophia frances jean alice
judy isabella julia denise amber doris marilyn danielle beverly charlotte natalie theresa diana
brittany kayla alexis lori marie ava mia amelia isla ella poppy lily freya sophie chloe jessica
fatima aisha zainab mariam priya ananya sunita mei ling yuki sakura rosa carmen lucia sofia elena
ana laura isabel
""".split())

_NAME_COLUMN = re.compile(
    r"(^|_)(first|last|middle|given|family|full|sur|fore|maiden|nick)_?names?($|_)|(^|_)surname($|_)"
    r"|(^|_)(client|patient|person|member|contact|guardian|parent|kin|therapist|clinician)_?names?($|_)|^names?$"
)
_NAME_LIKE_COLUMN = re.compile(r"name")
_THING_NAME_COLUMN = re.compile(
    r"(site|clinic|service|program|programme|file|diagnosis|location|office|team|practice|measure|scale|test"
    r"|drug|medication|country|city|town|region|group|unit|ward|room|code)_?names?"
)
_RULES_BY_NAME = [
    ("email", re.compile(r"e_?mail")),
    ("ip_address", re.compile(r"(^|_)(ip|ip_?address)($|_)")),
    ("phone", re.compile(r"(^|_)(tel|telephone|phone|phones|mobile|cell|cellphone|fax|landline|sms)($|_|no|num|number)")),
    ("address", re.compile(r"(^|_)(address|addr|street|address_?line_?\d?|home_?address|house_?number)($|_|\d)")),
    ("national_id", re.compile(
        r"(^|_)(ssn|social_?security|sin|nhs|nhs_?number|nino|ni_?number|national_?(id|insurance|number)"
        r"|passport|driver_?s?_?licen[cs]e|tax_?id|tin|medicare|medicaid|bsn|personnummer)($|_)")),
    ("record_number", re.compile(
        r"(^|_)(mrn|medical_?record|record_?(no|num|number)|chart_?(no|num|number)|hospital_?(no|num|number)"
        r"|insurance_?(id|no|num|number)|policy_?(no|num|number)|member_?(id|no|number)|account_?(no|num|number))($|_)")),
]
_POSTCODE_COLUMN = re.compile(r"(^|_)(zip|zipcode|zip_?code|post_?code|postal_?code|postcode|plz)($|_)")
_BIRTH_COLUMN = re.compile(r"(^|_)(dob|d_o_b|birth|birthday|birthdate|born|date_?of_?birth)")
_NOTES_COLUMN = re.compile(r"(^|_)(notes?|comments?|remarks?|narrative|free_?text|summary|observations?|progress)($|_)")

_EMAIL = r"^[\w.+'-]+@[\w-]+(\.[\w-]+)+$"
_SSN = r"^\d{3}-\d{2}-\d{4}$"
_UK_NINO = r"^[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$"
_PHONE_CHARS = r"^\+?[\d\s().-]+$"
_ZIP_PLUS4 = r"^\d{5}-\d{4}$"
_US_ZIP = r"^\d{5}(-?\d{4})?$"
_UK_POSTCODE = r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$"
_STREET = (
    r"^\d+[A-Za-z]?,?\s+([A-Za-z'.-]+\s+){0,4}(street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court"
    r"|ct|way|place|pl|close|terrace|crescent|highway|hwy|square|sq|parkway|pkwy|row|grove|gardens|mews)\b"
)
_PERSON_NAME = r"^(Dr\.?\s+|Mr\.?\s+|Mrs\.?\s+|Ms\.?\s+)?[A-Z][a-z'’-]+(\s+[A-Z]\.?)?(\s+[A-Z][a-z'’-]+){1,2}$"
_REVERSED_NAME = r"^[A-Z][a-z'’-]+,\s*[A-Z][a-z'’-]+$"
_FULL_DATE = (
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T].*)?$|^\d{8}$"
    r"|^\d{1,2}\s+[A-Za-z]{3,9}\s+\d{4}$|^[A-Za-z]{3,9}\s+\d{1,2},?\s+\d{4}$"
)


@dataclass(frozen=True)
class IdentifierFinding:
    """One column that looks like a direct identifier, with the plain reason shown to the user.

    `hashable` marks id-like columns (record or national numbers) that may be kept as a salted
    hash instead of being dropped.
    """

    file: str
    column: str
    kind: str
    reason: str
    hashable: bool = False


def scan_identifiers(frame: pd.DataFrame, file: str) -> list[IdentifierFinding]:
    """Columns of `frame` (read from `file`) that look like direct identifiers, one finding each."""
    findings = []
    for column in frame.columns:
        finding = _scan_column(frame[column], str(column))
        if finding is not None:
            kind, reason = finding
            findings.append(IdentifierFinding(file, str(column), kind, reason, kind in ("record_number", "national_id")))
    return findings


def hash_identifier(series: pd.Series, salt: str) -> pd.Series:
    """Salted SHA-256 of each value, truncated hex; equal values (after trimming) give equal hashes.

    Missing values stay missing. Only the distinct values are hashed, so a long column costs
    as much as its number of different ids.
    """
    if not salt:
        raise ValueError("A salt is needed to hash identifiers; without one a hash can be reversed by trying ids.")
    text = _as_text(series)
    codes, uniques = pd.factorize(text)
    prefix = salt.encode()
    digests = np.array(
        [hashlib.sha256(prefix + b"\x00" + value.encode()).hexdigest()[:HASH_HEX_CHARS] for value in uniques],
        dtype=object,
    )
    hashed = np.where(codes >= 0, digests[np.clip(codes, 0, None)] if len(digests) else None, None)
    return pd.Series(hashed, index=series.index, name=series.name, dtype=object)


def _scan_column(series: pd.Series, column: str) -> tuple[str, str] | None:
    """The (kind, reason) of an identifier column, or None; name rules first, then the values."""
    key = _normalise(column)
    values = _sample(series)
    for kind, pattern in _RULES_BY_NAME:
        if pattern.search(key):
            return kind, f"the column name '{column}' suggests {_KIND_WORDS[kind]}"
    if _POSTCODE_COLUMN.search(key):
        full = _share(values, _US_ZIP) + _share(values.str.upper(), _UK_POSTCODE)
        if full >= MOST:
            return "postcode", f"'{column}' holds full postcodes/ZIP codes; keep only the first 3 digits or outward code"
        return None
    if _BIRTH_COLUMN.search(key):
        if pd.api.types.is_datetime64_any_dtype(series) or _share(values, _FULL_DATE) >= MOST:
            return "date_of_birth", f"'{column}' holds full dates of birth; keep an age or birth year instead"
        return None
    if _NAME_COLUMN.search(key):
        return "name", f"the column name '{column}' suggests person names"
    if values.empty:
        return None
    name_like = bool(_NAME_LIKE_COLUMN.search(key)) and not _THING_NAME_COLUMN.search(key)
    return _scan_values(values, column, name_like=name_like, notes_like=bool(_NOTES_COLUMN.search(key)))


def _scan_values(values: pd.Series, column: str, name_like: bool, notes_like: bool) -> tuple[str, str] | None:
    """Identify a column from its sampled distinct values alone."""
    if _share(values, _EMAIL) >= MOST:
        return "email", f"most values of '{column}' are e-mail addresses"
    if _share(values, _SSN) >= MOST or _share(values.str.upper(), _UK_NINO) >= MOST:
        return "national_id", f"most values of '{column}' are national identity numbers (SSN or National Insurance)"
    if _nhs_share(values) >= MOST:
        return "national_id", f"most values of '{column}' are NHS numbers (valid check digit)"
    if _phone_share(values) >= MOST:
        return "phone", f"most values of '{column}' are phone numbers"
    if _share(values, _ZIP_PLUS4) >= MOST or _share(values.str.upper(), _UK_POSTCODE) >= MOST:
        return "postcode", f"most values of '{column}' are full postcodes/ZIP codes"
    if values.str.match(_STREET, case=False).mean() >= MOST:
        return "address", f"most values of '{column}' are street addresses"
    if _looks_like_person_names(values, name_like):
        return "name", f"most values of '{column}' look like person names"
    if _looks_like_free_text(values, notes_like):
        return "free_text", f"'{column}' holds free-text notes, which can name people and places"
    return None


def _looks_like_person_names(values: pd.Series, name_like: bool) -> bool:
    """Capitalised two- or three-word names, with common first names among them (or a name-like header)."""
    shaped = values.str.match(_PERSON_NAME) | values.str.match(_REVERSED_NAME)
    stripped = values.str.replace(r"^(Dr|Mr|Mrs|Ms)\.?\s+", "", regex=True)
    first = np.where(values.str.contains(","), stripped.str.split(",").str[-1], stripped).astype(str)
    first_tokens = pd.Series(first).str.strip().str.split().str[0].str.lower()
    known_first = first_tokens.isin(COMMON_FIRST_NAMES).to_numpy()
    if shaped.mean() >= MOST and (name_like or known_first[shaped.to_numpy()].mean() >= 0.3):
        return True
    single_word = ~values.str.contains(r"\s")
    return len(values) >= 5 and single_word.mean() >= MOST and known_first.mean() >= MOST


def _looks_like_free_text(values: pd.Series, notes_like: bool) -> bool:
    """Long, many-word values: clinical notes or comments."""
    words = values.str.split().str.len().mean()
    length = values.str.len().mean()
    if notes_like:
        return words >= 3 and length >= 15
    return words >= 6 and length >= 40


def _phone_share(values: pd.Series) -> float:
    """Share of values written like phone numbers: 10-15 digits with separators or a leading '+'/'0'."""
    digits = values.str.count(r"\d")
    shaped = values.str.match(_PHONE_CHARS) & digits.between(10, 15)
    marked = values.str.contains(r"[\s().-]") | values.str.match(r"^(\+|0)")
    return float((shaped & marked).mean())


def _nhs_share(values: pd.Series) -> float:
    """Share of values that are 10-digit numbers with a valid NHS mod-11 check digit."""
    compact = values.str.replace(r"[\s-]", "", regex=True)
    ten = compact[compact.str.fullmatch(r"\d{10}")]
    if ten.empty:
        return 0.0
    digits = np.frombuffer("".join(ten).encode(), dtype=np.uint8).reshape(-1, 10).astype(int) - 48
    check = 11 - (digits[:, :9] * np.arange(10, 1, -1)).sum(axis=1) % 11
    check = np.where(check == 11, 0, check)
    valid = (check != 10) & (check == digits[:, 9])
    return float(valid.sum() / len(values))


def _share(values: pd.Series, pattern: str) -> float:
    return float(values.str.match(pattern).mean()) if len(values) else 0.0


def _sample(series: pd.Series) -> pd.Series:
    """Up to SAMPLE_UNIQUE distinct non-empty values as trimmed text, from rows spread over the column."""
    step = max(1, len(series) // SAMPLE_ROWS)
    rows = series.iloc[::step].dropna()
    distinct = _as_text(rows.drop_duplicates().head(SAMPLE_UNIQUE))
    distinct = distinct[distinct != ""]
    return distinct.reset_index(drop=True)


def _as_text(series: pd.Series) -> pd.Series:
    """Values as trimmed strings, whole floats without '.0' (ids read as floats when a cell is blank)."""
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if (whole == np.floor(whole)).all():
            series = series.astype("Int64")
    text = series.astype("string").str.strip()
    return text.astype(object).where(series.notna(), None)


def _normalise(column: str) -> str:
    """Header as lower snake case, camelCase split: 'ClientEmail' -> 'client_email'."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


_KIND_WORDS = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "address": "street addresses",
    "national_id": "national identity numbers",
    "record_number": "medical record or account numbers",
    "ip_address": "IP addresses",
}
