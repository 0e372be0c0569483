"""The server's warm-up leaves the sample's director pages in the shared cache, so a first
visitor's run computes nothing, whichever section of the Overview they open and whichever
director's page and definition they choose; it holds no upload."""

import logging

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from analytics.episodes import available_definitions

from tests.harness import tables
from tests.paths import APP
from ui import navigation, serve, state


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_warm_up_fills_the_shared_cache_for_the_first_visitor(monkeypatch):
    records, streamlit_log = _Records(), logging.getLogger(serve._OUTSIDE_A_RUN)
    streamlit_log.addHandler(records)
    try:
        serve.warm()
    finally:
        streamlit_log.removeHandler(records)
    assert not [m for m in records.messages if "missing ScriptRunContext" in m]  # nothing on the terminal
    warmed = list(state._shared_store())
    assert any(key[0] == "practice_headline" for key in warmed)
    computed = []
    monkeypatch.setattr(state, "_calculating", lambda name, *rest: computed.append(name))
    visitor = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not visitor.exception
    assert computed == [] and set(state._shared_store()) == set(warmed)


def test_warm_up_covers_a_change_of_definition(monkeypatch):
    serve.warm()
    computed = []
    monkeypatch.setattr(state, "_calculating", lambda name, *rest: computed.append(name))
    visitor = AppTest.from_file(str(APP), default_timeout=120).run()
    visitor.selectbox(key=state.DEFINITION).set_value("unilateral").run()
    assert not visitor.exception and computed == []
    assert "Unilateral" in visitor.caption[0].value  # the run was under the new definition


def test_warm_up_covers_every_section_of_the_overview(monkeypatch):
    serve.warm()
    computed = []
    monkeypatch.setattr(state, "_calculating", lambda name, *rest: computed.append(name))
    labels = [tab.label for tab in AppTest.from_file(str(APP), default_timeout=120).run().tabs]
    assert len(labels) == 6
    for label in labels[1:]:
        visitor = AppTest.from_file(str(APP), default_timeout=120)
        visitor.session_state[state.OVERVIEW_SECTION] = label
        visitor.run()
        assert not visitor.exception
        assert tables(visitor) or visitor.info, label  # the section was drawn
    assert computed == []


def test_warm_up_covers_every_directors_page_under_every_definition(monkeypatch):
    with monkeypatch.context() as server:  # warm up as `python -m ui.serve` does: AppTest's own page routing
        server.setattr(app_test, "PagesManager", PagesManager)
        serve.warm()
    computed = []
    monkeypatch.setattr(state, "_calculating", lambda name, *rest: computed.append(name))
    for definition in available_definitions(state._sample().caseload):
        for page, title in navigation.DIRECTOR_PAGES:
            visitor = AppTest.from_file(str(APP), default_timeout=120)
            visitor.session_state[state.DEFINITION] = definition
            visitor.run().switch_page(page).run()
            assert not visitor.exception and visitor.title[0].value == title
            assert computed == [], (definition, title)


def test_the_server_starts_with_the_warm_up_frozen_out_of_full_collections(monkeypatch):
    """A full garbage collection holds up every session; what the warm-up made is not looked at again."""
    import gc

    from streamlit.web import cli

    monkeypatch.setattr(serve, "warm", lambda: 0.0)
    started = []
    monkeypatch.setattr(cli, "main", lambda args, **kwargs: started.append((args, gc.get_freeze_count())) or 0)
    gc.unfreeze()
    try:
        assert serve.main(["--server.port", "9"]) == 0
        assert started[0][0][-2:] == ["--server.port", "9"] and started[0][1] > 1000
    finally:
        gc.unfreeze()
