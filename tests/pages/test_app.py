"""Every page of the app, on the bundled sample and on an uploaded EHR export: no exception, and
the sidebar reports the dataset that was loaded (counts checked against the files)."""

from __future__ import annotations

import datetime

import pytest
from streamlit.testing.v1 import AppTest

from tests.paths import APP, FIXTURES
from ui import imports, navigation
from ui.imports import ImportRequest

PAGES = [file for pages in navigation.SECTIONS.values() for file, _ in pages]
UPLOAD = {imports.PENDING: ImportRequest({"sessions": str(FIXTURES / "ehr_appointments.csv"),
                                          "clients": str(FIXTURES / "ehr_clients.csv")},
                                         options={"export_date": datetime.date(2024, 6, 30)})}


def test_the_menu_lists_every_page_file():
    assert sorted(PAGES) == sorted(str(p.relative_to(APP.parent)) for p in (APP.parent / "pages").glob("*.py"))


def _sidebar_text(at) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_the_sample(page):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert "1,500 clients · 18,473 sessions" in _sidebar_text(at)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_an_uploaded_ehr_export(page):
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in UPLOAD.items():
        at.session_state[key] = value
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert "6 clients · 29 sessions" in _sidebar_text(at)
