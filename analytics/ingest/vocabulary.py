"""The built-in vocabularies: how practice systems, FHIR R4 and the NHS Talking Therapies data set
name their columns and write their statuses, endings and codes.

They are data, one JSON file per system in `vocabularies/`, each citing the page it was read from
(and saying so where no source was found), so a word can be checked against its source and a new
system is a new file, not new code. Words match ignoring case, spacing and punctuation. Codes
(such as the NHS attendance code 5) are read only in the column whose header names their code
list: a bare "5" means nothing elsewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

VOCABULARY_DIR = Path(__file__).with_name("vocabularies")


def value_key(text) -> str:
    """A value reduced for matching: 'Late-Canceled ' -> 'late canceled'."""
    return re.sub(r"[^0-9a-z]+", " ", str(text).casefold()).strip()


def header_key(text) -> str:
    """A header reduced to lower-case letters and digits: 'Date of Service' -> 'dateofservice'."""
    return re.sub(r"[^0-9a-z]+", "", str(text).casefold())


@dataclass(frozen=True)
class Vocabulary:
    """One system's words. `headers`: table -> canonical column -> its header names; `values`:
    canonical column -> {word: meaning}; `codes`: code-list header -> {"column": canonical
    column, "values": {code: meaning}}; `extra`: anything else the file holds (FHIR's LOINC
    codes and EpisodeOfCare statuses)."""

    key: str
    name: str
    sources: tuple = ()
    notes: str = ""
    headers: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def vocabularies() -> tuple[Vocabulary, ...]:
    """Every vocabulary file, read once; a word given two meanings by two files is an error here."""
    out = []
    for path in sorted(VOCABULARY_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {"name", "sources", "notes", "headers", "values", "codes"}
        out.append(Vocabulary(path.stem, data["name"], tuple(data.get("sources", ())), data.get("notes", ""),
                              data.get("headers", {}), data.get("values", {}), data.get("codes", {}),
                              {k: v for k, v in data.items() if k not in known}))
    _check_agreement(out)
    return tuple(out)


def vocabulary(key: str) -> Vocabulary:
    """The vocabulary of one file (its name without .json)."""
    return next(v for v in vocabularies() if v.key == key)


def header_names(table: str, canonical: str) -> tuple[str, ...]:
    """The header names the vocabularies give for a canonical column of `table`."""
    return tuple(h for v in vocabularies() for h in v.headers.get(table, {}).get(canonical, ()))


@lru_cache(maxsize=None)
def words(column: str) -> dict[str, str]:
    """{matching key: meaning} of every vocabulary's words for a canonical column."""
    return {value_key(word): meaning for v in vocabularies() for word, meaning in v.values.get(column, {}).items()}


def code_list(header) -> tuple[str, dict[str, str]] | None:
    """(canonical column, {code: meaning}) when `header` names a code list, else None."""
    key = header_key(header)
    for v in vocabularies():
        for name, entry in v.codes.items():
            if header_key(name) == key:
                return entry["column"], {str(code): meaning for code, meaning in entry["values"].items()}
    return None


def _check_agreement(found: list[Vocabulary]) -> None:
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for v in found:
        for column, table in v.values.items():
            for word, meaning in table.items():
                key = (column, value_key(word))
                if key in seen and seen[key][1] != meaning:
                    raise ValueError(f"Vocabularies disagree on {column} '{word}': {seen[key][0]} says "
                                     f"{seen[key][1]}, {v.key} says {meaning}.")
                seen[key] = (v.key, meaning)
