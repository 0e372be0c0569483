"""Funnel limits and shrunken rates against hand-worked answers and simulation."""

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from analytics.caseload import anonymous_labels
from analytics.practice.therapists import (
    beta_binomial_prior,
    funnel_limits,
    therapist_funnel,
)


def _episodes(counts: dict[str, tuple[int, int, int]]) -> pd.DataFrame:
    """Episodes from {therapist: (dropouts, completions, ongoing)}."""
    rows = []
    for therapist, (dropouts, completed, ongoing) in counts.items():
        rows += [(therapist, 1)] * dropouts + [(therapist, 2)] * completed + [(therapist, 0)] * ongoing
    return pd.DataFrame(rows, columns=["therapist_id", "event"])


def test_interpolated_exact_limit_by_hand():
    # Binomial(20, 0.2): F(7) = 0.967857, F(8) = 0.990018 (tables); q = 0.975 -> r = 8,
    # alpha = (0.990018 - 0.975) / (0.990018 - 0.967857) = 0.67767, limit = (8 - 0.67767) / 20
    lower, upper = funnel_limits([20], 0.2, 0.95)
    assert upper[0] == pytest.approx((8 - (0.990018 - 0.975) / (0.990018 - 0.967857)) / 20, abs=1e-5)
    # F(0) = 0.011529 < 0.025 <= F(1) = 0.069175 -> r = 1, alpha = (0.069175 - 0.025) / (0.069175 - 0.011529)
    assert lower[0] == pytest.approx((1 - (0.069175 - 0.025) / (0.069175 - 0.011529)) / 20, abs=1e-5)


def test_limits_approach_the_normal_approximation_for_large_caseloads():
    n, p0 = 20000, 0.2
    for level, z in ((0.95, 1.959964), (0.998, 3.090232)):
        lower, upper = funnel_limits([n], p0, level)
        half = z * np.sqrt(p0 * (1 - p0) / n)
        assert lower[0] == pytest.approx(p0 - half, abs=1e-4)
        assert upper[0] == pytest.approx(p0 + half, abs=1e-4)


def test_funnel_counts_rates_and_flags():
    # practice: 40 dropouts of 200 known = 0.2; ongoing episodes count as clients, not in the rate
    counts = {"T1": (12, 8, 5), "T2": (5, 55, 0), "T3": (23, 97, 3)}
    result = therapist_funnel(_episodes(counts))
    table = result.table.set_index("therapist_id")
    assert result.practice_rate == pytest.approx(0.2)
    assert table.loc["T1", ["clients", "known", "dropouts"]].tolist() == [25, 20, 12]
    assert table.loc["T1", "rate"] == pytest.approx(0.6)
    # 12/20 = 0.6 lies above the 99.8% limit at n = 20 (Binomial(20, 0.2) gives P(X >= 12) = 0.0001)
    assert bool(table.loc["T1", "outside_998"]) and bool(table.loc["T1", "outside_95"])
    _, upper = funnel_limits([20], 0.2, 0.998)
    assert upper[0] < 0.6
    # 5/60 lies below the 95% limit, not below the 99.8% one
    lower95, _ = funnel_limits([60], 0.2, 0.95)
    lower998, _ = funnel_limits([60], 0.2, 0.998)
    assert lower998[0] < 5 / 60 < lower95[0]
    assert bool(table.loc["T2", "outside_95"]) and not bool(table.loc["T2", "outside_998"])
    assert not table.loc["T3", ["outside_95", "outside_998"]].any()
    assert table["zone"].tolist() == ["above", "below", "within"]
    assert table["flag"].tolist() == ["more dropout than expected for their caseload",
                                      "less dropout than expected for their caseload", ""]
    assert result.takeaway.startswith("Of 3 therapists, 1 has more dropout than expected for their caseload and "
                                      "1 has less (outside the 95% limits")
    lo, hi = stats.binomtest(12, 20).proportion_ci(method="wilson")
    assert (table.loc["T1", "ci_lower"], table.loc["T1", "ci_upper"]) == pytest.approx((lo, hi), abs=1e-9)


def test_limits_table_is_a_smooth_funnel():
    result = therapist_funnel(_episodes({"T1": (12, 8, 0), "T2": (2, 58, 0), "T3": (26, 94, 0)}))
    limits = result.limits
    assert list(limits.columns) == ["known", "practice_rate", "lower_95", "upper_95", "lower_998", "upper_998"]
    assert limits["known"].min() == 1 and limits["known"].max() >= 120
    assert (limits["lower_998"] <= limits["lower_95"]).all() and (limits["upper_95"] <= limits["upper_998"]).all()
    # the interpolation leaves only small wiggles from the binomial's discreteness
    big = limits[limits["known"] >= 10]
    assert big["upper_95"].diff().max() < 0.002 and big["lower_95"].diff().min() > -0.002
    at = limits.set_index("known")
    assert at.loc[10, "upper_95"] > at.loc[40, "upper_95"] > at.loc[120, "upper_95"] > 0.2


def test_shrunk_rates_move_towards_the_practice_rate_more_for_small_caseloads():
    result = therapist_funnel(_episodes({"A": (3, 2, 0), "B": (60, 40, 0), "C": (10, 90, 0), "D": (20, 80, 0)}))
    table = result.table.set_index("therapist_id")
    prior_mean = result.prior_a / (result.prior_a + result.prior_b)
    a, b = result.prior_a, result.prior_b
    assert table.loc["A", "shrunk_rate"] == pytest.approx((3 + a) / (5 + a + b))
    # same raw rate 0.6: the 5-client therapist is pulled further towards the prior mean
    pull_small = abs(table.loc["A", "shrunk_rate"] - 0.6)
    pull_large = abs(table.loc["B", "shrunk_rate"] - 0.6)
    assert pull_small > pull_large
    between = (table["shrunk_rate"] - table["rate"]) * (table["shrunk_rate"] - prior_mean)
    assert (between <= 1e-12).all()


def test_beta_binomial_ml_is_at_the_likelihood_maximum_and_recovers_truth():
    rng = np.random.default_rng(5)
    n = rng.integers(20, 200, 400).astype(float)
    k = rng.binomial(n.astype(int), rng.beta(4, 12, 400)).astype(float)
    a, b, notes = beta_binomial_prior(k, n)
    assert not notes
    assert a / (a + b) == pytest.approx(0.25, abs=0.01)
    assert a + b == pytest.approx(16, rel=0.3)

    def loglik(x, y):
        return np.sum(special.betaln(k + x, n - k + y) - special.betaln(x, y))

    for da, db in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)):
        assert loglik(a + da, b + db) <= loglik(a, b) + 1e-9


def test_no_variation_beyond_chance_shrinks_everyone_to_the_practice_rate():
    result = therapist_funnel(_episodes({f"T{i}": (4, 16, 0) for i in range(10)}))
    np.testing.assert_allclose(result.table["shrunk_rate"], 0.2, atol=1e-5)
    assert any("no more than chance" in w for w in result.warnings)


def test_missing_therapist_and_empty_caseloads_are_reported():
    episodes = _episodes({"T1": (2, 8, 0), "T2": (0, 0, 4)})
    episodes.loc[len(episodes)] = [np.nan, 1]
    result = therapist_funnel(episodes)
    assert any("1 episodes have no therapist" in w for w in result.warnings)
    assert any("1 therapists have no client with a known outcome" in w for w in result.warnings)
    t2 = result.table.set_index("therapist_id").loc["T2"]
    assert np.isnan(t2["rate"]) and not t2["outside_95"]


def _drawn(fig):
    points = [t for t in fig.data if t.mode == "markers"]
    return pd.DataFrame({"x": np.concatenate([t.x for t in points]), "y": np.concatenate([t.y for t in points]),
                         "text": np.concatenate([t.text for t in points])}), points


def test_funnel_figure_draws_the_table_and_leaves_out_points_that_give_small_counts_away():
    from analytics.charts.regression import funnel_figure

    result = therapist_funnel(_episodes({"T1": (12, 8, 5), "T2": (5, 55, 0), "T3": (23, 97, 3), "T4": (30, 100, 0)}))
    labels = anonymous_labels(result.table["therapist_id"])
    table = result.table.assign(label=result.table["therapist_id"].map(labels))

    everyone, points = _drawn(funnel_figure(result, labels, suppress_below=0))
    merged = everyone.merge(table, left_on="x", right_on="known")
    np.testing.assert_allclose(merged["y"], merged["rate"])
    assert sorted(merged["therapist_id"]) == ["T1", "T2", "T3", "T4"]
    assert "5 dropouts of 60 clients" in merged.loc[merged["therapist_id"] == "T2", "text"].iloc[0]
    assert all("T1" not in text and "T2" not in text for text in everyone["text"])
    assert {t.name: len(t.x) for t in points} == {"therapist within the limits": 2,
                                                  "therapist outside the 95% limits": 1,
                                                  "therapist outside the 99.8% limits": 1}

    # T2 has 5 dropouts: its rate times its caseload would give them away, so it is not drawn;
    # being the only small cell, the next smallest count (T1's 12 dropouts) is withheld with it.
    private_fig = funnel_figure(result, labels, suppress_below=11)
    private, _ = _drawn(private_fig)
    shown = private.merge(table, left_on="x", right_on="known")
    assert sorted(shown["therapist_id"]) == ["T3", "T4"]
    assert not private_fig.layout.annotations
    assert result.hidden(11).tolist() == [True, True, False, False]
    assert result.hidden_note(11) == ("2 therapists with counts below 11 are not drawn (their place would give their "
                                      "counts away); they are in the table below by zone: 1 above the limits, "
                                      "1 below the limits.")
    assert result.hidden_note(0) == ""


def test_interval_plot_lists_therapists_by_label_and_hides_the_same_ones_as_the_funnel():
    from analytics.charts.regression import caterpillar_figure
    from analytics.practice.therapists import private_effects

    result = therapist_funnel(_episodes({"T1": (12, 8, 5), "T2": (5, 55, 0), "T3": (23, 97, 3), "T4": (30, 100, 0)}))
    effects = pd.DataFrame({"therapist_id": ["T1", "T2", "T3", "T4"], "effect": [0.9, -0.8, 0.1, -0.2],
                            "ci_lower": [0.2, -1.5, -0.3, -0.6], "ci_upper": [1.6, -0.1, 0.5, 0.2]})
    labels = {"T1": "Therapist C", "T2": "Therapist A", "T3": "Therapist AA", "T4": "Therapist B"}
    private = private_effects(effects, result, 11)
    assert private["effect"].isna().tolist() == [True, True, False, False]
    fig = caterpillar_figure(private, labels)
    assert list(fig.layout.yaxis.categoryarray) == ["Therapist A", "Therapist B", "Therapist C", "Therapist AA"]
    estimate = fig.data[0]
    assert list(estimate.y) == ["Therapist B", "Therapist AA"]
    np.testing.assert_allclose(estimate.x, np.exp([-0.2, 0.1]))
    assert list(fig.data[1].y) == ["Therapist A", "Therapist C"] and fig.data[1].text == "counts hidden"
