"""FHIR R4 in: Bulk Data NDJSON (one resource a line) and Bundle JSON, read with the standard
json module and flattened into the tables the mapping reads like any other export.

- `Appointment` -> sessions: the Patient and Practitioner participants as client_id and
  therapist_id, `start` as the date, `status`, `cancelationReason` (who cancelled: pat / prov)
  and `serviceType` as the service code.
- `Observation` and `QuestionnaireResponse` totals, by LOINC code (the FHIR vocabulary file),
  -> a measure column of the appointment they belong to: through their encounter's appointment
  where given, else the client's appointment on the same day.
- `EpisodeOfCare` -> clients: the patient, the care manager as therapist, `period.start` as the
  intake date, `status` read as the ending (active means ongoing; finished does not say how).

Column names stay FHIR's own (`start`, `cancelationReason`, ...), so the suggested mapping shows
the user where each canonical column came from. Resources of other types (Patient, with its
names, among them) are not read at all.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pandas as pd

from analytics.ingest.problems import Problem, quoted
from analytics.ingest.readers import blob_of, finish_frame, source_name
from analytics.ingest.vocabulary import vocabulary

EXPECTED = ("Give a FHIR R4 Bundle (a .json file with \"resourceType\": \"Bundle\") or Bulk Data NDJSON "
            "(one resource a line, such as Appointment.ndjson), or export the table as CSV or Excel.")
SESSION_FIELDS = ("appointment_id", "client_id", "therapist_id", "start", "status", "cancelationReason", "serviceType")


def read_fhir(sources: list) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """The sessions and clients frames the FHIR resources of all `sources` make (pooled, so a
    Bulk Data export's Appointment.ndjson and Observation.ndjson join), and what went wrong."""
    resources, problems = defaultdict(list), []
    for source in sources:
        found, read_problems = _resources(source)
        problems += read_problems
        for resource in found:
            resources[resource["resourceType"]].append(resource)
    name = ", ".join(source_name(s) for s in sources)
    tables = {}
    if resources.get("Appointment"):
        sessions, found = _sessions(resources, name)
        problems += found
        tables["sessions"], found = finish_frame(sessions, name, [])
        problems += found
    if resources.get("EpisodeOfCare"):
        clients, found = _clients(resources["EpisodeOfCare"], name)
        problems += found
        tables["clients"], found = finish_frame(clients, name, [])
        problems += found
    return tables, problems


def _resources(source) -> tuple[list[dict], list[Problem]]:
    """The resources in one file: a Bundle's entries, a list or a single resource, or NDJSON lines."""
    name = source_name(source)
    blob = blob_of(source)
    if isinstance(blob, Problem):
        return [], [blob]
    with blob.open() as handle:
        text = handle.read().decode("utf-8-sig", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _ndjson(text, name)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        items = [entry.get("resource") for entry in data.get("entry", []) if isinstance(entry, dict)]
    else:
        items = data if isinstance(data, list) else [data]
    found = [r for r in items if isinstance(r, dict) and isinstance(r.get("resourceType"), str)]
    if not found:
        return [], [_not_fhir(name, "it is JSON, but holds no FHIR resource (no \"resourceType\")")]
    return found, []


def _ndjson(text: str, name: str) -> tuple[list[dict], list[Problem]]:
    found, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            found.append(resource)
        else:
            bad.append(number)
    if not found:
        return [], [_not_fhir(name, "it is neither a JSON document nor NDJSON with a FHIR resource on each line")]
    problems = []
    if bad:
        problems.append(Problem(name, None, bad[:10], f"{len(bad):,} line(s) are not FHIR resources; they were skipped",
                                "Check that the file is a FHIR Bulk Data export (one resource a line).",
                                more=max(len(bad) - 10, 0)))
    return found, problems


def _not_fhir(name: str, why: str) -> Problem:
    return Problem(name, None, [], f"The file could not be read as FHIR: {why}", EXPECTED, "error")


def _reference(value, kinds: tuple[str, ...]) -> str | None:
    """The id in a reference such as "Patient/123" (or a full URL ending so) when its type is one of `kinds`."""
    reference = (value or {}).get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str) or "/" not in reference:
        return None
    kind, _, ident = reference.rstrip("/").rpartition("/")
    return ident if kind.rpartition("/")[2] in kinds else None


def _code(concept) -> str | None:
    """The first code of a CodeableConcept, else its text."""
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    if not isinstance(concept, dict):
        return None
    codes = [c.get("code") for c in concept.get("coding", []) if isinstance(c, dict) and c.get("code")]
    return codes[0] if codes else concept.get("text")


def _sessions(resources: dict, name: str) -> tuple[pd.DataFrame, list[Problem]]:
    rows = []
    for appointment in resources["Appointment"]:
        row = dict.fromkeys(SESSION_FIELDS)
        row.update(appointment_id=appointment.get("id"), start=appointment.get("start"),
                   status=appointment.get("status"), cancelationReason=_code(appointment.get("cancelationReason")),
                   serviceType=_code(appointment.get("serviceType")))
        for participant in appointment.get("participant", []):
            actor = participant.get("actor") if isinstance(participant, dict) else None
            row["client_id"] = row["client_id"] or _reference(actor, ("Patient",))
            row["therapist_id"] = row["therapist_id"] or _reference(actor, ("Practitioner", "PractitionerRole"))
        rows.append(row)
    sessions = pd.DataFrame(rows, columns=list(SESSION_FIELDS))
    problems = []
    scores = _scores(resources)
    if len(scores):
        sessions, problems = _join_scores(sessions, scores, resources.get("Encounter", []), name)
    return sessions, problems


def _scores(resources: dict) -> pd.DataFrame:
    """One row per total score found: client, day, encounter, measure and value."""
    loinc = vocabulary("fhir_r4").extra["loinc"]
    rows = []
    for observation in resources.get("Observation", []):
        if observation.get("status") == "entered-in-error":
            continue
        codes = [c.get("code") for c in (observation.get("code") or {}).get("coding", []) if isinstance(c, dict)]
        measure = next((loinc[c] for c in codes if c in loinc), None)
        value = (observation.get("valueQuantity") or {}).get("value", observation.get("valueInteger"))
        if measure is not None and isinstance(value, (int, float)):
            when = observation.get("effectiveDateTime") or (observation.get("effectivePeriod") or {}).get("start")
            rows.append((_reference(observation.get("subject"), ("Patient",)), when,
                         _reference(observation.get("encounter"), ("Encounter",)), measure, float(value)))
    for response in resources.get("QuestionnaireResponse", []):
        for measure, value in _item_totals(response.get("item", []), loinc):
            rows.append((_reference(response.get("subject"), ("Patient",)), response.get("authored"),
                         _reference(response.get("encounter"), ("Encounter",)), measure, value))
    frame = pd.DataFrame(rows, columns=["client_id", "when", "encounter", "measure", "value"])
    frame["day"] = pd.to_datetime(frame["when"].astype(str).str[:10], errors="coerce")
    return frame


def _item_totals(items: list, loinc: dict) -> list[tuple[str, float]]:
    """(measure, value) of the answers whose linkId or definition is a known LOINC total, at any depth."""
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        keys = (str(item.get("linkId", "")), str(item.get("definition", "")).rpartition("#")[2].rpartition("/")[2])
        measure = next((loinc[k] for k in keys if k in loinc), None)
        answers = item.get("answer") or [{}]
        value = answers[0].get("valueInteger", answers[0].get("valueDecimal",
                                                              (answers[0].get("valueQuantity") or {}).get("value")))
        if measure is not None and isinstance(value, (int, float)):
            out.append((measure, float(value)))
        out += _item_totals(item.get("item", []), loinc)
    return out


def _join_scores(sessions: pd.DataFrame, scores: pd.DataFrame, encounters: list, name: str):
    """Each score onto its appointment: encounter -> Encounter.appointment, else client and day."""
    by_encounter = {}
    for encounter in encounters:
        appointments = encounter.get("appointment") or []
        ident = _reference(appointments[0] if isinstance(appointments, list) and appointments else appointments,
                           ("Appointment",))
        if ident is not None and encounter.get("id") is not None:
            by_encounter[str(encounter["id"])] = ident
    position = {str(a): i for i, a in enumerate(sessions["appointment_id"]) if a is not None}
    days = pd.to_datetime(sessions["start"].astype(str).str[:10], errors="coerce")
    by_day = {}
    for i, (client, day) in enumerate(zip(sessions["client_id"], days)):
        by_day.setdefault((client, day), i)
    rows = [position.get(by_encounter.get(str(e))) if e is not None else None for e in scores["encounter"]]
    rows = [r if r is not None else by_day.get((c, d)) for r, c, d in zip(rows, scores["client_id"], scores["day"])]
    out = sessions.copy()
    for measure in scores["measure"].unique():
        out[measure] = float("nan")
    matched = 0
    for row, measure, value in zip(rows, scores["measure"], scores["value"]):
        if row is not None:
            out.iloc[row, out.columns.get_loc(measure)] = value
            matched += 1
    problems = []
    if matched < len(scores):
        problems.append(Problem(name, None, [], f"{len(scores) - matched:,} of {len(scores):,} questionnaire totals "
                                "belong to no appointment (no encounter linking them, and no appointment of that "
                                "client that day); they were left out",
                                "Include the Encounter resources, or check the scores' dates and patients."))
    return out, problems


def _clients(episodes: list, name: str) -> tuple[pd.DataFrame, list[Problem]]:
    statuses = vocabulary("fhir_r4").extra["episode_status"]
    rows, void, unknown = [], 0, []
    for episode in episodes:
        status = episode.get("status")
        if status == "entered-in-error":
            void += 1
            continue
        if status not in statuses:
            unknown.append(str(status))
        rows.append({"client_id": _reference(episode.get("patient"), ("Patient",)),
                     "therapist_id": _reference(episode.get("careManager"), ("Practitioner", "PractitionerRole")),
                     "intake_date": (episode.get("period") or {}).get("start"),
                     "termination": statuses.get(status), "episode_status": status})
    problems = []
    if void:
        problems.append(Problem(name, None, [], f"{void:,} EpisodeOfCare resource(s) entered in error; left out",
                                "Nothing to do."))
    if unknown:
        problems.append(Problem(name, "episode_status", [], f"EpisodeOfCare statuses not in FHIR R4: "
                                f"{quoted(sorted(set(unknown)))}; their ending is left to the appointments",
                                "Check the export; FHIR R4 uses planned, waitlist, active, onhold, finished, "
                                "cancelled, entered-in-error."))
    columns = ["client_id", "therapist_id", "intake_date", "termination", "episode_status"]
    return pd.DataFrame(rows, columns=columns), problems
