"""The planted link between improvement and dropout in the synthetic PHQ-9 and GAD-7 (see the
analytics.synth docstring): a client is a responder with probability 0.30 if they drop out, 0.65
if they complete; with two scores, reliable improvement is exactly the responder flag. The
responder shares are checked with Bonferroni-corrected 95% Wilson intervals (four checks) on a
large caseload with a fixed seed, and the bundled sample carries the questionnaires."""

import numpy as np
import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest import load_sample
from analytics.practice.outcomes import leavers_improved
from analytics.proportions import wilson_interval
from analytics.synth import RESPONDER_SHARE, generate_caseload
from tests.paths import ROOT

Z = 2.498  # two-sided 95% over 4 checks: the 1 - 0.05/8 normal quantile


@pytest.fixture(scope="module")
def large():
    synthetic = generate_caseload(n_clients=8000, n_therapists=40, seed=13)
    return synthetic, derive_episodes(synthetic.caseload(), EpisodeSettings("unilateral_unimproved"))


def test_planted_improvement_rates_are_recovered(large):
    synthetic, episodes = large
    true_dropouts = set(synthetic.person_period.loc[synthetic.person_period["dropout"] == 1, "client_id"])
    groups = {"dropout": episodes["client_id"].isin(true_dropouts),
              "completed": episodes["termination"] == "completed"}
    for measure in ("phq9", "gad7"):
        for group, member in groups.items():
            improved = episodes.loc[member, f"{measure}_reliable_improvement"].dropna()
            lower, upper = wilson_interval(improved.sum(), len(improved), z=Z)
            assert lower <= RESPONDER_SHARE[group] <= upper, (measure, group, improved.mean())


def test_improvement_is_the_responder_flag(large):
    _, episodes = large
    both = episodes[["phq9_reliable_improvement", "gad7_reliable_improvement"]].dropna()
    assert (both.iloc[:, 0] == both.iloc[:, 1]).all()  # one flag drives both measures
    assert (episodes[["phq9_reliable_deterioration", "gad7_reliable_deterioration"]].fillna(0) == 0).all().all()
    assert (episodes["phq9_caseness_first"] == 1).all() and (episodes["gad7_caseness_first"] == 1).all()
    change = episodes["phq9_change"].dropna()
    assert set(np.unique(change[change > -6])) <= {-2, -1, 0, 1, 2}  # non-responders move at most 2 points


def test_the_sample_carries_the_questionnaires_and_the_planted_link():
    sessions = pd.read_csv(ROOT / "sample_data" / "sessions.csv")
    attended = sessions["status"] == "attended"
    for measure in ("phq9", "gad7"):
        assert sessions.loc[~attended, measure].isna().all() and sessions.loc[attended, measure].notna().mean() > 0.9
    assert sessions[["oq45", "core10"]].isna().all().all()
    episodes = derive_episodes(load_sample().caseload, EpisodeSettings("unilateral_unimproved"))
    left = leavers_improved(episodes, EpisodeSettings("unilateral_unimproved")).table.set_index("ending")
    assert left.loc["left", "ci_lower"] <= RESPONDER_SHARE["dropout"] <= left.loc["left", "ci_upper"]
    assert left.loc["completed", "ci_lower"] <= RESPONDER_SHARE["completed"] <= left.loc["completed", "ci_upper"]
