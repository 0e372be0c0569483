"""A change of definition keeps what does not depend on it: the episode history is derived once,
the appointments of the filtered clients are the same table, the watch list's per-appointment
features, the numbered rated sessions of the Alliance and Outcomes pages and the Alliance page's
session intervals (the time-varying model's rows) are computed once."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analytics.practice import watch_list as wl
from tests.paths import APP, ROOT
from ui import imports, state
from ui.imports import ImportRequest


def test_a_change_of_definition_reuses_the_filtered_appointments_and_the_watch_list_features(monkeypatch):
    calls = []
    features = wl.appointment_features
    monkeypatch.setattr(wl, "appointment_features", lambda sessions: calls.append(len(sessions)) or features(sessions))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[imports.PENDING] = ImportRequest(  # an upload: this session's own cache, not the server's
        {t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")})
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/watch_list.py").run()
    assert not at.exception, at.exception
    assert at.session_state[state.DEFINITION] == "therapist_judged"
    for definition in ("unilateral", "early", "therapist_judged"):
        at.session_state[state.DEFINITION] = definition
        at.run()
        assert not at.exception, at.exception
    assert calls == [18_473]  # every appointment of the sample, once for every definition
    kept = [key for key in at.session_state[state.CACHE]._entries if key[0] == "filtered_sessions"]
    assert len(kept) == 1


@pytest.mark.parametrize(("page", "section", "measure"),
                         [("pages/alliance.py", "alliance_section", "srs"), ("pages/outcomes.py", "outcomes_section", "phq9")])
def test_a_change_of_definition_numbers_the_rated_sessions_once(monkeypatch, page, section, measure):
    from analytics.practice import alliance

    calls = []
    rows = alliance.rated_rows
    monkeypatch.setattr(alliance, "rated_rows",
                        lambda sessions, measure, *clients: calls.append(measure) or rows(sessions, measure, *clients))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[imports.PENDING] = ImportRequest(
        {t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")})
    at.switch_page("pages/data.py").run()
    at.session_state[section] = "Over the course of therapy"  # the section that shows the rated sessions
    at.switch_page(page).run()
    for definition in ("unilateral", "early"):
        at.session_state[state.DEFINITION] = definition
        at.run()
        assert not at.exception, at.exception
    assert calls == [measure]


def test_a_change_of_definition_keeps_the_session_intervals_of_the_time_varying_model(monkeypatch):
    from analytics.survival import time_varying

    calls = []
    intervals = time_varying.session_intervals
    monkeypatch.setattr(time_varying, "session_intervals",
                        lambda sessions, measure, *rest: calls.append(len(sessions)) or intervals(sessions, measure, *rest))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[imports.PENDING] = ImportRequest(
        {t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")})
    at.switch_page("pages/data.py").run()
    at.session_state["alliance_section"] = "Dropout risk by alliance level"
    at.switch_page("pages/alliance.py").run()
    risk = {}
    for definition in ("unilateral", "early", "therapist_judged"):
        at.session_state[state.DEFINITION] = definition
        at.run()
        assert not at.exception, at.exception
        risk[definition] = next(result.table for key, (_, result) in at.session_state[state.CACHE]._entries.items()
                                if key[0] == "alliance_risk" and key[2].dropout_definition == definition)
    assert calls == [18_473]  # every appointment of the sample, once for every definition
    assert not risk["unilateral"].equals(risk["early"])  # each definition's own dropouts in the model


def test_a_change_of_definition_derives_the_episode_history_and_the_sidebar_choices_once(monkeypatch):
    from analytics import episodes

    calls, computed = [], []
    history = episodes.episode_history
    monkeypatch.setattr(state, "episode_history", lambda *args: calls.append(1) or history(*args))
    calculating = state._calculating
    monkeypatch.setattr(state, "_calculating", lambda name, *rest: computed.append(name) or calculating(name, *rest))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[imports.PENDING] = ImportRequest(
        {t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")})
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/overview.py").run()
    computed.clear()  # the first page's run settles the sidebar's defaults; the changes start here
    for definition in ("unilateral", "early", "unilateral_unimproved"):
        at.session_state[state.DEFINITION] = definition
        at.run()
        assert not at.exception, at.exception
    assert calls == [1]
    derived = [key for key in at.session_state[state.CACHE]._entries if key[0] == "episodes"]
    assert len(derived) == 4  # each definition's episodes, from the one history
    # what the sidebar offers does not depend on the definition either: found once
    assert "available_definitions" not in computed and "measures_present" not in computed
