"""FHIR R4 in: a Bundle with appointments, encounters, questionnaire totals and episodes of care;
NDJSON lines that are not resources; JSON that is not FHIR."""

from __future__ import annotations

import json

import pandas as pd

from analytics.ingest.load import load_caseload


def _appointment(ident, patient, day, status, reason=None):
    out = {"resourceType": "Appointment", "id": ident, "status": status, "start": f"{day}T09:00:00+01:00",
           "participant": [{"actor": {"reference": f"https://fhir.example.org/Patient/{patient}"}},
                           {"actor": {"reference": "Practitioner/T1"}}]}
    if reason:
        out["cancelationReason"] = {"coding": [{"code": reason}]}
    return out


BUNDLE = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in [
    {"resourceType": "Patient", "id": "P1", "name": [{"family": "Smith", "given": ["James"]}]},
    _appointment("a1", "P1", "2024-01-08", "fulfilled"),
    _appointment("a2", "P1", "2024-01-08", "cancelled", "prov-pers"),
    _appointment("a3", "P1", "2024-01-15", "checked-in"),
    _appointment("a4", "P2", "2024-01-09", "cancelled", "pat"),
    _appointment("a5", "P2", "2024-01-16", "noshow"),
    {"resourceType": "Encounter", "id": "e3", "appointment": [{"reference": "Appointment/a3"}]},
    {"resourceType": "QuestionnaireResponse", "subject": {"reference": "Patient/P1"}, "encounter": {"reference": "Encounter/e3"},
     "authored": "2024-01-20", "item": [{"linkId": "phq9", "item": [{"linkId": "44261-6", "answer": [{"valueInteger": 12}]}]}]},
    {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/P1"},
     "code": {"coding": [{"system": "http://loinc.org", "code": "70274-6"}]}, "effectiveDateTime": "2024-01-08T09:30:00Z",
     "valueInteger": 9},
    {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/P2"},
     "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]}, "effectiveDateTime": "2023-12-01",
     "valueQuantity": {"value": 20}},
    {"resourceType": "EpisodeOfCare", "status": "active", "patient": {"reference": "Patient/P1"},
     "careManager": {"reference": "Practitioner/T1"}, "period": {"start": "2024-01-02"}},
    {"resourceType": "EpisodeOfCare", "status": "finished", "patient": {"reference": "Patient/P2"},
     "period": {"start": "2024-01-03", "end": "2024-02-01"}},
    {"resourceType": "EpisodeOfCare", "status": "entered-in-error", "patient": {"reference": "Patient/P3"}},
]]}


def test_a_bundle_gives_sessions_measures_and_clients():
    result = load_caseload({"sessions": ("export.json", json.dumps(BUNDLE).encode())}, export_date="2024-03-01")
    assert result.ready, [p.as_text() for p in result.problems]
    sessions = result.caseload.sessions.set_index("appointment_id")
    assert sessions["status"].to_dict() == {"a1": "attended", "a2": "clinician_cancelled", "a3": "attended",
                                            "a4": "cancelled", "a5": "no_show"}
    assert sessions["client_id"].tolist() == ["P1", "P1", "P1", "P2", "P2"]
    assert sessions.loc["a3", "phq9"] == 12  # through its encounter, although authored days later
    assert sessions.loc["a1", "gad7"] == 9 and pd.isna(sessions.loc["a2", "gad7"])  # same client and day: the first
    clients = result.caseload.clients.set_index("client_id")
    assert clients.loc["P1", "termination"] == "ongoing" and pd.isna(clients.loc["P2", "termination"])  # finished: how?
    assert clients.loc["P1", "intake_date"] == pd.Timestamp("2024-01-02") and clients.loc["P1", "therapist_id"] == "T1"
    messages = " ".join(p.message for p in result.problems)
    assert "1 of 3 questionnaire totals belong to no appointment" in messages
    assert "1 EpisodeOfCare resource(s) entered in error" in messages
    assert "Smith" not in result.raw["sessions"].to_string()  # the Patient resource is never read


def test_ndjson_lines_that_are_not_resources_are_named():
    lines = [json.dumps(_appointment("a1", "P1", "2024-01-08", "fulfilled")), "{not json", "",
             json.dumps(_appointment("a2", "P1", "2024-01-15", "noshow"))]
    result = load_caseload({"sessions": ("Appointment.ndjson", "\n".join(lines).encode())}, export_date="2024-03-01")
    assert result.ready and result.caseload.n_sessions == 2
    problem = next(p for p in result.problems if "not FHIR resources" in p.message)
    assert problem.rows == [2]


def test_json_that_is_not_fhir_says_what_was_expected():
    result = load_caseload({"sessions": ("appointments.json", b'[{"client": "C1", "date": "2024-01-01"}]')})
    error = next(p for p in result.problems if p.blocking)
    assert "could not be read as FHIR" in error.message and "Bundle" in error.fix and "NDJSON" in error.fix
    text = load_caseload({"clients": ("episodes.json", json.dumps(BUNDLE["entry"][1]["resource"]).encode())})
    assert any("hold no EpisodeOfCare resources" in p.message for p in text.problems)
