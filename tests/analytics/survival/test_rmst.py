"""Restricted mean time to dropout against R's survfit rmean (stored output of
tests/reference/make_competing_reference.R; R is not called here) and hand-computed contrasts."""

import numpy as np
import pandas as pd
import pytest

from analytics.survival.rmst import CONTRAST_COLUMNS, RMST_COLUMNS, default_tau, restricted_mean
from tests.paths import REFERENCE

DATASETS = ["survival_small", "survival_synthetic", "survival_days"]


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("grouped", [False, True])
def test_rmst_and_se_equal_r_survfit_rmean(name, grouped):
    ref = pd.read_csv(REFERENCE / f"{name}_rmst_{'by_g' if grouped else 'all'}.csv")
    result = restricted_mean(pd.read_csv(REFERENCE / f"{name}.csv"), float(ref["tau"][0]), "g" if grouped else None)
    assert list(result.table.columns) == RMST_COLUMNS
    assert result.table["group"].astype(str).tolist() == ref["group"].astype(str).tolist()
    np.testing.assert_allclose(result.table["rmst"], ref["rmst"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.table["se"], ref["se"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.table["ci_upper"] - result.table["rmst"], 1.959963984540054 * ref["se"])


def test_hand_computed_area_and_contrasts():
    # A: dropouts at 1 and 3 of 4 clients; B: no dropout. Up to tau = 4: A's curve is 1 on [0,1),
    # 3/4 on [1,3), 3/4 * 1/2 on [3,4): area 1 + 1.5 + 0.375 = 2.875; B's area is 4.
    episodes = pd.DataFrame({"duration": [1, 2, 3, 5, 1, 2, 5], "event": [1, 0, 1, 0, 0, 2, 0],
                             "g": ["A", "A", "A", "A", "B", "B", "B"]})
    result = restricted_mean(episodes, 4, "g")
    assert result.table["rmst"].tolist() == pytest.approx([2.875, 4.0])
    # var: at t=1 (n=4, d=1) area beyond = 1.875, at t=3 (n=2, d=1) area beyond = 0.375
    se_a = np.sqrt(1.875**2 / 12 + 0.375**2 / 2)
    assert result.table["se"].iloc[0] == pytest.approx(se_a)
    assert result.table["se"].iloc[1] == 0
    assert list(result.contrasts.columns) == CONTRAST_COLUMNS
    diff = result.contrasts.set_index("measure").loc["difference"]
    assert diff["estimate"] == pytest.approx(-1.125)
    assert diff["ci_lower"] == pytest.approx(-1.125 - 1.959963984540054 * se_a)
    ratio = result.contrasts.set_index("measure").loc["ratio"]
    assert ratio["estimate"] == pytest.approx(2.875 / 4)
    assert ratio["ci_upper"] == pytest.approx(2.875 / 4 * np.exp(1.959963984540054 * se_a / 2.875))


def test_default_horizon_is_the_shortest_groups_last_time_and_is_reported():
    episodes = pd.read_csv(REFERENCE / "survival_days.csv")
    last = episodes.groupby("g")["duration"].max().min()
    assert default_tau(episodes, "g") == last
    result = restricted_mean(episodes, None, "g", time_scale="days")
    assert result.tau == last and (result.table["tau"] == last).all()
    assert "days" in result.takeaway and result.n_used == len(episodes)


def test_a_horizon_beyond_follow_up_is_flagged_and_a_bad_one_refused():
    episodes = pd.read_csv(REFERENCE / "survival_small.csv")
    result = restricted_mean(episodes, 50, "g")
    assert any("carried on flat" in w for w in result.warnings)
    with pytest.raises(ValueError, match="rmst_tau"):
        restricted_mean(episodes, -1)


def test_no_episode_with_a_duration_gives_an_empty_table_and_says_why():
    """A clients file without durations: nothing to integrate, said as the curves say it, instead
    of refusing a horizon the user never chose."""
    episodes = pd.read_csv(REFERENCE / "survival_small.csv").assign(duration=np.nan)
    result = restricted_mean(episodes, None, "g")
    assert result.table.empty and result.contrasts.empty and result.n_used == 0
    assert result.n_left_out == len(episodes)
    assert "There are no episodes to analyse in the current selection." in result.warnings
