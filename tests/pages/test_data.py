"""The Data page: the sample by default, an EHR export imported with its problems, identifiers resolved
on the page, and "Forget this data". AppTest cannot upload, so files go in through the page's
pending-sources key, the same path the upload button takes."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.ingest.dictionary import data_dictionary
from analytics.ingest.privacy import hash_identifier
from analytics.schema import DEFINITIONS
from tests.harness import open_page
from tests.paths import APP, FIXTURES, SAMPLE_DIR
from ui import imports
from ui.imports import ImportRequest

PENDING = imports.PENDING
NAMES = ("client_id,Client Name,Discharge Reason\nC1,James Smith,Dropped out\nC2,Mary Patel,Goals met\n"
         "C3,Omar Nguyen,Active\nC4,Linda Garcia,Dropped out\nC5,David Brown,Completed treatment\n")


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _page(**state) -> AppTest:
    return open_page("pages/data.py", **state)


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
    at = _page(**{PENDING: ImportRequest({"sessions": str(FIXTURES / "ehr_appointments.csv"),
                                          "clients": str(FIXTURES / "ehr_clients.csv")},
                                         options={"export_date": datetime.date(2024, 6, 30)})})
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
    at = _page(**{PENDING: ImportRequest({"clients": ("clients.csv", NAMES.encode())})})
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
    at = _page(**{PENDING: ImportRequest({"clients": ("clients.csv", clients.encode())})})
    radio = next(r for r in at.radio if "MRN" in r.label)
    assert radio.options == ["Drop the column", "Keep as a salted hash"]
    radio.set_value("Keep as a salted hash").run()
    next(t for t in at.text_input if t.label == "Salt (a secret phrase)").set_value("clinic secret").run()
    next(b for b in at.button if b.label == "Apply mapping and choices").click().run()
    assert not at.exception and not at.error
    mrn = at.session_state["ingest"].caseload.clients["MRN"].tolist()
    assert mrn == hash_identifier(pd.Series(["123456", "654321"]), "clinic secret").tolist()


SAMPLE_FILES = {t: str(SAMPLE_DIR / f"{t}.csv") for t in ("sessions", "clients", "therapists")}
FILE_SETS = {
    "appointments only": ("sessions",),
    "clients only": ("clients",),
    "all three": ("sessions", "clients", "therapists"),
}
SUPPORTED = {"appointments only": {"unilateral", "early", "unilateral_unimproved"}, "clients only": {"therapist_judged"},
             "all three": {"therapist_judged", "unilateral", "early", "unilateral_unimproved"}}


@pytest.mark.parametrize("definition", DEFINITIONS)
@pytest.mark.parametrize("files", FILE_SETS)
def test_an_import_under_any_definition_changes_data_and_sidebar_together(files, definition):
    """An import that the chosen definition does not fit (appointments only under therapist-judged)
    crashed the run: the import changed the definition after the sidebar had drawn it."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="dropout_definition").set_value(definition).run()
    sources = {t: SAMPLE_FILES[t] for t in FILE_SETS[files]}
    at.session_state[PENDING] = ImportRequest(sources)
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    name = ", ".join(f"{t}.csv" for t in FILE_SETS[files])
    assert at.session_state["dataset_name"] == name
    assert at.sidebar.markdown[0].value.startswith(f"**{name}**")
    chosen = at.session_state["dropout_definition"]
    assert chosen in SUPPORTED[files] and (chosen == definition or definition not in SUPPORTED[files])
    received = next(t.value for t in at.table if "rows read" in t.value.columns)
    assert received["file"].to_dict() == {
        t: f"{t}.csv" if t in FILE_SETS[files] else "no file" for t in ("sessions", "clients", "therapists")}
    at.switch_page("pages/overview.py").run()
    assert not at.exception, at.exception


def _restore_script():
    import streamlit as st

    from analytics.recipe import Recipe
    from ui import imports, state

    imports.run_pending()
    st.button("drop", on_click=lambda: imports.request_reload(drop_columns={"clients": ["Email"]}))
    st.button("restore", on_click=lambda: imports.apply_recipe(Recipe.from_dict(st.session_state["saved"])))
    if state.caseload() is not None:
        st.session_state["current"] = state.current_recipe().to_dict()


def test_restoring_a_recipe_keeps_the_dropped_identifier_and_the_options():
    """A recipe with another mapping re-imports the upload with the import's dropped columns,
    export date and salt; with the mapping alone the e-mail column came back and blocked it."""
    clients = ("client_id,Email,Discharge Reason\nC1,a@x.org,Dropped out\nC2,b@x.org,Goals met\n"
               "C3,c@x.org,Active\n")
    at = AppTest.from_function(_restore_script, default_timeout=60)
    at.session_state[PENDING] = ImportRequest({"clients": ("clients.csv", clients.encode())},
                                              options={"export_date": datetime.date(2024, 6, 30)})
    at.run()
    assert at.session_state["ingest"].caseload is None  # the e-mail column blocks analysis
    at.button[0].click().run()
    assert at.session_state["ingest"].caseload is not None
    saved = at.session_state["current"]
    saved["mapping"]["clients"]["values"]["termination"]["Active"] = "other"
    saved["dropout_definition"] = "therapist_judged"
    at.session_state["saved"] = saved
    at.button[1].click().run()
    assert not at.exception, at.exception
    result = at.session_state["ingest"]
    assert result.caseload is not None, [p.as_text() for p in result.problems]
    assert "Email" not in result.caseload.clients.columns
    assert result.mapping.to_dict()["clients"]["values"]["termination"]["Active"] == "other"
    assert result.caseload.clients.set_index("client_id")["termination"].to_dict() == {
        "C1": "dropout", "C2": "completed", "C3": "other"}
    assert result.caseload.export_date == pd.Timestamp("2024-06-30")
    assert at.session_state["dropout_definition"] == "therapist_judged"
