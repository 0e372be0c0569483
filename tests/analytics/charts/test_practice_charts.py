"""Practice charts: built from the result tables, never showing a count under the threshold."""

import json

import numpy as np
import pandas as pd

from analytics.charts import practice as charts
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.overview import (
    definition_sensitivity,
    dropout_by,
    dropout_by_intake_month,
)
from analytics.synth import generate_caseload


def _sample():
    caseload = generate_caseload(n_clients=600, n_therapists=12, seed=3).caseload()
    return caseload, derive_episodes(caseload, EpisodeSettings())


def _numbers_in(fig) -> str:
    return json.dumps(fig.to_plotly_json()["data"], default=str)


def test_rate_figure_leaves_out_small_groups():
    table = pd.DataFrame({"site": ["A", "B", "C"], "clients": [120, 40, 6], "known": [100, 30, 5],
                          "dropouts": [20, 12, 3], "rate": [0.2, 0.4, 0.6], "ci_lower": [0.1, 0.2, 0.2],
                          "ci_upper": [0.3, 0.6, 0.9]})
    fig = charts.rate_figure(table, "site", suppress_below=11)
    ys = list(fig.data[0].y)
    # C has 3 dropouts (masked); B is the next smallest dropout count (complementary suppression)
    assert ys == ["A"]
    assert fig.data[0].customdata.tolist() == [[20, 100, 0.1, 0.3]]
    assert "not shown" in fig.layout.annotations[-1].text
    everything = charts.rate_figure(table, "site", suppress_below=0)
    assert list(everything.data[0].y) == ["A", "B", "C"]


def test_agreement_figure_masks_small_cells_in_labels_and_hover():
    agreement = pd.DataFrame({"definition_a": ["x"], "definition_b": ["y"], "compared": [100],
                              "both_dropout": [30], "both_not": [62], "disagree": [8], "only_a": [5], "only_b": [3]})
    fig = charts.agreement_figure(agreement, suppress_below=11)
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name["first only"].text) == [""] and list(by_name["first only"].hovertext) == ["<11"]
    assert list(by_name["both call it dropout"].text) == ["30"]


def test_charts_build_from_sample_tables():
    caseload, episodes = _sample()
    month = dropout_by_intake_month(episodes)
    fig = charts.month_figure(month.table, suppress_below=11)
    shown = pd.concat([pd.Series(t.customdata[:, 0]) for t in fig.data if t.customdata is not None])
    assert ((shown == 0) | (shown >= 11)).all()  # no month with 1-10 dropouts appears
    sens = definition_sensitivity(caseload, EpisodeSettings())
    fig = charts.rate_figure(sens.table, "label", suppress_below=11)
    assert len(fig.data[0].y) == 4  # every definition, unilateral_unimproved included
    referral = dropout_by(episodes, "referral")
    fig = charts.rate_figure(referral.table, "referral", suppress_below=11)
    assert np.allclose(fig.data[0].x, referral.table.set_index("referral").loc[list(fig.data[0].y), "rate"])
