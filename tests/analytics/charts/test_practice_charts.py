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


def test_one_colour_per_ending_across_charts():
    from analytics.charts.theme import ENDING_COLOURS, PALETTE
    from analytics.practice.alliance import alliance_trajectories
    from analytics.practice.outcomes import GROUP_LABELS, outcome_trajectories

    caseload, episodes = _sample()
    alliance = charts.trajectory_figure(alliance_trajectories(caseload.sessions, episodes, "srs").table, suppress_below=0)
    outcome = charts.trajectory_figure(outcome_trajectories(caseload.sessions, episodes, EpisodeSettings()).table,
                                       suppress_below=0, group="ending", names=GROUP_LABELS)
    colours = {t.name: t.line.color for fig in (alliance, outcome) for t in fig.data if t.name}
    vermillion, green = PALETTE[3], PALETTE[2]
    assert colours["dropped out"] == colours["left (ended unilaterally)"] == vermillion == ENDING_COLOURS["dropout"]
    assert colours["completed"] == green


def test_legends_sit_below_the_figure_and_privacy_notes_above_the_plot():
    caseload, episodes = _sample()
    trend = dropout_by_intake_month(episodes)
    fig = charts.month_figure(trend.table, suppress_below=50)
    legend = fig.layout.legend
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom")
    notes = [a for a in fig.layout.annotations if "not shown (privacy)" in a.text]
    assert notes and all(a.y >= 1 and a.yanchor == "bottom" for a in notes)


def test_a_rate_chart_names_its_variable():
    _, episodes = _sample()
    fig = charts.rate_figure(dropout_by(episodes, "telehealth").table, "telehealth", suppress_below=0)
    assert fig.layout.yaxis.title.text == "Telehealth"


def test_the_benchmark_is_named_in_the_legend_not_on_the_points():
    """On the line, the benchmark's label crossed the lowest group's point (and ran past a phone's
    plot): it is named in the legend, drawn from BENCHMARK, and no text sits inside the plot."""
    from analytics.practice.overview import BENCHMARK

    caseload, episodes = _sample()
    for fig in (charts.rate_figure(dropout_by(episodes, "site").table, "site", suppress_below=0),
                charts.month_figure(dropout_by_intake_month(episodes).table, suppress_below=0)):
        named = [t for t in fig.data if t.name and t.name.startswith("published average")]
        assert [t.name for t in named] == [f"published average {100 * BENCHMARK['rate']:.1f}% (grey: its 95% CI)"]
        assert fig.layout.showlegend is not False and named[0].line.dash == "dash"
        assert not [a for a in fig.layout.annotations if "published" in a.text]


def test_a_rate_chart_gives_wrapped_labels_their_lines():
    """Each definition's label wraps to up to three lines; each row gets room for its lines (at 40
    px a row, three-line labels ran into each other) and the legend its own."""
    caseload, _ = _sample()
    fig = charts.rate_figure(definition_sensitivity(caseload, EpisodeSettings()).table, "label", suppress_below=0)
    lines = [label.count("<br>") + 1 for label in fig.data[0].y]
    assert max(lines) == 3 and fig.layout.height == 60 + 40 * len(lines) + 16 * (sum(lines) - len(lines)) + 40


def test_the_agreement_chart_gives_each_pair_its_lines_and_keeps_counts_inside():
    """Pairs of definitions wrap to six lines: each row gets room for them (at 70 px a row they ran
    into each other), a count too long for its segment is left to the hover instead of drawn past
    the plot, and the legend lists the parts in the order they are stacked."""
    caseload, _ = _sample()
    fig = charts.agreement_figure(definition_sensitivity(caseload, EpisodeSettings()).agreement, suppress_below=0)
    lines = [label.count("<br>") + 1 for label in fig.data[0].y]
    assert max(lines) == 6 and fig.layout.height == 200 + 50 * len(lines) + 16 * (sum(lines) - len(lines))
    assert {t.textposition for t in fig.data} == {"inside"} and fig.layout.uniformtext.mode == "hide"
    assert fig.layout.legend.traceorder == "normal" and fig.data[0].name == "both call it dropout"


def test_when_dropout_happens_draws_each_ending_in_its_colour_as_shares():
    """The Overview's cumulative incidence (one group) draws dropout vermillion and completion green,
    as every chart does (both were the group's blue), on an axis of percentages; by group, each
    group keeps its own colour."""
    from analytics.charts.survival import cif_figure
    from analytics.charts.theme import ENDING_COLOURS, PALETTE
    from analytics.survival.curves import cumulative_incidence

    _, episodes = _sample()
    fig = cif_figure(cumulative_incidence(episodes), percent=True)
    lines = {t.name: t.line.color for t in fig.data if t.mode == "lines" and t.showlegend is not False}
    assert lines == {"dropout": ENDING_COLOURS["dropout"], "completed": ENDING_COLOURS["completed"]}
    dropout = next(t for t in fig.data if t.name == "dropout")
    assert fig.layout.yaxis.tickformat == ".0%" and "%{y:.1%}" in dropout.hovertemplate
    grouped = cif_figure(cumulative_incidence(episodes, "site"), group_by="site")
    completed = [t.line.color for t in grouped.data if t.name.endswith(": completed")]
    assert len(completed) == episodes["site"].nunique() and completed == PALETTE[:len(completed)]
    assert grouped.layout.yaxis.tickformat is None
