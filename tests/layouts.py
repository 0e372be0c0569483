"""One ground truth written in the six layouts real clinics export (issue 12): SimplePractice
(clients by name), TheraNest / Ensora (status plus "Canceled By"), the NHS Talking Therapies data
set (IDS201 care contacts, IDS101 referrals), FHIR R4 Bulk Data NDJSON, FHIR flattened to CSV, and
a practice manager's workbook (title rows, blank separators, totals, two sheets).

Each layout comes with the command-line flags of issue 12 point 6 it needs (and nothing else), the
same choices as `load_caseload` options, and the episodes it must give: those of the synthetic
caseload it was written from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.privacy import hash_identifier
from analytics.synth import generate_caseload

TRUTH = generate_caseload(n_clients=60, n_therapists=4, seed=7)
EXPORT_DATE = f"{TRUTH.export_date:%Y-%m-%d}"
SALT = "clinic secret"
FIRST = ("James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David", "Emma", "Thomas", "Olivia", "Daniel", "Sophie")
LAST = ("Smith", "Patel", "Garcia", "Nguyen", "Brown", "Kowalski")
LATER = TRUTH.export_date + pd.Timedelta(days=10)  # appointments booked after the export: not yet held


@dataclass
class Layout:
    """Files of one layout, the flags the command line needs, the library's options and, per
    dropout definition, the true episodes (client_id -> (duration, event))."""

    name: str
    sources: dict
    flags: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    salt: str | None = None
    truth: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)  # truth client id -> the id the import gives it
    booked: list = field(default_factory=list)  # truth client ids with an appointment booked on LATER


def truth_episodes(with_clients: bool) -> dict[str, dict]:
    caseload = Caseload(TRUTH.sessions, TRUTH.clients if with_clients else None, None, export_date=TRUTH.export_date)
    out = {}
    for definition in ("unilateral", "therapist_judged") if with_clients else ("unilateral",):
        episodes = derive_episodes(caseload, EpisodeSettings(dropout_definition=definition))
        out[definition] = {c: (float(d), int(e)) for c, d, e in zip(episodes["client_id"], episodes["duration"], episodes["event"])}
    return out


def episodes_by_client(episodes: pd.DataFrame, ids: dict) -> dict:
    """Episodes as client_id -> (duration, event), under the truth's client ids."""
    back = {v: k for k, v in ids.items()}
    return {back.get(c, c): (float(d), int(e)) for c, d, e in zip(episodes["client_id"], episodes["duration"], episodes["event"])}


def write_layouts(folder: Path) -> dict[str, Layout]:
    folder.mkdir(parents=True, exist_ok=True)
    return {layout.name: layout for layout in (
        _simplepractice(folder), _theranest(folder), _nhs(folder), _fhir_ndjson(folder), _fhir_csv(folder),
        _workbook(folder))}


def _sessions() -> pd.DataFrame:
    return TRUTH.sessions.copy()


def _export_flags() -> list:
    return ["--export-date", EXPORT_DATE]


def _simplepractice(folder: Path) -> Layout:
    words = {"attended": "Show", "no_show": "No Show", "late_cancel": "Late Canceled", "cancelled": "Canceled",
             "clinician_cancelled": "Clinician Canceled"}
    s = _sessions()
    clients = sorted(s["client_id"].unique())
    names = {c: f"{FIRST[i % len(FIRST)]} {LAST[i // len(FIRST)]}" for i, c in enumerate(clients)}
    therapists = {t: f"Dr. {FIRST[-1 - i]} {LAST[i]}" for i, t in enumerate(sorted(s["therapist_id"].unique()))}
    booked = s.groupby("client_id").tail(1).head(5).assign(date=LATER, status="attended")  # SimplePractice says Show
    s = pd.concat([s, booked])
    frame = pd.DataFrame({"Date of Service": s["date"].dt.strftime("%m/%d/%Y"), "Client": s["client_id"].map(names),
                          "Clinician": s["therapist_id"].map(therapists), "Billing Code": s["service_code"],
                          "Status": s["status"].map(words)})
    path = folder / "simplepractice_appointments.csv"
    frame.to_csv(path, index=False)
    salt_file = folder / "salt.txt"
    salt_file.write_text(SALT + "\n")
    hashed = dict(zip(names, hash_identifier(pd.Series(list(names.values())), SALT)))
    return Layout("SimplePractice", {"sessions": path}, _export_flags() + ["--hash-identifiers", "--salt-file", salt_file],
                  {"export_date": EXPORT_DATE, "hash_columns": {"sessions": ["Client", "Clinician"]}}, SALT,
                  truth_episodes(False), hashed, list(booked["client_id"]))


def _theranest(folder: Path) -> Layout:
    words = {"attended": "Kept", "no_show": "No Show", "late_cancel": "Late Cancel", "cancelled": "Canceled",
             "clinician_cancelled": "Canceled"}
    s = _sessions()
    by = s["status"].map({"late_cancel": "Client", "cancelled": "Client", "clinician_cancelled": "Provider"})
    frame = pd.DataFrame({"Client ID": s["client_id"], "Staff": s["therapist_id"], "Date": s["date"].dt.strftime("%Y-%m-%d"),
                          "Status": s["status"].map(words), "Canceled By": by})
    upcoming = frame.tail(3).assign(Date=f"{LATER:%Y-%m-%d}", Status="Upcoming")
    path = folder / "theranest_appointments.csv"
    pd.concat([frame, upcoming]).to_csv(path, index=False)
    return Layout("TheraNest", {"sessions": path}, _export_flags(), {"export_date": EXPORT_DATE}, truth=truth_episodes(False),
                  booked=list(s["client_id"].tail(3)))


def _nhs(folder: Path) -> Layout:
    s = _sessions()
    rng = np.random.default_rng(3)
    attended = np.where(rng.random(len(s)) < 0.8, "5", "6")
    codes = np.select([s["status"] == "attended", s["status"] == "no_show", s["status"].isin(["cancelled", "late_cancel"])],
                      [attended, "3", "2"], "4")
    contacts = pd.DataFrame({"PathwayID": s["client_id"], "CarePersLocalId": s["therapist_id"],
                             "CareContDate": s["date"].dt.strftime("%Y-%m-%d"), "AttendOrDNACode": codes,
                             "PHQ9_Score": s["phq9"].astype("Int64"), "GAD_Score": s["gad7"].astype("Int64")})
    future = contacts.tail(2).assign(CareContDate=f"{LATER:%Y-%m-%d}", AttendOrDNACode="0", PHQ9_Score=pd.NA, GAD_Score=pd.NA)
    c = TRUTH.clients
    end = c["termination"].map({"dropout": "47", "completed": "46", "transferred": "13", "other": "95"})
    referrals = pd.DataFrame({"PathwayID": c["client_id"], "ReferralRequestReceivedDate": c["intake_date"].dt.strftime("%Y-%m-%d"),
                              "ServDischDate": "", "EndCode": end})
    sessions, clients = folder / "IDS201_care_contacts.csv", folder / "IDS101_referrals.csv"
    contacts.to_csv(sessions, index=False)
    future.to_csv(sessions, index=False, header=False, mode="a")
    referrals.to_csv(clients, index=False)
    return Layout("NHS Talking Therapies", {"sessions": sessions, "clients": clients}, _export_flags(),
                  {"export_date": EXPORT_DATE}, truth=truth_episodes(True), booked=list(s["client_id"].tail(2)))


def _fhir_appointments() -> list[dict]:
    s = _sessions()
    status = {"attended": "fulfilled", "no_show": "noshow", "late_cancel": "cancelled", "cancelled": "cancelled",
              "clinician_cancelled": "cancelled"}
    reason = {"late_cancel": "pat", "cancelled": "pat", "clinician_cancelled": "prov"}
    out = []
    for i, row in enumerate(s.itertuples()):
        appointment = {"resourceType": "Appointment", "id": f"a{i}", "status": status[row.status],
                       "start": f"{row.date:%Y-%m-%d}T10:00:00Z",
                       "serviceType": [{"coding": [{"code": str(row.service_code)}]}],
                       "participant": [{"actor": {"reference": f"Patient/{row.client_id}"}, "status": "accepted"},
                                       {"actor": {"reference": f"Practitioner/{row.therapist_id}"}, "status": "accepted"}]}
        if row.status in reason:
            appointment["cancelationReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": reason[row.status]}]}
        out.append(appointment)
    booked = dict(out[0], id="booked", status="booked", start=f"{LATER:%Y-%m-%d}T09:00:00Z")
    error = dict(out[0], id="error", status="entered-in-error", start=f"{TRUTH.export_date:%Y-%m-%d}T09:00:00Z")
    return out + [booked, error]


def _fhir_booked() -> list:
    """The client of the one Appointment booked after the export (a copy of the first one)."""
    return [_sessions()["client_id"].iloc[0]]


def _phq9_observations() -> list[dict]:
    s = _sessions()
    s = s[s["phq9"].notna()]
    return [{"resourceType": "Observation", "id": f"o{i}", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
             "subject": {"reference": f"Patient/{row.client_id}"}, "effectiveDateTime": f"{row.date:%Y-%m-%d}",
             "valueQuantity": {"value": float(row.phq9)}} for i, row in enumerate(s.itertuples())]


def _fhir_ndjson(folder: Path) -> Layout:
    appointments, observations = folder / "Appointment.ndjson", folder / "Observation.ndjson"
    appointments.write_text("\n".join(json.dumps(a) for a in _fhir_appointments()) + "\n")
    observations.write_text("\n".join(json.dumps(o) for o in _phq9_observations()) + "\n")
    return Layout("FHIR NDJSON", {"sessions": [appointments, observations]}, _export_flags(), {"export_date": EXPORT_DATE},
                  truth=truth_episodes(False), booked=_fhir_booked())


def _fhir_csv(folder: Path) -> Layout:
    rows = []
    for a in _fhir_appointments():
        reason = a.get("cancelationReason", {}).get("coding", [{}])[0].get("code", "")
        rows.append({"id": a["id"], "status": a["status"], "start": a["start"],
                     "patient": a["participant"][0]["actor"]["reference"].split("/")[1],
                     "practitioner": a["participant"][1]["actor"]["reference"].split("/")[1],
                     "serviceType": a["serviceType"][0]["coding"][0]["code"], "cancelationReason": reason})
    path = folder / "fhir_appointments.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return Layout("FHIR flattened CSV", {"sessions": path}, _export_flags(), {"export_date": EXPORT_DATE},
                  truth=truth_episodes(False), booked=_fhir_booked())


def _workbook(folder: Path) -> Layout:
    words = {"attended": "Attended", "no_show": "DNA", "late_cancel": "Late cancellation", "cancelled": "Cancelled",
             "clinician_cancelled": "Cancelled by clinic"}
    endings = {"dropout": "Client discontinued", "completed": "Discharged - goals met", "transferred": "Referred on",
               "other": "Moved away", "ongoing": "Active"}
    s = _sessions().sort_values("date", kind="stable")
    appointments = [["Appointments report", None, None, None], [None, None, None, None],
                    ["Client Number", "Therapist", "Appointment Date", "Attendance"]]
    for _, month in s.groupby(s["date"].dt.to_period("M")):
        appointments += [[r.client_id, r.therapist_id, r.date.to_pydatetime(), words[r.status]] for r in month.itertuples()]
        appointments += [["Subtotal", None, None, len(month)], [None, None, None, None]]
    appointments.append(["Grand total", None, None, len(s)])
    c = TRUTH.clients
    clients = [["Client list", None, None], ["Client Number", "Therapist", "Outcome"]]
    clients += [[r.client_id, r.therapist_id, endings[r.termination]] for r in c.itertuples()]
    clients.append(["Total", None, len(c)])
    path = folder / "practice_workbook.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame([["Summary of the year"], ["Clients", len(c)]]).to_excel(writer, sheet_name="Summary", index=False, header=False)
        pd.DataFrame(appointments).to_excel(writer, sheet_name="Appointments", index=False, header=False)
        pd.DataFrame(clients).to_excel(writer, sheet_name="Clients", index=False, header=False)
    sheets = {"sessions": "Appointments", "clients": "Clients"}
    return Layout("Workbook", {"sessions": path, "clients": path},
                  _export_flags() + ["--sheet", "sessions=Appointments", "--sheet", "clients=Clients"],
                  {"export_date": EXPORT_DATE, "sheets": sheets}, truth=truth_episodes(True))
