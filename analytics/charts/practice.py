"""Charts for the director's views, each drawn from a result table as it is downloaded.

Every builder takes `suppress_below`: rows whose counts fall below the privacy threshold are
masked with analytics.suppression (the same rule as the tables) and then left out of the plot, so
no label or hover text ever shows a masked count or a rate computed from one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.theme import PALETTE, apply_theme, reference_line, rows_height, series_colour, wrapped
from analytics.practice.display import column_label, period_label
from analytics.practice.outcomes import GROUP_LABELS
from analytics.practice.overview import BENCHMARK
from analytics.proportions import RATE_COUNTS, RATE_LINKED, percent
from analytics.suppression import DEFAULT_THRESHOLD, suppress_small_cells

_COLOURS = PALETTE[:-1]
_BLACK = PALETTE[-1]


def _visible(table: pd.DataFrame, counts: list[str], linked: dict, suppress_below: int) -> pd.DataFrame:
    """The rows a chart may show: none of their counts masked."""
    masked = suppress_small_cells(table, counts, suppress_below, linked)
    return masked.loc[~masked["suppressed"]].drop(columns="suppressed")


def _hidden_note(fig: go.Figure, table: pd.DataFrame, shown: pd.DataFrame, suppress_below: int,
                 above: int = 0) -> None:
    """A line above the plot (clear of the axis, its ticks and the legend; `above` pixels higher
    still, over panel titles) saying what privacy hides."""
    hidden = len(table) - len(shown)
    if hidden:
        fig.add_annotation(text=f"{hidden} group(s) with counts under {suppress_below} not shown (privacy)",
                           xref="paper", yref="paper", x=0, y=1.0, yanchor="bottom", yshift=above, showarrow=False,
                           xanchor="left", font=dict(size=11, color="#555555"))


def _benchmark(fig: go.Figure, orientation: str = "v") -> None:
    """The published rate (Swift & Greenberg 2012) as a dashed line across the plot, its interval as a
    grey band, both named in the legend: a label on the line would cross the points near it (and on
    a phone run past the plot's edge)."""
    line = dict(color=_BLACK, dash="dash", width=1)
    band = dict(fillcolor="#999999", opacity=0.2, line_width=0)
    if orientation == "v":
        fig.add_hrect(y0=BENCHMARK["ci_lower"], y1=BENCHMARK["ci_upper"], **band)
        reference_line(fig, "y", BENCHMARK["rate"], line)
    else:
        fig.add_vrect(x0=BENCHMARK["ci_lower"], x1=BENCHMARK["ci_upper"], **band)
        reference_line(fig, "x", BENCHMARK["rate"], line)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, hoverinfo="skip",
                             name=f"published average {percent(BENCHMARK['rate'], 1)} (grey: its 95% CI)"))


def rate_figure(table: pd.DataFrame, column: str, suppress_below: int = DEFAULT_THRESHOLD,
                title: str | None = None, benchmark: bool = True) -> go.Figure:
    """Dropout rate per group as points with 95% Wilson intervals (horizontal), benchmark band."""
    shown = _visible(table, RATE_COUNTS, RATE_LINKED, suppress_below).dropna(subset=["rate"])
    labels = wrapped(shown[column].astype(str))
    fig = go.Figure(go.Scatter(
        x=shown["rate"], y=labels, mode="markers", marker=dict(color=_COLOURS[0], size=10),
        error_x=dict(type="data", symmetric=False, array=shown["ci_upper"] - shown["rate"],
                     arrayminus=shown["rate"] - shown["ci_lower"], color=_COLOURS[0]),
        customdata=np.column_stack([shown["dropouts"], shown["known"], shown["ci_lower"], shown["ci_upper"]]),
        hovertemplate="%{y}: %{x:.1%} (95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%})<br>"
                      "%{customdata[0]:.0f} dropouts of %{customdata[1]:.0f} ended episodes<extra></extra>",
        name="dropout rate",
    ))
    if benchmark:
        _benchmark(fig, "h")
    fig.update_layout(title=title, xaxis_title="Dropout rate (ended episodes)",
                      yaxis_title=None if column == "label" else column_label(column),
                      xaxis_tickformat=".0%", showlegend=benchmark, height=rows_height(labels) + 40 * benchmark)
    fig.update_xaxes(rangemode="tozero")
    fig.update_yaxes(autorange="reversed", type="category")
    _hidden_note(fig, table, shown, suppress_below)
    return apply_theme(fig)


def agreement_figure(agreement: pd.DataFrame, suppress_below: int = DEFAULT_THRESHOLD) -> go.Figure:
    """For each pair of definitions, clients classed the same way (both dropout / both not) and
    differently (by one definition only), as stacked horizontal bars of counts."""
    parts = [("both_dropout", "both call it dropout"), ("both_not", "neither calls it dropout"),
             ("only_a", "first only"), ("only_b", "second only")]
    counts = [p for p, _ in parts]
    masked = suppress_small_cells(agreement, counts, suppress_below)
    pair = ["<br>".join(wrapped([a])) + "<br>vs " + "<br>".join(wrapped([b]))
            for a, b in zip(masked["definition_a"], masked["definition_b"])]
    fig = go.Figure()
    for i, (name, label) in enumerate(parts):
        values = masked[name]
        fig.add_trace(go.Bar(
            y=pair, x=values.fillna(0), orientation="h", name=label, marker_color=_COLOURS[i],
            text=values.map(lambda v: "" if pd.isna(v) else f"{v:.0f}"), textposition="inside",
            hovertext=values.map(lambda v, s=suppress_below: f"<{s}" if pd.isna(v) else f"{v:.0f}"),
            hovertemplate=f"{label}: %{{hovertext}} clients<extra></extra>",
        ))
    # a count too long for its segment is left to the hover, not drawn past the plot's edge
    fig.update_layout(barmode="stack", xaxis_title="Clients with a known outcome<br>under both definitions",
                      uniformtext=dict(minsize=10, mode="hide"), height=rows_height(pair, row=50, around=200),
                      legend_traceorder="normal")  # as stacked, left to right (plotly reverses a stack's legend)
    fig.update_yaxes(autorange="reversed")
    return apply_theme(fig)


def month_figure(table: pd.DataFrame, suppress_below: int = DEFAULT_THRESHOLD, period: str = "month") -> go.Figure:
    """Dropout rate by intake month with 95% intervals; months where most clients are still in
    therapy are drawn hollow (provisional)."""
    shown = _visible(table, RATE_COUNTS, RATE_LINKED, suppress_below).dropna(subset=["rate"])
    # drawn on a time axis, named in the hover as in the table ("Q1 2024")
    shown = shown.assign(intake_period=shown["intake_period"].dt.to_timestamp(),
                         named=shown["intake_period"].map(period_label))
    provisional = (shown["ongoing"] / shown["clients"]) > 0.5
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=pd.concat([shown["intake_period"], shown["intake_period"][::-1]]),
        y=pd.concat([shown["ci_upper"], shown["ci_lower"][::-1]]),
        fill="toself", fillcolor="rgba(0,114,178,0.15)", mode="lines", line=dict(width=0), hoverinfo="skip", name="95% CI",
    ))
    for flag, name, symbol in ((False, "dropout rate", "circle"), (True, "provisional (most still in therapy)", "circle-open")):
        part = shown.loc[provisional == flag]
        fig.add_trace(go.Scatter(
            x=part["intake_period"], y=part["rate"], mode="markers", name=name,
            marker=dict(color=_COLOURS[0], size=8, symbol=symbol), hovertext=part["named"],
            customdata=np.column_stack([part["dropouts"], part["known"], part["ci_lower"], part["ci_upper"]]),
            hovertemplate="%{hovertext}: %{y:.1%} (95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%})<br>"
                          "%{customdata[0]:.0f} dropouts of %{customdata[1]:.0f} ended<extra></extra>",
        ))
    fig.add_trace(go.Scatter(x=shown["intake_period"], y=shown["rate"], mode="lines", line=dict(color=_COLOURS[0], width=1),
                             hoverinfo="skip", showlegend=False))
    _benchmark(fig, "v")
    fig.update_layout(xaxis_title=f"{period.capitalize()} of intake", yaxis_title="Dropout rate (ended episodes)", yaxis_tickformat=".0%",
                      legend=dict(orientation="h", y=-0.3))
    _hidden_note(fig, table, shown, suppress_below)
    return apply_theme(fig)


def rolling_figure(rolling: pd.DataFrame, suppress_below: int = DEFAULT_THRESHOLD) -> go.Figure:
    """The rolling 12-month dropout rate with its 95% band, and the practice's target as a line."""
    shown = _visible(rolling, RATE_COUNTS, RATE_LINKED, suppress_below).dropna(subset=["rate"])
    shown = shown.assign(month=shown["month"].dt.to_timestamp())  # drawn on a time axis
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=pd.concat([shown["month"], shown["month"][::-1]]), y=pd.concat([shown["ci_upper"], shown["ci_lower"][::-1]]),
        fill="toself", fillcolor=_rgba(_COLOURS[0], 0.15), mode="lines", line=dict(width=0), hoverinfo="skip", name="95% CI",
    ))
    fig.add_trace(go.Scatter(
        x=shown["month"], y=shown["rate"], mode="lines+markers", name="dropout rate, past 12 months",
        line=dict(color=_COLOURS[0]), marker=dict(size=6),
        customdata=np.column_stack([shown["dropouts"], shown["known"]]),
        hovertemplate="12 months to %{x|%B %Y}: %{y:.1%}<br>%{customdata[0]:.0f} dropouts of %{customdata[1]:.0f} "
                      "ended<extra></extra>",
    ))
    target = rolling["target"].dropna()
    if len(target):
        fig.add_hline(y=float(target.iloc[0]), line=dict(color=_BLACK, dash="dot", width=1.5),
                      annotation_text=f"practice target {100 * float(target.iloc[0]):.1f}%", annotation_position="top left")
    fig.update_layout(xaxis_title="Month (12 months up to its end)", yaxis_title="Dropout rate (ended episodes)",
                      yaxis_tickformat=".0%", legend=dict(orientation="h", y=-0.3))
    _hidden_note(fig, rolling, shown, suppress_below)
    return apply_theme(fig)


def trajectory_figure(table: pd.DataFrame, measure: str = "srs", suppress_below: int = DEFAULT_THRESHOLD,
                      cutoff: float | None = None, group: str = "outcome", label: str | None = None,
                      names: dict | None = None) -> go.Figure:
    """Mean score by session number per `group` (the outcome, or the ending; `names` gives the
    legend's words for its values) with 95% bands; points resting on fewer clients than the
    threshold are left out."""
    shown = _visible(table, ["clients"], {"clients": ["mean", "sd", "ci_lower", "ci_upper"]}, suppress_below)
    fig = go.Figure()
    for i, value in enumerate(shown[group].unique()):
        part = shown.loc[shown[group] == value]
        outcome = (names or {}).get(value, value)
        colour = series_colour(value, i)
        band = part.dropna(subset=["ci_lower"])
        fig.add_trace(go.Scatter(
            x=np.r_[band["session_number"], band["session_number"][::-1]],
            y=np.r_[band["ci_upper"], band["ci_lower"][::-1]], mode="lines", fill="toself", fillcolor=_rgba(colour, 0.15),
            line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=outcome,
        ))
        fig.add_trace(go.Scatter(
            x=part["session_number"], y=part["mean"], mode="lines+markers", name=outcome, legendgroup=outcome,
            line=dict(color=colour, width=2), customdata=np.column_stack([part["clients"], part["ci_lower"], part["ci_upper"]]),
            hovertemplate="session %{x}: mean %{y:.1f} (95% CI %{customdata[1]:.1f} to %{customdata[2]:.1f}), "
                          "%{customdata[0]:.0f} clients<extra>" + outcome + "</extra>",
        ))
    if cutoff is not None:
        fig.add_hline(y=cutoff, line=dict(color=_BLACK, dash="dot", width=1), annotation_text=f"cutoff {cutoff:g}")
    fig.update_layout(xaxis_title="Session number (attended)", yaxis_title=f"Mean {label or measure.upper()}",
                      legend=dict(orientation="h", y=-0.25))
    _hidden_note(fig, table, shown, suppress_below)
    return apply_theme(fig)


def outcome_rates_figure(table: pd.DataFrame, measure: str, suppress_below: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Reliable improvement, recovery and reliable deterioration on one measure by ending: points with
    95% Wilson intervals; shares resting on fewer clients than the threshold are left out."""
    rows = table.loc[table["measure"] == measure]
    shown = _visible(rows, ["assessed", "reached"], {"assessed": ["share", "ci_lower", "ci_upper"],
                                                     "reached": ["share", "ci_lower", "ci_upper"]},
                     suppress_below).dropna(subset=["share"])
    fig = go.Figure()
    for i, outcome in enumerate(("reliable_improvement", "recovery", "reliable_deterioration")):
        part = shown.loc[shown["outcome"] == outcome]
        name = outcome.replace("_", " ")
        fig.add_trace(go.Scatter(
            x=part["share"], y=part["ending"].map(GROUP_LABELS), mode="markers", name=name, marker=dict(color=_COLOURS[i], size=10),
            error_x=dict(type="data", symmetric=False, array=part["ci_upper"] - part["share"],
                         arrayminus=part["share"] - part["ci_lower"], color=_COLOURS[i]),
            customdata=np.column_stack([part["reached"], part["assessed"], part["ci_lower"], part["ci_upper"]]),
            hovertemplate="%{y}: %{x:.0%} (95% CI %{customdata[2]:.0%} to %{customdata[3]:.0%}), "
                          "%{customdata[0]:.0f} of %{customdata[1]:.0f}<extra>" + name + "</extra>",
        ))
    fig.update_layout(xaxis_title="Share of clients with two scores", xaxis_tickformat=".0%", yaxis_title=None,
                      legend=dict(orientation="h", y=-0.25), height=max(300, 80 + 60 * rows["ending"].nunique()))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(autorange="reversed", type="category")
    _hidden_note(fig, rows.drop_duplicates(["ending", "outcome"]), shown, suppress_below)
    return apply_theme(fig)


def distribution_figure(distribution: pd.DataFrame, measure: str = "srs", suppress_below: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Share of each outcome group per band of first-session alliance (grouped bars)."""
    shown = _visible(distribution, ["clients"], {"clients": ["share"]}, suppress_below)
    fig = go.Figure()
    for i, outcome in enumerate(distribution["outcome"].unique()):
        part = shown.loc[shown["outcome"] == outcome]
        band = part["score_from"].map("{:g}".format).astype(str) + "-" + part["score_to"].map("{:g}".format).astype(str)
        fig.add_trace(go.Bar(x=band, y=part["share"], name=outcome, marker_color=series_colour(outcome, i),
                             customdata=part["clients"],
                             hovertemplate="%{x}: %{y:.0%} (%{customdata:.0f} clients)<extra>" + outcome + "</extra>"))
    fig.update_layout(barmode="group", xaxis_title=f"First-session {measure.upper()}", yaxis_title="Share of group",
                      yaxis_tickformat=".0%", legend=dict(orientation="h", y=-0.25))
    fig.update_xaxes(type="category", categoryorder="category ascending")
    _hidden_note(fig, distribution, shown, suppress_below)
    return apply_theme(fig)


def comparison_figure(comparison: pd.DataFrame, label: str = "group", suppress_below: int = DEFAULT_THRESHOLD,
                      x_title: str = "Dropout rate") -> go.Figure:
    """Rates with 95% intervals for a few groups (rupture vs no rupture, with vs without a habit)."""
    shown = _visible(comparison, ["clients", "dropouts"],
                     {"clients": ["rate", "ci_lower", "ci_upper"], "dropouts": ["rate", "ci_lower", "ci_upper"]},
                     suppress_below).dropna(subset=["rate"])
    fig = go.Figure(go.Bar(
        x=shown["rate"], y=shown[label], orientation="h", marker_color=_COLOURS[:len(shown)],
        error_x=dict(type="data", symmetric=False, array=shown["ci_upper"] - shown["rate"],
                     arrayminus=shown["rate"] - shown["ci_lower"], color=_BLACK),
        customdata=np.column_stack([shown["ci_lower"], shown["ci_upper"]]),
        hovertemplate="%{y}: %{x:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%})<extra></extra>",
    ))
    fig.update_layout(xaxis_title=x_title, xaxis_tickformat=".0%", showlegend=False, height=260)
    fig.update_yaxes(autorange="reversed")
    _hidden_note(fig, comparison, shown, suppress_below)
    return apply_theme(fig)


def level_rates_figure(rates: pd.DataFrame, suppress_below: int = DEFAULT_THRESHOLD,
                       names: dict[str, str] | None = None) -> go.Figure:
    """Dropout rate by level, one small panel per factor (e.g. each room rating 1-5), 95% intervals."""
    shown = _visible(rates, RATE_COUNTS, RATE_LINKED, suppress_below).dropna(subset=["rate"])
    shown = shown.loc[shown["level"].astype(str) != "unknown"]
    factors = list(rates["factor"].unique())
    titles = [(names or {}).get(f, column_label(f)) for f in factors]
    columns = min(3, max(1, len(factors)))  # at most three panels a row: each stays readable on a phone
    rows = -(-max(1, len(factors)) // columns)
    fig = make_subplots(rows=rows, cols=columns, shared_yaxes=True, subplot_titles=wrapped(titles, 12),
                        horizontal_spacing=0.04, vertical_spacing=0.18)
    for i, factor in enumerate(factors):
        part = shown.loc[shown["factor"] == factor]
        at = dict(row=i // columns + 1, col=i % columns + 1)
        fig.add_trace(go.Scatter(
            x=part["level"].astype(str), y=part["rate"], mode="markers", name=titles[i],
            marker=dict(color=_COLOURS[0], size=8),
            error_y=dict(type="data", symmetric=False, array=part["ci_upper"] - part["rate"],
                         arrayminus=part["rate"] - part["ci_lower"], thickness=1),
            customdata=np.column_stack([part["dropouts"], part["known"]]),
            hovertemplate="%{x}: %{y:.1%}, %{customdata[0]:.0f} of %{customdata[1]:.0f}<extra>" + titles[i] + "</extra>",
        ), **at)
        reference_line(fig, "y", BENCHMARK["rate"], dict(color=_BLACK, dash="dash", width=1), panel=i + 1)
        fig.update_xaxes(type="category", categoryorder="category ascending", **at)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text="Dropout rate", row=row, col=1)
    fig.update_layout(showlegend=False, height=80 + 280 * rows)
    fig.update_annotations(font_size=13)  # the panel titles
    _hidden_note(fig, rates, shown, suppress_below, above=40)
    return apply_theme(fig).update_layout(margin_t=90)  # room for the panel titles and the privacy note


def scorecard_figure(table: pd.DataFrame, suppress_below: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Two panels per habit: how often it is done (95% CI) and its adjusted hazard ratio."""
    found = _visible(table.loc[table["found"]], ["done"],
                     {"done": ["prevalence", "prevalence_ci_lower", "prevalence_ci_upper"]}, suppress_below)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("How often it is done", "Adjusted hazard ratio of dropout"))
    fig.add_trace(go.Bar(
        x=found["prevalence"], y=found["habit"], orientation="h", marker_color=_COLOURS[2],
        error_x=dict(type="data", symmetric=False, array=found["prevalence_ci_upper"] - found["prevalence"],
                     arrayminus=found["prevalence"] - found["prevalence_ci_lower"], color=_BLACK),
        hovertemplate="%{y}: done for %{x:.0%} of clients<extra></extra>",
    ), row=1, col=1)
    hr = found.dropna(subset=["hr"])
    fig.add_trace(go.Scatter(
        x=hr["hr"], y=hr["habit"], mode="markers", marker=dict(color=_COLOURS[0], size=9),
        error_x=dict(type="data", symmetric=False, array=hr["hr_ci_upper"] - hr["hr"],
                     arrayminus=hr["hr"] - hr["hr_ci_lower"], color=_COLOURS[0]),
        customdata=np.column_stack([hr["hr_ci_lower"], hr["hr_ci_upper"]]),
        hovertemplate="%{y}: %{x:.2f} (95% CI %{customdata[0]:.2f} to %{customdata[1]:.2f})<extra></extra>",
    ), row=1, col=2)
    fig.add_vline(x=1, line=dict(color=_BLACK, dash="dash", width=1), row=1, col=2)
    fig.update_xaxes(tickformat=".0%", range=[0, 1], row=1, col=1)
    fig.update_xaxes(type="log", row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False, height=max(280, 100 + 50 * len(found)))
    return apply_theme(fig)


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
