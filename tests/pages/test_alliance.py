"""The Alliance page: the analytics' numbers on the sample, the user's rupture rules, and data without ratings."""

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.alliance import first_session_alliance, rupture_outcomes
from analytics.proportions import percent
from tests.harness import PRACTICE_SAMPLE as SAMPLE
from tests.harness import frame, number, open_page, tables, text

EPISODES = derive_episodes(SAMPLE, EpisodeSettings("therapist_judged"))


def test_alliance_page_shows_rupture_results_for_the_users_rules():
    at = open_page("pages/alliance.py", SAMPLE, suppress_below=0, alliance_section="Ruptures")
    # the default rule: a drop of 5 points, no cutoff; its share of clients shown beside it
    expected = rupture_outcomes(SAMPLE.sessions, EPISODES, "srs", 5.0, None, 3, suppress_below=0)
    shown = frame(at, "Clients with a rupture")
    assert number(shown["Clients with a rupture"].iloc[0]) == expected.table["clients_with_rupture"].iloc[0]
    assert expected.takeaway in text(at)
    flagged = {m.label: m.value for m in at.metric}["Clients this rule flags"]
    assert flagged == percent(expected.table["share"].iloc[0])

    at.number_input(key="rupture_drop_srs").set_value(8.0).run()
    at.checkbox(key="rupture_use_cutoff_srs").check().run()
    assert not at.exception
    stricter = rupture_outcomes(SAMPLE.sessions, EPISODES, "srs", 8.0, 36.0, 3)
    shown = frame(at, "Clients with a rupture")
    assert number(shown["Ruptures"].iloc[0]) == stricter.table["ruptures"].iloc[0]

    # the rule is kept while another section is open
    for section in ("Over the course of therapy", "Ruptures"):
        at.session_state["alliance_section"] = section
        at.run()
        assert not at.exception, at.exception
    assert number(frame(at, "Clients with a rupture")["Ruptures"].iloc[0]) == stricter.table["ruptures"].iloc[0]


def test_alliance_page_computes_only_the_open_section():
    at = open_page("pages/alliance.py", SAMPLE, suppress_below=0)
    first = first_session_alliance(EPISODES).table
    assert frame(at, "Clients below the cutoff")["Mean"].tolist() == [f"{m:,.3g}" for m in first["mean"]]
    assert "Clients this rule flags" not in {m.label for m in at.metric}
    assert "time-varying Cox" not in text(at)

    at.session_state["alliance_section"] = "Dropout risk by alliance level"
    at.run()
    assert not at.exception, at.exception
    assert "hazard ratio" in text(at) and "time-varying Cox" in text(at)
    assert "Clients below the cutoff" not in " ".join(" ".join(t.columns) for t in tables(at))


def test_alliance_page_without_ratings_names_the_column():
    sessions = SAMPLE.sessions.drop(columns=["srs", "wai"])
    at = open_page("pages/alliance.py", Caseload(sessions=sessions, clients=SAMPLE.clients))
    assert "needs a `srs` column in the sessions file" in text(at)
    assert not tables(at)


def test_alliance_page_wai_only():
    sessions = SAMPLE.sessions.drop(columns=["srs"])
    at = open_page("pages/alliance.py", Caseload(sessions=sessions, clients=SAMPLE.clients), suppress_below=0,
                   alliance_section="Ruptures")
    assert [r.value for r in at.radio if r.key == "alliance_measure"] == ["wai"]
    episodes = derive_episodes(Caseload(sessions=sessions, clients=SAMPLE.clients), EpisodeSettings())
    expected = rupture_outcomes(sessions, episodes, "wai", 6.0, None, 3)
    assert number(frame(at, "Clients with a rupture")["Ruptures"].iloc[0]) == expected.table["ruptures"].iloc[0]
