"""The episode rules in SQL equal analytics/episodes.py on the sample caseload, under every
definition and time scale, in DuckDB (Spark runs the same text: test_spark.py)."""

from __future__ import annotations

import pytest

from analytics.engines import open_engine
from analytics.engines.rules import CaseloadFacts, episode_stages
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest import load_sample
from analytics.schema import DEFINITIONS
from tests.analytics.engines.compare import assert_same_episodes, collected


@pytest.fixture(scope="module")
def sample():
    caseload = load_sample().caseload
    engine = open_engine("duckdb")
    for table in ("sessions", "clients", "therapists"):
        engine.register(table, getattr(caseload, table))
    yield caseload, engine
    engine.close()


@pytest.mark.parametrize("time_scale", ["sessions", "days"])
@pytest.mark.parametrize("definition", DEFINITIONS)
def test_engine_episodes_equal_the_in_memory_episodes(sample, definition, time_scale):
    caseload, engine = sample
    settings = EpisodeSettings(definition, time_scale=time_scale)
    expected = derive_episodes(caseload, settings)
    assert_same_episodes(collected(engine, engine.episodes(settings, caseload.export_date)), expected)
    assert expected["event"].nunique() == 3  # the sample has dropouts, completions and censored episodes


def test_the_export_date_is_the_latest_date_when_not_given(sample):
    caseload, engine = sample
    assert CaseloadFacts.read(engine, EpisodeSettings()).export_date == caseload.export_date


def test_a_definition_the_tables_cannot_support_says_what_to_load():
    caseload = load_sample().caseload
    engine = open_engine("duckdb")
    engine.register("sessions", caseload.sessions.drop(columns=["phq9", "gad7", "ors"]))
    with pytest.raises(ValueError, match="needs the appointment history with an outcome measure"):
        episode_stages(CaseloadFacts.read(engine, EpisodeSettings()), EpisodeSettings("unilateral_unimproved"))
    with pytest.raises(ValueError, match="needs a `termination` column"):
        engine.episodes(EpisodeSettings("therapist_judged"))


def test_a_clients_file_without_appointments_gives_the_therapists_judgement():
    from analytics.caseload import Caseload

    caseload = load_sample().caseload
    clients = caseload.clients.assign(sessions_attended=[float(i % 9) for i in range(len(caseload.clients))])
    engine = open_engine("duckdb")
    engine.register("clients", clients)
    expected = derive_episodes(Caseload(clients=clients))
    assert_same_episodes(collected(engine, engine.episodes()), expected)
    assert expected["duration"].tolist()[:3] == [0.0, 1.0, 2.0]


def test_a_researchers_own_episode_table_is_taken_as_it_is():
    caseload = load_sample().caseload
    own = derive_episodes(caseload)[["client_id", "therapist_id", "site", "duration", "event"]]
    engine = open_engine("duckdb")
    engine.register("clients", own)
    engine.register("therapists", caseload.therapists)
    from analytics.caseload import Caseload

    expected = derive_episodes(Caseload(clients=own, therapists=caseload.therapists))
    assert_same_episodes(collected(engine, engine.episodes()), expected)


def test_a_client_who_left_after_reliable_improvement_has_a_planned_like_ending():
    """Swift, Callahan & Levine (2009): PHQ-9 from 20 to 8 (reliable change 6) then a missed last
    appointment is left_improved, event 2 under unilateral_unimproved; from 20 to 18 it is a dropout."""
    import pandas as pd

    from analytics.caseload import Caseload

    dates = pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"] * 2)
    sessions = pd.DataFrame({"client_id": ["A"] * 3 + ["B"] * 3, "therapist_id": "T1", "date": dates,
                             "status": ["attended", "attended", "no_show"] * 2,
                             "phq9": [20.0, 8.0, None, 20.0, 18.0, None]})
    caseload = Caseload(sessions, export_date=pd.Timestamp("2024-06-01"))
    settings = EpisodeSettings("unilateral_unimproved")
    expected = derive_episodes(caseload, settings)
    assert expected["ending"].tolist() == ["left_improved", "left_unimproved"]
    assert expected["event"].tolist() == [2, 1]
    engine = open_engine("duckdb")
    engine.register("sessions", sessions)
    assert_same_episodes(collected(engine, engine.episodes(settings, caseload.export_date)), expected)
