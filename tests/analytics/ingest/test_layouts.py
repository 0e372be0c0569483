"""Issue 12: one ground truth written in six real export layouts gives exactly the true episodes
(duration and event of every client) through the library, with only the choices the command line
has flags for (export date, sheets, hashing) and no mapping."""

from __future__ import annotations

import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_caseload
from tests.layouts import LATER, TRUTH, episodes_by_client, write_layouts

# Layouts with one code for a cancellation by the client, late or not (NHS code 2, FHIR cancelled + pat).
ONE_CANCELLATION = ("NHS Talking Therapies", "FHIR NDJSON", "FHIR flattened CSV")
LAYOUTS = ("SimplePractice", "TheraNest", "NHS Talking Therapies", "FHIR NDJSON", "FHIR flattened CSV", "Workbook")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    return write_layouts(tmp_path_factory.mktemp("layouts"))


@pytest.fixture(scope="module")
def loaded(layouts):
    return {name: load_caseload(layout.sources, salt=layout.salt, **layout.options) for name, layout in layouts.items()}


@pytest.mark.parametrize("name", LAYOUTS)
def test_each_layout_gives_the_true_episodes(layouts, loaded, name):
    layout, result = layouts[name], loaded[name]
    assert result.ready, [p.as_text() for p in result.problems if p.blocking]
    for definition, truth in layout.truth.items():
        episodes = derive_episodes(result.caseload, EpisodeSettings(dropout_definition=definition))
        assert episodes_by_client(episodes, layout.ids) == truth, definition


@pytest.mark.parametrize("name", LAYOUTS)
def test_each_layout_keeps_every_held_appointment_and_its_status(layouts, loaded, name):
    sessions = loaded[name].caseload.sessions
    back = {v: k for k, v in layouts[name].ids.items()}
    got = sessions.assign(client_id=sessions["client_id"].map(lambda c: back.get(c, c)))
    key = ["client_id", "date"]
    expected = TRUTH.sessions.sort_values(key, kind="stable")[key + ["status"]].reset_index(drop=True)
    got = got.sort_values(key, kind="stable")[key + ["status"]].reset_index(drop=True)
    if name in ONE_CANCELLATION:
        expected["status"] = expected["status"].replace({"late_cancel": "cancelled"})
    assert got.astype(str).equals(expected.astype(str))


@pytest.mark.parametrize("name", LAYOUTS)
def test_each_layout_keeps_its_booked_appointments_apart(layouts, loaded, name):
    """Appointments booked after the export (FHIR booked, NHS code 0, TheraNest Upcoming, SimplePractice
    Show dated later) are the caseload's booked table, never its sessions."""
    caseload = loaded[name].caseload
    back = {v: k for k, v in layouts[name].ids.items()}
    booked = caseload.booked if caseload.booked is not None else caseload.sessions.iloc[:0]
    got = set(zip(booked["client_id"].map(lambda c: back.get(c, c)), booked["date"]))
    assert got == {(c, LATER) for c in layouts[name].booked}
    assert (caseload.sessions["date"] <= TRUTH.export_date).all()


def test_status_comes_from_the_cancelled_by_column(loaded):
    mapping = loaded["TheraNest"].mapping.table("sessions")
    assert mapping.cancelled_by == "Canceled By"
    assert mapping.values["cancelled_by"] == {"Client": "client", "Provider": "clinician"}
    counts = loaded["TheraNest"].caseload.sessions["status"].value_counts().to_dict()
    assert counts == TRUTH.sessions["status"].value_counts().to_dict()


def test_nhs_codes_and_fhir_words_are_suggested_from_their_vocabularies(loaded):
    nhs = loaded["NHS Talking Therapies"].mapping
    assert nhs.table("sessions").columns == {"client_id": "PathwayID", "therapist_id": "CarePersLocalId",
                                             "date": "CareContDate", "status": "AttendOrDNACode",
                                             "phq9": "PHQ9_Score", "gad7": "GAD_Score"}
    assert nhs.table("sessions").values["status"] == {"5": "attended", "6": "attended", "2": "cancelled",
                                                      "3": "no_show", "4": "clinician_cancelled", "0": "not_yet_held"}
    assert nhs.table("clients").values["termination"] == {"46": "completed", "47": "dropout", "13": "transferred",
                                                          "95": "other"}
    fhir = loaded["FHIR flattened CSV"].mapping.table("sessions")
    assert fhir.columns["date"] == "start" and fhir.cancelled_by == "cancelationReason"
    assert fhir.values["status"]["fulfilled"] == "attended" and fhir.values["status"]["booked"] == "not_yet_held"


def test_fhir_totals_join_their_appointments(loaded):
    sessions = loaded["FHIR NDJSON"].caseload.sessions.set_index(["client_id", "date"])["phq9"]
    truth = TRUTH.sessions.set_index(["client_id", "date"])["phq9"]
    assert sessions.sort_index().equals(truth.sort_index())


def test_workbook_rows_that_are_not_data_are_named(loaded):
    messages = [p.as_text() for p in loaded["Workbook"].problems]
    assert any("30 row(s) are totals or subtotals" in m for m in messages)
    assert any("29 blank separator row(s)" in m for m in messages)
    assert loaded["Workbook"].caseload.n_clients == len(TRUTH.clients)
