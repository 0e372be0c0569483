"""Charts of the dropout models and the therapist comparison, each drawn from a result's table:
funnel plot, caterpillar plot of therapist effects, calibration plot, and one forest plot that puts
odds ratios and hazard ratios side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.caseload import label_order
from analytics.charts.theme import PALETTE, apply_theme
from analytics.models.regression import comparison_table
from analytics.suppression import DEFAULT_THRESHOLD

_BLACK = PALETTE[-1]
_GREY = "#888888"
_STATUS_COLOURS = {"inside": PALETTE[0], "outside 95%": PALETTE[1], "outside 99.8%": PALETTE[3]}
_STATUS_NAMES = {"inside": "therapist within the limits", "outside 95%": "therapist outside the 95% limits",
                 "outside 99.8%": "therapist outside the 99.8% limits"}
_RATIO_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 20, 50, 100]
_SYMBOLS = ["square", "circle", "diamond", "triangle-up", "cross"]
# Up to this many therapists the interval plot names each on its axis; a network's hundreds are
# drawn as a band in a chart of bounded height, each named on hover (a row of labels 22 px each
# would make a chart tens of thousands of pixels tall that no browser draws quickly).
LABELLED_ROWS = 60


def funnel_figure(funnel, labels: dict | None = None, suppress_below: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Each therapist's dropout rate against the number of clients with a known outcome, inside the
    95% and 99.8% control limits around the practice rate. Points are named by `labels` (id ->
    label; ids if None). A point's position gives its counts away (rate x clients = dropouts), so
    therapists whose counts are hidden (FunnelResult.hidden, the rule of the table and the interval
    plot) are not drawn; FunnelResult.hidden_note says where they are."""
    masked = funnel.hidden(suppress_below)
    table = funnel.table.loc[~masked].dropna(subset=["rate"])
    limits = funnel.limits
    fig = go.Figure()
    for level, dash, name in (("998", "dot", "99.8% limits"), ("95", "dash", "95% limits")):
        for side in ("upper", "lower"):
            fig.add_trace(go.Scatter(
                x=limits["known"], y=limits[f"{side}_{level}"], mode="lines", name=name, legendgroup=name,
                showlegend=side == "upper", line=dict(color=_GREY, dash=dash, width=1.2, shape="spline"),
                hoverinfo="skip",
            ))
    fig.add_trace(go.Scatter(
        x=limits["known"], y=limits["practice_rate"], mode="lines", name=f"practice rate {funnel.practice_rate:.1%}",
        line=dict(color=_BLACK, width=1.5), hoverinfo="skip",
    ))
    names = table["therapist_id"].map(labels) if labels else table["therapist_id"].astype(str)
    hover = (
        names + "<br>dropout rate " + (100 * table["rate"]).round(1).astype(str) + "%"
        + " (best estimate " + (100 * table["shrunk_rate"]).round(1).astype(str) + "%)"
        + "<br>" + table["dropouts"].astype(int).astype(str) + " dropouts of "
        + table["known"].astype(int).astype(str) + " clients with a known outcome"
    )
    status = np.where(table["outside_998"], "outside 99.8%", np.where(table["outside_95"], "outside 95%", "inside"))
    for group, colour in _STATUS_COLOURS.items():
        rows = status == group
        if not rows.any():
            continue
        fig.add_trace(go.Scatter(
            x=table.loc[rows, "known"], y=table.loc[rows, "rate"], mode="markers", name=_STATUS_NAMES[group],
            marker=dict(color=colour, size=10, line=dict(color="white", width=1)),
            text=hover[rows], hovertemplate="%{text}<extra></extra>",
        ))
    fig.update_layout(
        xaxis_title="Clients with a known outcome (dropout or completion)", yaxis_title="Dropout rate",
        yaxis_tickformat=".0%", legend=dict(orientation="h", y=-0.25, yanchor="top", x=0), height=480,
    )
    top = float(np.nanmax(np.r_[table["rate"].to_numpy(dtype=float), funnel.practice_rate * 2, 0.1]))
    fig.update_yaxes(range=[0, min(1.0, top * 1.15)])
    fig.update_xaxes(range=[0, limits["known"].max()])
    return apply_theme(fig)


def caterpillar_figure(effects: pd.DataFrame, labels: dict | None = None) -> go.Figure:
    """Therapist effects from the random-intercept model with 95% intervals, as odds of dropping out
    relative to an average therapist (log scale, 1 = average), listed in the order of the labels
    (never by estimate: no league table). A therapist without an estimate (hidden by the privacy
    rule: practice.therapists.private_effects) keeps its row, marked "counts hidden". Beyond
    LABELLED_ROWS therapists the rows are a band named on hover."""
    names = effects["therapist_id"].map(labels) if labels else effects["therapist_id"].astype(str)
    rows = effects.assign(name=names.to_numpy()).sort_values("name", key=lambda s: s.map(label_order), kind="stable")
    concealed = rows["effect"].isna().to_numpy()
    shown = rows.loc[~concealed]
    ratio, lower, upper = (np.exp(shown[c].to_numpy(dtype=float)) for c in ("effect", "ci_lower", "ci_upper"))
    text = [f"{n}: {r:.2f} times the odds of an average therapist (95% CI {lo:.2f} to {hi:.2f})"
            for n, r, lo, hi in zip(shown["name"], ratio, lower, upper)]
    fig = go.Figure(go.Scatter(
        x=ratio, y=shown["name"], mode="markers", marker=dict(color=PALETTE[0], size=8),
        error_x=dict(type="data", symmetric=False, array=upper - ratio, arrayminus=ratio - lower,
                     color=PALETTE[0], thickness=1.2, width=0),
        text=text, hovertemplate="%{text}<extra></extra>", name="therapist effect",
    ))
    labelled = len(rows) <= LABELLED_ROWS
    if concealed.any():
        hidden = rows.loc[concealed, "name"]
        fig.add_trace(go.Scatter(
            x=[1.0] * len(hidden), y=hidden, mode="text" if labelled else "markers", text="counts hidden",
            textfont=dict(color=_GREY, size=11), marker=dict(color=_GREY, size=4, symbol="line-ns-open"),
            hoverinfo="skip" if labelled else "text", hovertext=[f"{n}: counts hidden" for n in hidden],
            name="counts hidden",
        ))
    fig.add_vline(x=1, line=dict(color=_BLACK, width=1, dash="dash"))
    _log_ticks(fig, np.r_[lower, upper, 1.0])
    order = list(rows["name"])
    fig.update_xaxes(title="Odds of dropout relative to an average therapist (95% CI, log scale)")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order, title=None, autorange="reversed",
                     **(dict(tickmode="array", tickvals=order) if labelled else dict(showticklabels=False)))
    fig.update_layout(showlegend=False,
                      height=max(300, 80 + 22 * len(rows)) if labelled else min(1000, 80 + 4 * len(rows)))
    return apply_theme(fig)


def calibration_figure(calibration: pd.DataFrame) -> go.Figure:
    """Observed dropout rate (95% interval) against the mean predicted risk in each tenth of predicted
    risk; points on the diagonal mean the model's risks are right on average."""
    fig = go.Figure()
    top = float(np.nanmax(np.r_[calibration["ci_upper"].to_numpy(dtype=float), calibration["predicted"], 0.1]))
    top = min(1.0, top * 1.05)
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect calibration",
                             line=dict(color=_BLACK, dash="dash", width=1), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=calibration["predicted"], y=calibration["observed"], mode="markers+lines", name="tenths of predicted risk",
        marker=dict(color=PALETTE[0], size=9), line=dict(color=PALETTE[0], width=1),
        error_y=dict(type="data", symmetric=False, array=calibration["ci_upper"] - calibration["observed"],
                     arrayminus=calibration["observed"] - calibration["ci_lower"], color=PALETTE[0]),
        customdata=calibration[["decile", "n"]].to_numpy(),
        hovertemplate="tenth %{customdata[0]}: predicted %{x:.1%}, observed %{y:.1%}<extra></extra>",
    ))
    fig.update_layout(xaxis_title="Predicted risk of dropout", yaxis_title="Observed dropout rate",
                      xaxis_tickformat=".0%", yaxis_tickformat=".0%", legend=dict(orientation="h", y=-0.2), height=420)
    fig.update_xaxes(range=[0, top])
    fig.update_yaxes(range=[0, top])
    return apply_theme(fig)


def comparison_forest_figure(tables: dict[str, pd.DataFrame] | pd.DataFrame) -> go.Figure:
    """Odds ratios and hazard ratios of several models in one forest plot: one row per term, one
    marker per model (offset vertically), log axis, line at 1. Takes the models' tables by name
    (logistic/GEE `or` tables, Cox `hr` tables) or the tidy `comparison_table`."""
    table = tables if isinstance(tables, pd.DataFrame) else comparison_table(tables)
    table = table.dropna(subset=["estimate", "ci_lower", "ci_upper"])
    table = table.loc[(table["ci_lower"] > 0) & np.isfinite(table["ci_upper"])]
    terms = list(dict.fromkeys(table["term"]))
    models = list(dict.fromkeys(table["model"]))
    position = {t: i for i, t in enumerate(terms)}
    width = 0.6 / max(len(models), 1)
    fig = go.Figure()
    for k, model in enumerate(models):
        rows = table.loc[table["model"] == model]
        y = rows["term"].map(position).to_numpy(dtype=float) + (k - (len(models) - 1) / 2) * width
        colour = PALETTE[k % (len(PALETTE) - 1)]
        measure = rows["measure"].iloc[0]
        fig.add_trace(go.Scatter(
            x=rows["estimate"], y=y, mode="markers", name=f"{model} ({measure})",
            marker=dict(color=colour, size=8, symbol=_SYMBOLS[k % len(_SYMBOLS)]),
            error_x=dict(type="data", symmetric=False, array=rows["ci_upper"] - rows["estimate"],
                         arrayminus=rows["estimate"] - rows["ci_lower"], color=colour, thickness=1.3, width=0),
            customdata=np.column_stack([rows["term"], rows["ci_lower"], rows["ci_upper"], rows["p"]]),
            hovertemplate=f"{model}<br>%{{customdata[0]}}: {measure} %{{x:.2f}} "
                          "(95% CI %{customdata[1]:.2f} to %{customdata[2]:.2f}), p = %{customdata[3]:.3g}<extra></extra>",
        ))
    fig.add_vline(x=1, line=dict(color=_BLACK, width=1, dash="dash"))
    _log_ticks(fig, np.r_[table["ci_lower"].to_numpy(dtype=float), table["ci_upper"].to_numpy(dtype=float), 1.0])
    fig.update_xaxes(title="Odds ratio or hazard ratio (95% CI, log scale; 1 = no association)")
    fig.update_yaxes(tickvals=list(range(len(terms))), ticktext=terms, autorange="reversed", title=None,
                     showgrid=False)
    fig.update_layout(legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"), height=max(340, 120 + 38 * len(terms)))
    return apply_theme(fig)


def _log_ticks(fig: go.Figure, values: np.ndarray) -> None:
    """A log x axis with round ratios as ticks over the range of `values`."""
    values = values[np.isfinite(values) & (values > 0)]
    low, high = values.min() / 1.15, values.max() * 1.15
    ticks = [t for t in _RATIO_TICKS if low <= t <= high] or [1.0]
    fig.update_xaxes(type="log", range=[np.log10(low), np.log10(high)], tickvals=ticks,
                     ticktext=[f"{t:g}" for t in ticks], minor=dict(ticks="", showgrid=False))
