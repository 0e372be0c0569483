"""Whole imports: a hand-written EHR export to known episodes, identifiers, saved mappings, sheets, sample data."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest import privacy
from analytics.ingest.load import SAMPLE_DIR, load_caseload, load_sample
from analytics.ingest.mapping import Mapping
from analytics.schema import TABLES
from tests.paths import EHR, FIXTURES

EXPORT_DATE = "2024-06-30"


@pytest.fixture(scope="module")
def ehr():
    return load_caseload(EHR, export_date=EXPORT_DATE)


def _events(caseload, definition):
    episodes = derive_episodes(caseload, EpisodeSettings(dropout_definition=definition))
    return dict(zip(episodes["client_id"], episodes["event"])), episodes


def test_ehr_export_gives_canonical_dtypes(ehr):
    sessions, clients = ehr.caseload.sessions, ehr.caseload.clients
    assert sessions["client_id"].tolist()[:2] == ["C101", "C101"]
    assert str(sessions["date"].dtype) == "datetime64[ns]" and sessions["date"].iloc[0] == pd.Timestamp("2024-01-08")
    assert sessions["srs"].dtype == float and sessions["srs"].iloc[0] == 34.0
    assert sessions["status"].value_counts().to_dict() == {
        "attended": 19, "no_show": 4, "cancelled": 2, "late_cancel": 2, "clinician_cancelled": 2}
    assert clients["termination"].tolist() == ["completed", "dropout", "dropout", "transferred", "ongoing", "transferred"]
    assert clients["age"].tolist() == [34, 27, 45, 22, 51, 38]
    assert list(sessions.columns[-3:]) == ["Appointment ID", "Start Time", "Location"]  # passed through
    assert sessions.index.tolist() == list(range(29))
    assert ehr.caseload.export_date == pd.Timestamp(EXPORT_DATE)


def test_ehr_export_gives_known_episodes(ehr):
    # attended: C101 6, C102 2, C103 4, C104 3 (CL-12 once, CL-15 twice), C105 3, C106 1.
    events, episodes = _events(ehr.caseload, "therapist_judged")
    assert dict(zip(episodes["client_id"], episodes["sessions_attended"])) == {
        "C101": 6, "C102": 2, "C103": 4, "C104": 3, "C105": 3, "C106": 1}
    assert events == {"C101": 2, "C102": 1, "C103": 1, "C104": 0, "C105": 0, "C106": 0}
    # Unilateral: last appointment a client miss more than 45 days before 2024-06-30 (C102, C103; C104 and
    # C106 were transferred, so censored); C105's last appointment (06-17) is within the window.
    events, _ = _events(ehr.caseload, "unilateral")
    assert events == {"C101": 2, "C102": 1, "C103": 1, "C104": 0, "C105": 0, "C106": 0}
    # Early: fewer than 4 attended and not ongoing or transferred: only C102.
    events, _ = _events(ehr.caseload, "early")
    assert events == {"C101": 2, "C102": 1, "C103": 2, "C104": 0, "C105": 0, "C106": 0}


def test_client_seen_by_two_therapists_gets_the_main_one_without_a_clients_file():
    result = load_caseload({"sessions": EHR["sessions"]}, export_date=EXPORT_DATE)
    _, episodes = _events(result.caseload, "unilateral")
    assert episodes.set_index("client_id").loc["C104", "therapist_id"] == "CL-15"


def test_edited_mapping_is_reapplied(ehr):
    edited = ehr.mapping.to_dict()
    edited["sessions"]["values"]["status"]["Rescheduled"] = "clinician_cancelled"
    again = load_caseload(EHR, mapping=Mapping.from_json(Mapping.from_dict(edited).to_json()), export_date=EXPORT_DATE)
    assert len(again.caseload.sessions) == 30
    assert not any(p.column == "Appointment Status" for p in again.problems)
    assert again.mapping.to_dict() == edited


def test_partial_mapping_is_completed_by_suggestion_and_fixes_an_unmapped_column():
    source = {"sessions": FIXTURES / "eu_appointments_cp1252.csv"}
    suggested = load_caseload(source, export_date=EXPORT_DATE)
    assert "therapist_id" not in suggested.mapping.table("sessions").columns
    assert suggested.caseload.sessions["Site"].tolist()[0] == "Genève"
    assert suggested.caseload.sessions["srs"].tolist()[:2] == [35.5, 36.0]
    assert suggested.caseload.sessions["date"].iloc[3] == pd.Timestamp("2024-01-15")

    mapping = suggested.mapping.to_dict()
    mapping["sessions"]["columns"]["therapist_id"] = "Therapeut"
    fixed = load_caseload(source, mapping=Mapping.from_dict(mapping), export_date=EXPORT_DATE)
    assert fixed.caseload.sessions["therapist_id"].unique().tolist() == ["TH-1", "TH-2"]
    assert "Therapeut" not in fixed.caseload.sessions.columns


def test_ambiguous_dates_warn_only_when_the_format_was_guessed():
    upload = ("s.csv", b"client_id,date,status\nC1,01/02/2024,attended\nC1,03/04/2024,no_show\n")
    guessed = load_caseload({"sessions": upload}, export_date="2024-12-31")
    warning = [p for p in guessed.problems if "month-first or day-first" in p.message]
    assert len(warning) == 1 and warning[0].column == "date"
    assert guessed.caseload.sessions["date"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-04")]
    mapping = guessed.mapping.to_dict()
    mapping["sessions"]["date_formats"]["date"] = "%d/%m/%Y"
    chosen = load_caseload({"sessions": upload}, mapping=Mapping.from_dict(mapping), export_date="2024-12-31")
    assert chosen.problems == []
    assert chosen.caseload.sessions["date"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-03")]


def test_excel_sheet_is_chosen_per_table():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active.append(["Report", "Caseload"])
    sheet = book.create_sheet("Appointments")
    sheet.append(["Patient ID", "DOS", "Status"])
    sheet.append([1001, "2024-03-01", "Arrived"])
    sheet.append([1001, "2024-03-08", "No Show"])
    buffer = io.BytesIO()
    book.save(buffer)
    result = load_caseload({"sessions": ("export.xlsx", buffer.getvalue())}, sheets={"sessions": "Appointments"},
                           export_date="2024-06-30")
    assert result.problems == []
    assert result.caseload.sessions[["client_id", "status"]].values.tolist() == [["1001", "attended"], ["1001", "no_show"]]


def test_parquet_with_native_dates():
    frame = pd.DataFrame({"client_id": ["A", "A"], "date": pd.to_datetime(["2024-01-01 10:30", "2024-01-08 00:00"]),
                          "status": ["attended", "cancelled"]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    result = load_caseload({"sessions": ("s.parquet", buffer.getvalue())}, export_date="2024-06-30")
    assert result.caseload.sessions["date"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")]


# --- direct identifiers --------------------------------------------------------------------------------

NAMES = ("client_id,Client Name,age\nC1,James Smith,30\nC2,Mary Patel,41\nC3,Omar Nguyen,25\n"
         "C4,Linda Garcia,52\nC5,David Brown,36\n")


def test_identifier_blocks_until_dropped():
    blocked = load_caseload({"clients": ("clients.csv", NAMES.encode())})
    assert blocked.caseload is None
    error = [p for p in blocked.problems if p.severity == "error"]
    assert len(error) == 1 and error[0].column == "Client Name" and error[0].file == "clients.csv"
    assert "direct identifier" in error[0].message and "keep it as a salted hash" not in error[0].fix
    assert [f.column for f in blocked.identifiers] == ["Client Name"]

    dropped = load_caseload({"clients": ("clients.csv", NAMES.encode())}, drop_columns={"clients": ["Client Name"]})
    assert dropped.caseload is not None and "Client Name" not in dropped.caseload.clients.columns
    assert "Client Name" not in dropped.raw["clients"].columns


def test_record_numbers_can_be_hashed_with_a_salt():
    text = "client_id,MRN\nC1,123456\nC2,654321\n"
    unsalted = load_caseload({"clients": ("c.csv", text.encode())}, hash_columns={"clients": ["MRN"]})
    assert unsalted.caseload is None and any("salt" in p.message for p in unsalted.problems)
    hashed = load_caseload({"clients": ("c.csv", text.encode())}, hash_columns={"clients": ["MRN"]}, salt="s3cret")
    expected = privacy.hash_identifier(pd.Series(["123456", "654321"]), "s3cret").tolist()
    assert hashed.caseload.clients["MRN"].tolist() == expected
    assert "123456" not in hashed.raw["clients"]["MRN"].tolist()


def test_names_used_as_therapist_id_may_be_hashed_but_notes_may_not():
    sessions = ("client_id,Clinician,date,status,Notes\n"
                "C1,Dr. Jane Smith,2024-01-01,attended,Client discussed her work stress at length today\n"
                "C1,Dr. Jane Smith,2024-01-08,attended,Follow up on sleep and the conflict with her sister\n"
                "C2,Dr. Mark Brown,2024-01-02,no_show,Did not attend and did not call the office about it\n")
    upload = {"sessions": ("s.csv", sessions.encode())}
    blocked = load_caseload(upload, export_date="2024-02-01")
    assert sorted(p.column for p in blocked.problems if p.severity == "error") == ["Clinician", "Notes"]
    notes_hashed = load_caseload(upload, hash_columns={"sessions": ["Clinician", "Notes"]}, salt="x", export_date="2024-02-01")
    assert [p.column for p in notes_hashed.problems if p.severity == "error"] == ["Notes"]
    resolved = load_caseload(upload, hash_columns={"sessions": ["Clinician"]}, drop_columns={"sessions": ["Notes"]},
                             salt="x", export_date="2024-02-01")
    therapists = resolved.caseload.sessions["therapist_id"]
    assert therapists.nunique() == 2 and not therapists.str.contains("Smith").any()
    assert therapists.iloc[0] == privacy.hash_identifier(pd.Series(["Dr. Jane Smith"]), "x").iloc[0]


def test_every_finding_of_the_scan_becomes_an_error(monkeypatch):
    def fake_scan(frame, file):
        return [privacy.IdentifierFinding(file, "Location", "address", "a fake reason", False)] if "Location" in frame else []

    monkeypatch.setattr(privacy, "scan_identifiers", fake_scan)
    blocked = load_caseload(EHR, export_date=EXPORT_DATE)
    assert blocked.caseload is None
    error = [p for p in blocked.problems if p.severity == "error"]
    assert [(p.file, p.column) for p in error] == [("ehr_appointments.csv", "Location")]
    assert "a fake reason" in error[0].message
    resolved = load_caseload(EHR, drop_columns={"sessions": ["Location"]}, export_date=EXPORT_DATE)
    assert resolved.caseload is not None and "Location" not in resolved.caseload.sessions.columns


# --- the bundled sample ---------------------------------------------------------------------------------

def test_sample_data_loads_clean():
    result = load_sample()
    assert result.problems == [] and result.identifiers == []
    for table in TABLES:
        rows = len(pd.read_csv(SAMPLE_DIR / f"{table}.csv"))
        assert len(getattr(result.caseload, table)) == rows
        assert result.mapping.table(table).columns == {c: c for c in result.mapping.table(table).columns}
    assert result.caseload.sessions["status"].isin(["attended", "no_show", "late_cancel", "cancelled", "clinician_cancelled"]).all()


def test_unknown_table_key_is_an_error():
    result = load_caseload({"appointments": ("a.csv", b"client_id\nC1\n")})
    assert "'appointments' is not a table" in result.problems[0].message and result.caseload is None


def test_canonical_text_is_plain_str_and_the_fingerprint_matches_the_tables(ehr):
    from analytics.caseload import fingerprint_frames

    caseload = ehr.caseload
    for frame, columns in ((caseload.sessions, ["client_id", "therapist_id", "status", "Location"]),
                           (caseload.clients, ["client_id", "termination", "gender"])):
        assert all(frame[c].dtype == object for c in columns)
        assert isinstance(frame["client_id"].iloc[0], str)
    assert caseload.fingerprint == fingerprint_frames(caseload.sessions, caseload.clients, caseload.therapists)


def test_options_repeat_the_import_with_another_mapping():
    names = load_caseload({"clients": ("clients.csv", NAMES.encode())}, drop_columns={"clients": ["Client Name"]},
                          export_date="2024-06-30")
    assert names.options["drop_columns"] == {"clients": ["Client Name"]}
    again = load_caseload({"clients": ("clients.csv", NAMES.encode())}, mapping=names.mapping, **names.options)
    assert again.caseload is not None and again.caseload.export_date == pd.Timestamp("2024-06-30")


def test_parquet_list_column_is_read_as_text():
    frame = pd.DataFrame({"client_id": ["A", "B"], "tags": [["x", "y"], ["z"]]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    result = load_caseload({"clients": ("c.parquet", buffer.getvalue())})
    assert result.caseload.clients["tags"].tolist() == ["['x' 'y']", "['z']"]
