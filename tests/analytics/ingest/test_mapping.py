"""Suggested mappings for real EHR exports, value conversions, and the Mapping as editable JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics.ingest.mapping import (
    Mapping,
    TableMapping,
    apply_mapping,
    classify_status,
    classify_termination,
    detect_date_format,
    map_values,
    parse_dates,
    suggest_mapping,
    to_flags,
    to_ids,
    to_numbers,
)
from analytics.ingest.readers import read_table
from analytics.schema import SESSION_STATUSES
from tests.paths import FIXTURES


@pytest.fixture(scope="module")
def ehr():
    sessions, _ = read_table(FIXTURES / "ehr_appointments.csv")
    clients, _ = read_table(FIXTURES / "ehr_clients.csv")
    return {"sessions": sessions, "clients": clients}


def test_ehr_headers_map_to_canonical_columns(ehr):
    mapping = suggest_mapping(ehr)
    assert mapping.table("sessions").columns == {
        "client_id": "Client ID", "therapist_id": "Clinician", "date": "Date of Service",
        "status": "Appointment Status", "srs": "SRS Total", "service_code": "Service Code",
    }
    assert mapping.table("clients").columns == {
        "client_id": "Client ID", "therapist_id": "Primary Clinician", "intake_date": "Intake Date",
        "termination": "Discharge Reason", "site": "Site", "age": "Age", "gender": "Gender", "referral": "Referral Source",
    }
    assert mapping.table("sessions").date_formats == {"date": "%m/%d/%Y"}


def test_ehr_status_and_ending_words(ehr):
    mapping = suggest_mapping(ehr)
    assert mapping.table("sessions").values["status"] == {
        "Show": "attended", "No Show": "no_show", "Kept": "attended", "Arrived": "attended",
        "Checked Out": "attended", "Late Canceled": "late_cancel", "Clinician Canceled": "clinician_cancelled",
        "Shown": "attended", "Completed": "attended", "Canceled": "cancelled", "Missed": "no_show",
        "Provider Cancelled": "clinician_cancelled", "Rescheduled": None, "Late Cancel": "late_cancel",
        "Cancelled": "cancelled",
    }
    assert mapping.table("clients").values["termination"] == {
        "Completed treatment": "completed", "Dropped out": "dropout", "Client discontinued": "dropout",
        "Transferred": "transferred", "Active": "ongoing", "Referred out": "transferred",
    }


@pytest.mark.parametrize("word, status", [
    ("Show", "attended"), ("SHOWN", "attended"), ("Kept", "attended"), ("Arrived", "attended"),
    ("Checked-Out", "attended"), ("Completed", "attended"), ("No Show", "no_show"), ("no-show", "no_show"),
    ("Missed", "no_show"), ("DNA", "no_show"), ("Late Canceled", "late_cancel"), ("Late Cancel", "late_cancel"),
    ("Cancelled <24h late", "late_cancel"), ("Canceled", "cancelled"), ("Cancelled", "cancelled"),
    ("Canceled by Client", "cancelled"), ("Clinician Canceled", "clinician_cancelled"),
    ("Provider Cancelled", "clinician_cancelled"), ("Cancelled by therapist", "clinician_cancelled"),
    ("no_show", "no_show"), ("clinician_cancelled", "clinician_cancelled"), ("Rescheduled", None), ("", None),
])
def test_status_words(word, status):
    assert classify_status(word) == status


@pytest.mark.parametrize("word, ending", [
    ("Dropped out", "dropout"), ("Client discontinued", "dropout"), ("Client discontinued services", "dropout"),
    ("Lost to follow-up", "dropout"), ("Treatment not completed", "dropout"), ("Unplanned ending", "dropout"),
    ("Completed treatment", "completed"), ("Goals met", "completed"), ("Planned discharge", "completed"),
    ("Active", "ongoing"), ("Open", "ongoing"), ("Transferred", "transferred"), ("Referred out", "transferred"),
    ("Moved away", "other"), ("Inactive", None), ("Discharged", None),
])
def test_ending_words(word, ending):
    assert classify_termination(word) == ending


def test_columns_found_from_values_when_headers_say_nothing():
    frame = pd.DataFrame({
        "Col1": ["C1", "C1", "C2"], "Col2": ["2024-03-01", "2024-03-08", "2024-03-02"], "Col3": ["Show", "No Show", "Kept"],
    })
    columns = suggest_mapping({"sessions": frame}).table("sessions").columns
    assert columns["status"] == "Col3" and columns["date"] == "Col2"
    clients = pd.DataFrame({"id": ["C1", "C2", "C3"], "Reason": ["Dropped out", "Goals met", "Active"]})
    assert suggest_mapping({"clients": clients}).table("clients").columns == {"client_id": "id", "termination": "Reason"}


def test_therapists_file_headers():
    frame = pd.DataFrame({"Provider ID": ["T1"], "Years of Experience": ["4"], "Theoretical Orientation": ["CBT"],
                          "Intern": ["Yes"], "Languages Spoken": ["English; Spanish"]})
    assert suggest_mapping({"therapists": frame}).table("therapists").columns == {
        "therapist_id": "Provider ID", "languages": "Languages Spoken", "experience_years": "Years of Experience",
        "trainee": "Intern", "orientation": "Theoretical Orientation",
    }


def test_date_formats_us_european_iso_and_ambiguity():
    assert detect_date_format(pd.Series(["01/02/2024", "12/31/2023", "1/13/2024 10:00 AM"])) == ("%m/%d/%Y", False)
    assert detect_date_format(pd.Series(["01/02/2024", "13/02/2024"])) == ("%d/%m/%Y", False)
    assert detect_date_format(pd.Series(["01/02/2024", "03/04/2024"])) == ("%m/%d/%Y", True)
    assert detect_date_format(pd.Series(["2024-01-02", "2024-01-13T09:30:00"])) == ("%Y-%m-%d", False)
    assert detect_date_format(pd.Series(["15.03.2024", "01.04.2024"])) == ("%d.%m.%Y", False)
    assert detect_date_format(pd.Series(["soon", "later"])) == (None, False)


def test_parse_dates_drops_time_and_marks_unreadable():
    parsed = parse_dates(pd.Series(["01/13/2024 4:30 PM", "02/30/2024", None, "12/01/2023"]), "%m/%d/%Y")
    assert parsed.dt.strftime("%Y-%m-%d").tolist()[0] == "2024-01-13"
    assert parsed.isna().tolist() == [False, True, True, False]
    assert parsed.iloc[3] == pd.Timestamp("2023-12-01")
    european = parse_dates(pd.Series(["13/02/2024", "01/03/2024"]), "%d/%m/%Y")
    assert european.tolist() == [pd.Timestamp("2024-02-13"), pd.Timestamp("2024-03-01")]


def test_ids_numbers_and_flags():
    assert to_ids(pd.Series(["007", " C1 ", None, ""])).tolist()[:2] == ["007", "C1"]
    assert to_ids(pd.Series([1001.0, np.nan])).tolist()[0] == "1001"
    assert to_ids(pd.Series(["C1", 1002], dtype=object)).tolist() == ["C1", "1002"]
    assert to_numbers(pd.Series(["35,5", "40", "good", None])).tolist()[:2] == [35.5, 40.0]
    assert np.isnan(to_numbers(pd.Series(["good"])).iloc[0])
    assert to_flags(pd.Series(["Yes", "no", "Y", None])).tolist()[:3] == [1.0, 0.0, 1.0]
    assert to_flags(pd.Series(["Yes", "sometimes"])) is None


def test_value_map_matches_ignoring_case_and_punctuation():
    mapped = map_values(pd.Series(["NO SHOW", "show", "attended", "Pending", None]),
                        {"No Show": "no_show", "Show": "attended"}, SESSION_STATUSES)
    assert mapped.tolist()[:3] == ["no_show", "attended", "attended"]
    assert mapped.isna().tolist()[3:] == [True, True]


def test_apply_mapping_renames_and_passes_other_columns_through():
    frame = pd.DataFrame({"Client ID": ["C1"], "When": ["2024-01-01"], "date": ["x"], "Room": ["3B"]}, index=[2])
    mapped = apply_mapping(frame, TableMapping(columns={"client_id": "Client ID", "date": "When"}), "sessions")
    assert list(mapped.columns) == ["client_id", "date", "date_source", "Room"]
    assert mapped.index.tolist() == [2]


def test_mapping_json_round_trip_and_reapply(ehr):
    mapping = suggest_mapping(ehr)
    text = json.dumps(mapping.to_dict())
    again = Mapping.from_json(text)
    assert again.to_dict() == mapping.to_dict()
    assert Mapping.from_dict(json.loads(mapping.to_json())).table("sessions").values["status"]["Kept"] == "attended"


@pytest.mark.parametrize("bad, words", [
    ({"appointments": {}}, "'appointments' is not a table"),
    ({"sessions": {"columns": {"client": "Client ID"}}}, "'client' is not a canonical column"),
    ({"sessions": {"values": {"status": {"Show": "present"}}}}, "'Show' maps to 'present'"),
    ({"sessions": {"date_formats": {"date": "MM/DD/YYYY"}}}, "not a date format"),
    ({"sessions": {"columns": {"client_id": 3}}}, "expected an object of text to text"),
    ({"sessions": {"colums": {}}}, "unknown key(s) colums"),
    ([1, 2], "keyed by table"),
])
def test_bad_mapping_is_a_clear_value_error(bad, words):
    with pytest.raises(ValueError, match=None) as error:
        Mapping.from_dict(bad)
    assert words in str(error.value)


def test_bad_json_text():
    with pytest.raises(ValueError, match="not valid JSON"):
        Mapping.from_json("{sessions:")


def test_editor_tables_round_trip(ehr):
    from analytics.ingest.mapping import (
        column_table,
        table_mapping_from_tables,
        value_table,
    )

    suggested = suggest_mapping(ehr).table("sessions")
    columns = column_table(suggested, "sessions")
    assert columns.set_index("column").loc["date", "source"] == "Date of Service"
    assert columns.set_index("column").loc["wai", "source"] == ""
    values = value_table(suggested, "status")
    assert values.set_index("value").loc["Rescheduled", "means"] == ""
    values.loc[values["value"] == "Rescheduled", "means"] = "cancelled"
    columns.loc[columns["column"] == "service_code", "source"] = ""
    edited = table_mapping_from_tables("sessions", columns, {"status": values}, suggested.date_formats)
    assert "service_code" not in edited.columns and edited.columns["status"] == "Appointment Status"
    assert edited.values["status"]["Rescheduled"] == "cancelled" and edited.values["status"]["Kept"] == "attended"
    values.loc[0, "means"] = "came"
    with pytest.raises(ValueError, match="maps to 'came'"):
        table_mapping_from_tables("sessions", columns, {"status": values}, suggested.date_formats)
