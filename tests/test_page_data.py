"""The Data page: the sample by default, an EHR export imported with its problems, identifiers resolved
on the page, and "Forget this data". AppTest cannot upload, so files go in through the page's
pending-sources key, the same path the upload button takes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from analytics.dictionary import data_dictionary
from analytics.privacy import hash_identifier

HERE = Path(__file__).parent
APP = HERE.parent / "app.py"
FIXTURES = HERE / "fixtures" / "ingest"
PENDING = "data_pending_sources"
NAMES = ("client_id,Client Name,Discharge Reason\nC1,James Smith,Dropped out\nC2,Mary Patel,Goals met\n"
         "C3,Omar Nguyen,Active\nC4,Linda Garcia,Dropped out\nC5,David Brown,Completed treatment\n")


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _page(**state) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    return at


def _outcomes(at) -> dict:
    table = next(d.value for d in at.dataframe if list(d.value.columns) == ["outcome", "clients"])
    return dict(zip(table["outcome"], table["clients"]))


def test_sample_data_is_shown_with_its_dictionary():
    at = _page()
    assert _metrics(at) == {"Clients": "1,500", "Sessions": "18,473", "Therapists": "30", "Export date": "2025-06-30"}
    assert at.success[0].value == "No problems found in the data."
    dictionary = next(d.value for d in at.dataframe if "meaning" in d.value.columns)
    assert len(dictionary) == len(data_dictionary())
    assert not [b for b in at.button if b.label == "Forget this data"]


def test_ehr_export_is_imported_with_every_problem_and_its_episodes():
    at = _page(**{PENDING: {"sessions": str(FIXTURES / "ehr_appointments.csv"), "clients": str(FIXTURES / "ehr_clients.csv")},
                  "data_export_date": datetime.date(2024, 6, 30)})
    assert _metrics(at) == {"Clients": "6", "Sessions": "29", "Therapists": "-", "Export date": "2024-06-30"}
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 6
    assert any("row 30" in w and "'Rescheduled'" in w for w in warnings)
    assert any("rows 21, 22, 23, 24" in w and "'C104'" in w for w in warnings)
    assert _outcomes(at) == {"ongoing or censored": 3, "dropout": 2, "completed": 1}
    columns = next(d.value for d in at.dataframe if list(d.value.columns) == ["column", "source"])
    assert dict(zip(columns["column"], columns["source"]))["date"] == "Date of Service"
    assert at.session_state["dataset_name"] == "ehr_appointments.csv, ehr_clients.csv"


def test_identifier_blocks_until_dropped_on_the_page_then_forget():
    at = _page(**{PENDING: {"clients": ("clients.csv", NAMES.encode())}})
    assert at.error and "Client Name" in at.error[0].value and "direct identifier" in at.error[0].value
    assert _metrics(at) == {}
    radio = next(r for r in at.radio if "Client Name" in r.label)
    radio.set_value("Drop the column").run()
    next(b for b in at.button if b.label == "Apply mapping and choices").click().run()
    assert not at.exception, at.exception
    assert not at.error
    assert _metrics(at)["Clients"] == "5"
    assert "Client Name" not in at.session_state["ingest"].caseload.clients.columns
    assert any("Episodes need the appointment history" in i.value for i in at.info)
    assert any("meaning" in d.value.columns for d in at.dataframe)  # the dictionary still follows

    next(b for b in at.button if b.label == "Forget this data").click().run()
    assert not at.exception, at.exception
    assert _metrics(at)["Clients"] == "1,500"
    assert at.session_state["dataset_name"] == "Sample caseload (synthetic)"


def test_record_numbers_kept_as_a_salted_hash_on_the_page():
    clients = "client_id,MRN,Discharge Reason\nC1,123456,Dropped out\nC2,654321,Goals met\n"
    at = _page(**{PENDING: {"clients": ("clients.csv", clients.encode())}})
    radio = next(r for r in at.radio if "MRN" in r.label)
    assert radio.options == ["Drop the column", "Keep as a salted hash"]
    radio.set_value("Keep as a salted hash").run()
    at.text_input(key="data_salt").set_value("clinic secret").run()
    next(b for b in at.button if b.label == "Apply mapping and choices").click().run()
    assert not at.exception and not at.error
    mrn = at.session_state["ingest"].caseload.clients["MRN"].tolist()
    assert mrn == hash_identifier(pd.Series(["123456", "654321"]), "clinic secret").tolist()
