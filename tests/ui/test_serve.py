"""The server's warm-up leaves the sample's Overview in the shared cache, so a first visitor's run
computes nothing, whichever section of it they open; it holds no upload."""

from streamlit.testing.v1 import AppTest

from tests.paths import APP
from ui import serve, state


def test_warm_up_fills_the_shared_cache_for_the_first_visitor(monkeypatch):
    serve.warm()
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
        assert visitor.dataframe or visitor.info, label  # the section was drawn
    assert computed == []
