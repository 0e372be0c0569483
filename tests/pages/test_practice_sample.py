"""Each practice page on the bundled sample data (sample_data/, loaded the way a new visitor gets it)."""


import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_sample
from analytics.practice.overview import headline
from analytics.practice.room_match import habits_scorecard
from analytics.practice.watch_list import watch_list
from analytics.proportions import percent
from tests.harness import frame, open_page, text


@pytest.fixture(scope="module")
def sample():
    caseload = load_sample().caseload
    return caseload, derive_episodes(caseload, EpisodeSettings("therapist_judged"))



def test_overview_on_bundled_sample(sample):
    _, episodes = sample
    at = open_page("pages/overview.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Clients"] == "1,500"
    assert metrics["Dropout rate"] == percent(headline(episodes).rate, 1)


def test_alliance_on_bundled_sample():
    at = open_page("pages/alliance.py")
    assert "clients who later dropped out rated the alliance" in text(at)
    at = open_page("pages/alliance.py", alliance_section="Dropout risk by alliance level")
    assert "time-varying Cox" in text(at)


def test_room_match_on_bundled_sample(sample):
    _, episodes = sample
    at = open_page("pages/room_match.py", room_match_section="Five habits")
    card = habits_scorecard(episodes).table.set_index("habit")
    assert card.loc["Agree on goals", "reading"] in text(at)
    assert card.loc["Agree on goals", "hr_ci_upper"] < 1  # true effect -0.4 (analytics/synth.py)


def test_watch_list_on_bundled_sample(sample):
    caseload, episodes = sample
    at = open_page("pages/watch_list.py")
    expected = watch_list(caseload.sessions, episodes).table
    assert frame(at, "Why")["Client"].head(20).tolist() == expected["client_id"].head(20).tolist()
