"""Fixtures shared by the director-view tests."""

import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.synth import generate_caseload


@pytest.fixture(scope="session")
def sample():
    """The default synthetic caseload (its true effects are documented in analytics/synth.py) and its
    episodes under the therapist-judged definition."""
    caseload = generate_caseload().caseload()
    return caseload, derive_episodes(caseload, EpisodeSettings("therapist_judged"))
