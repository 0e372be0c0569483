"""Issue 12 on the Data page: an upload of each of the six export layouts gives the true episodes
with no edit to the mapping; only the choices the command line has flags for are made on the page
(the workbook's sheets, keeping the name columns as salted hashes)."""

from __future__ import annotations

import datetime

import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.mapping import value_table
from tests.harness import open_page
from tests.layouts import EXPORT_DATE, episodes_by_client, write_layouts
from ui import imports
from ui.imports import ImportRequest

LAYOUTS = ("SimplePractice", "TheraNest", "NHS Talking Therapies", "FHIR NDJSON", "FHIR flattened CSV", "Workbook")
APPLY = "Apply mapping and choices"


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    return write_layouts(tmp_path_factory.mktemp("page_layouts"))


def _apply(at):
    next(b for b in at.button if b.label == APPLY).click().run()
    assert not at.exception, at.exception


@pytest.mark.parametrize("name", LAYOUTS)
def test_an_upload_of_each_layout_gives_the_true_episodes(layouts, name):
    layout = layouts[name]
    sources = {t: [str(p) for p in s] if isinstance(s, list) else str(s) for t, s in layout.sources.items()}
    export_date = datetime.date.fromisoformat(EXPORT_DATE)
    at = open_page("pages/data.py", **{imports.PENDING: ImportRequest(sources, options={"export_date": export_date})})
    if name == "SimplePractice":
        for column in ("Client", "Clinician"):
            next(r for r in at.radio if f"column **{column}**" in r.label).set_value("Keep as a salted hash").run()
        next(t for t in at.text_input if t.label == "Salt (a secret phrase)").set_value(layout.salt).run()
        _apply(at)
    if name == "Workbook":
        for table, sheet in layout.options["sheets"].items():
            next(b for b in at.selectbox if b.key.startswith(f"data_sheet_{table}_")).set_value(sheet).run()
        _apply(at)
    result = at.session_state["ingest"]
    assert result.ready, [p.as_text() for p in result.problems if p.blocking]
    assert not at.error
    for definition, truth in layout.truth.items():
        episodes = derive_episodes(result.caseload, EpisodeSettings(dropout_definition=definition))
        assert episodes_by_client(episodes, layout.ids) == truth, definition


def test_unknown_statuses_stop_and_are_mapped_on_the_page(tmp_path):
    rows = "".join(f"C{i},2024-01-{i + 1:02d},Show\n" for i in range(20)) + "C1,2024-02-01,Moved\nC2,2024-02-02,Moved\n"
    at = open_page("pages/data.py", **{imports.PENDING: ImportRequest(
        {"sessions": ("visits.csv", ("client_id,date,status\n" + rows).encode())})})
    assert at.session_state["ingest"].caseload is None
    assert any("'Moved' (2)" in e.value and "value table" in e.value for e in at.error)
    offered = value_table(at.session_state["ingest"].mapping.table("sessions"), "status")
    assert offered.to_dict("list") == {"value": ["Moved", "Show"], "means": ["", "attended"]}  # unknown first
