"""The vocabularies are data that cite their sources and agree with one another."""

from __future__ import annotations

import json

import pytest

from analytics.ingest.mapping import CANCELLED_BY, VALUE_SETS, Mapping, classify_status, classify_termination
from analytics.ingest.vocabulary import VOCABULARY_DIR, code_list, vocabularies, vocabulary


@pytest.mark.parametrize("path", sorted(VOCABULARY_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_file_cites_what_was_read_where(path):
    data = json.loads(path.read_text())
    assert data["sources"], path.name
    for source in data["sources"]:
        assert source["url"].startswith("https://") and len(source["read"]) > 20


def test_every_meaning_is_a_canonical_value():
    allowed = {**VALUE_SETS, "cancelled_by": CANCELLED_BY}
    for v in vocabularies():
        for column, words in v.values.items():
            assert set(words.values()) <= set(allowed[column]), (v.key, column)
        for entry in v.codes.values():
            assert set(entry["values"].values()) <= set(allowed[entry["column"]]), v.key


@pytest.mark.parametrize("word, status", [
    ("Show", "attended"), ("Clinician Canceled", "clinician_cancelled"), ("Late Canceled", "late_cancel"),
    ("Kept", "attended"), ("Upcoming", "not_yet_held"), ("Non-Billable", "attended"), ("Missed", "no_show"),
    ("fulfilled", "attended"), ("checked-in", "attended"), ("noshow", "no_show"), ("waitlist", "not_yet_held"),
    ("entered-in-error", "entered_in_error"), ("Arrived", "attended"),
])
def test_system_statuses(word, status):
    assert classify_status(word) == status


@pytest.mark.parametrize("word, ending", [
    ("Referred on", "transferred"), ("Discharged - goals met", "completed"), ("Client discontinued", "dropout"),
    ("Signposted to another service", "transferred"),
])
def test_endings_in_words(word, ending):
    assert classify_termination(word) == ending


def test_nhs_codes_are_read_only_under_their_header():
    assert code_list("AttendOrDNACode")[1]["7"] == "no_show"
    assert code_list("End Code")[1] == {**code_list("EndCode")[1]} and code_list("EndCode")[1]["47"] == "dropout"
    assert code_list("Session number") is None and classify_status("5") is None
    assert vocabulary("fhir_r4").extra["loinc"] == {"44261-6": "phq9", "70274-6": "gad7"}


def test_the_cancelled_by_column_survives_a_saved_mapping():
    saved = {"sessions": {"columns": {"client_id": "Client ID", "date": "Date", "status": "Status"},
                          "values": {"cancelled_by": {"Provider": "clinician", "Client": "client"}},
                          "cancelled_by": "Canceled By"}}
    assert Mapping.from_json(Mapping.from_dict(saved).to_json()).to_dict()["sessions"]["cancelled_by"] == "Canceled By"
    with pytest.raises(ValueError, match="cancelled_by"):
        Mapping.from_dict({"sessions": {"values": {"cancelled_by": {"Provider": "therapist"}}}})
    with pytest.raises(ValueError, match="cancelled_by names one column"):
        Mapping.from_dict({"clients": {"cancelled_by": "Canceled By"}})
