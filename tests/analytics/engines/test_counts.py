"""The counts an engine sends back give the curves the episodes give: Kaplan-Meier, log-rank and
cumulative incidence from survival_tally equal the in-memory results, warnings and rows left out
included, after the recipe's filters run in the engine as filter_episodes runs in memory."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.engines import open_engine
from analytics.engines.counts import filtered_view, survival_tally
from analytics.episodes import EpisodeSettings, derive_episodes, filter_episodes
from analytics.ingest import load_sample
from analytics.survival.curves import cumulative_incidence, kaplan_meier, logrank
from tests.analytics.engines.compare import assert_same_episodes, collected

FILTERS = {"sites": ["Site A", "Site B"], "therapists": [], "intake_from": pd.Timestamp("2023-03-01"),
           "intake_to": None}


@pytest.fixture(scope="module")
def both():
    caseload = load_sample().caseload
    settings = EpisodeSettings("unilateral")
    episodes = derive_episodes(caseload, settings)
    episodes.loc[::37, "referral"] = None  # episodes without a group value are left out and said so
    engine = open_engine("duckdb")
    engine.register("clients", episodes)
    engine.view("SELECT * FROM clients", "episodes")
    return engine, episodes


def test_the_filters_keep_the_same_episodes(both):
    engine, episodes = both
    kept = filtered_view(engine, "episodes", **FILTERS)
    assert_same_episodes(collected(engine, kept), filter_episodes(episodes, **FILTERS))


@pytest.mark.parametrize("group", [None, "referral", "site"])
def test_curves_from_the_engines_counts_equal_the_curves_from_the_episodes(both, group):
    engine, episodes = both
    counts = survival_tally(engine, "episodes", group)
    assert counts.table["n"].sum() == len(episodes)
    for fit in (kaplan_meier, cumulative_incidence):
        ours, theirs = fit(counts, group), fit(episodes, group)
        pd.testing.assert_frame_equal(ours.table, theirs.table)
        assert (ours.warnings, ours.n_used, ours.n_left_out, ours.takeaway) == \
            (theirs.warnings, theirs.n_used, theirs.n_left_out, theirs.takeaway)
    if group is not None:
        ours, theirs = logrank(counts, group), logrank(episodes, group)
        pd.testing.assert_frame_equal(ours.table, theirs.table)
        assert (ours.warnings, ours.n_left_out) == (theirs.warnings, theirs.n_left_out)
        assert theirs.n_left_out == (len(episodes) // 37 + 1 if group == "referral" else 0)


def test_a_tally_by_another_column_is_refused(both):
    engine, _ = both
    with pytest.raises(ValueError, match="tally is by 'site'"):
        kaplan_meier(survival_tally(engine, "episodes", "site"), "referral")
