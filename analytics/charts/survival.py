"""Survival charts drawn from the result tables only (their step points, never client rows).

`km_figure` puts the number at risk in a second row that shares the x axis, so the exported
image carries it; every curve starts at 1 (or 0 for incidence) just before the first time.
With groups, `group_by` (the grouping column) titles the legend in words (column_label), so
"court-mandated" reads as a referral.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.theme import PALETTE, apply_theme, series_colour
from analytics.practice.display import column_label
from analytics.survival.curves import CIFResult, KMResult

_COLOURS = PALETTE[:-1]  # black is kept for reference lines
_NICE_STEPS = np.array([1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000])


def km_figure(km: KMResult, at_risk: bool = True, time_label: str = "Time", group_by: str | None = None) -> go.Figure:
    """Kaplan-Meier step curves with 95% bands, censor marks (+), median lines and, below the
    plot, the number still at risk at each tick."""
    table = km.table
    groups = _groups(table)
    rows = 2 if at_risk and groups else 1
    table_share = min(0.32, 0.08 + 0.06 * len(groups))
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.22,
                        row_heights=[1 - table_share, table_share] if rows == 2 else [1.0])
    medians = km.medians.set_index("group")["median"] if len(km.medians) else pd.Series(dtype=float)
    for group, part, colour in _by_group(table, groups):
        _band(fig, part["time"], _defined(part, "ci_upper"), _defined(part, "ci_lower"), 1.0, colour, group, str(group))
        fig.add_trace(go.Scatter(
            x=_from_zero(part["time"]), y=np.r_[1.0, part["survival"]], mode="lines", line_shape="hv",
            line=dict(color=colour, width=2), name=str(group), legendgroup=str(group),
            hovertemplate="%{x}: %{y:.2f} not dropped out<extra>" + str(group) + "</extra>",
        ), row=1, col=1)
        censored = part.loc[part["censored"] > 0]
        fig.add_trace(go.Scatter(
            x=censored["time"], y=censored["survival"], mode="markers", name=f"{group} censored",
            marker=dict(symbol="cross-thin", size=7, line=dict(color=colour, width=1.5)),
            legendgroup=str(group), showlegend=False, customdata=censored["censored"],
            hovertemplate="%{customdata} censored at %{x}<extra>" + str(group) + "</extra>",
        ), row=1, col=1)
        median = medians.get(group, np.nan)
        if pd.notna(median):
            fig.add_trace(go.Scatter(
                x=[0, median, median], y=[0.5, 0.5, 0], mode="lines", line=dict(color=colour, width=1, dash="dot"),
                name=f"{group} median", legendgroup=str(group), showlegend=False,
                hovertemplate=f"median {median:g}<extra>{group}</extra>",
            ), row=1, col=1)
    ticks = _ticks(table["time"].max() if len(table) else 1.0)
    if rows == 2:
        for i, group in enumerate(groups):
            part = table.loc[table["group"] == group]
            counts = number_at_risk(part, ticks)
            fig.add_trace(go.Scatter(
                x=ticks, y=[_short(group)] * len(ticks), mode="text", text=[str(c) for c in counts],
                textfont=dict(color=_COLOURS[i % len(_COLOURS)]), showlegend=False, name=f"{group} at risk",
                hovertemplate="%{text} at risk at %{x}<extra>" + str(group) + "</extra>",
            ), row=2, col=1)
        fig.update_yaxes(title_text="At risk", type="category", categoryorder="array",
                         categoryarray=[_short(g) for g in reversed(groups)], range=[-0.6, len(groups) - 0.4],
                         showgrid=False, showline=False, ticks="", row=2, col=1)
        fig.update_xaxes(visible=False, row=2, col=1)
    fig.update_xaxes(title_text=time_label, tickvals=ticks, showticklabels=True, row=1, col=1)
    fig.update_yaxes(title_text="Not dropped out", range=[0, 1.02], row=1, col=1)
    fig.update_layout(hovermode="closest", showlegend=len(groups) > 1)
    return _legend_inside(apply_theme(fig), "bottom", group_by, fig.layout.yaxis.domain[0])


def cif_figure(cif: CIFResult, time_label: str = "Time", group_by: str | None = None,
               percent: bool = False) -> go.Figure:
    """Cumulative incidence of dropout (solid) and of planned completion (dashed), 95% bands. One
    group: each ending in its own colour (as in every chart, ENDING_COLOURS); several: the legend
    names the groups (one colour and entry each) and line style the ending. `percent` reads the
    axis and hover as percentages of clients (a director's page) instead of proportions."""
    table = cif.table
    groups = _groups(table)
    fig = go.Figure()
    for group, part, group_colour in _by_group(table, groups):
        for outcome, dash in (("dropout", "solid"), ("completed", "dash")):
            colour = series_colour(outcome, 0) if len(groups) == 1 else group_colour
            column = f"cif_{outcome}"
            upper = part[f"{column}_upper"].where(part[column] > 0, 0.0)
            lower = part[f"{column}_lower"].where(part[column] > 0, 0.0)
            _band(fig, part["time"], upper, lower, 0.0, colour, group, f"{group} {outcome}")
            fig.add_trace(go.Scatter(
                x=_from_zero(part["time"]), y=np.r_[0.0, part[column]], mode="lines", line_shape="hv",
                line=dict(color=colour, width=2, dash=dash), name=_name(group, outcome), legendgroup=str(group),
                showlegend=len(groups) == 1 or outcome == "dropout",
                hovertemplate="%{x}: %{y:" + (".1%" if percent else ".2f") + "}<extra>" + _name(group, outcome) + "</extra>",
            ))
    if len(groups) > 1:
        for trace in fig.data:
            if trace.showlegend is not False and trace.name.endswith(": dropout"):
                trace.name = trace.name[: -len(": dropout")]
    fig.update_xaxes(title_text=time_label, rangemode="tozero")
    fig.update_yaxes(title_text="Share of clients so far" if percent else "Cumulative proportion",
                     tickformat=".0%" if percent else None,
                     range=[0, _top(table, ["cif_dropout_upper", "cif_completed_upper"])])
    return _legend_inside(apply_theme(fig), "top", group_by if len(groups) > 1 else None)


def overstatement_figure(cif: CIFResult, time_label: str = "Time", group_by: str | None = None) -> go.Figure:
    """1 - Kaplan-Meier (dashed) against the cumulative incidence of dropout (solid): the shaded
    gap is how much ignoring completion as a competing ending overstates dropout."""
    table = cif.overstatement
    groups = _groups(table)
    fig = go.Figure()
    for group, part, colour in _by_group(table, groups):
        x = _from_zero(part["time"])
        fig.add_trace(go.Scatter(
            x=x, y=np.r_[0.0, part["cif_dropout"]], mode="lines", line_shape="hv",
            line=dict(color=colour, width=2), legendgroup=str(group),
            name="cumulative incidence" if len(groups) == 1 else str(group),
            hovertemplate="%{x}: %{y:.2f}<extra>" + _name(group, "cumulative incidence") + "</extra>",
        ))
        fig.add_trace(go.Scatter(
            x=x, y=np.r_[0.0, part["one_minus_km"]], mode="lines", line_shape="hv", fill="tonexty",
            fillcolor=_transparent(colour, 0.15), line=dict(color=colour, width=1.5, dash="dash"),
            name=_name(group, "1 - Kaplan-Meier"), legendgroup=str(group), showlegend=len(groups) == 1,
            customdata=np.r_[0.0, part["difference"]],
            hovertemplate="%{x}: %{y:.2f} (overstates by %{customdata:.2f})<extra>" + str(group) + "</extra>",
        ))
    fig.update_xaxes(title_text=time_label, rangemode="tozero")
    fig.update_yaxes(title_text="Proportion dropped out", range=[0, _top(table, ["one_minus_km"])])
    return _legend_inside(apply_theme(fig), "top", group_by if len(groups) > 1 else None)


def _top(table: pd.DataFrame, columns: list[str]) -> float:
    """The y axis ends a little above the highest value drawn (at most just above 1)."""
    values = table[columns].to_numpy(dtype=float)
    drawn = values[np.isfinite(values)]  # none: no curve has a value (every estimate hidden or missing)
    highest = drawn.max() if drawn.size else 1.0
    return float(min(1.02, 1.1 * highest + 0.02))


def number_at_risk(part: pd.DataFrame, ticks) -> np.ndarray:
    """Clients still at risk at each tick: the at-risk count of the first step at or after it
    (every client whose time is at least the tick), 0 past the last step."""
    times = part["time"].to_numpy()
    position = np.searchsorted(times, np.asarray(ticks, dtype=float), side="left")
    at_risk = np.r_[part["at_risk"].to_numpy(), 0]
    return at_risk[position]


def _groups(table: pd.DataFrame) -> list:
    return list(dict.fromkeys(table["group"])) if len(table) else []


def _by_group(table: pd.DataFrame, groups: list):
    """(group, its rows, its colour) in the order of `groups`: one colour per group in every chart."""
    for i, group in enumerate(groups):
        yield group, table.loc[table["group"] == group], _COLOURS[i % len(_COLOURS)]


def _from_zero(time: pd.Series) -> np.ndarray:
    return np.r_[0.0, time.to_numpy(dtype=float)]


def _defined(part: pd.DataFrame, column: str) -> pd.Series:
    """The interval bound where R defines it; 1 where survival is still 1 (no dropout yet)."""
    return part[column].where(part["survival"] < 1, 1.0)


def _band(fig, time: pd.Series, upper: pd.Series, lower: pd.Series, start: float, colour: str, group, name: str) -> None:
    """A shaded step band between two bounds, ending where the bounds become undefined."""
    keep = (upper.notna() & lower.notna()).to_numpy()
    x = _from_zero(time[keep])
    common = dict(mode="lines", line_shape="hv", line=dict(width=0), showlegend=False, hoverinfo="skip",
                  legendgroup=str(group))
    fig.add_trace(go.Scatter(x=x, y=np.r_[start, upper[keep]], name=f"{name} upper", **common))
    fig.add_trace(go.Scatter(x=x, y=np.r_[start, lower[keep]], name=f"{name} lower", fill="tonexty",
                             fillcolor=_transparent(colour, 0.18), **common))


def _ticks(end: float) -> np.ndarray:
    """About six round ticks from 0 to the last time."""
    wide_enough = _NICE_STEPS[_NICE_STEPS >= max(end, 1.0) / 6]
    step = wide_enough[0] if len(wide_enough) else np.ceil(end / 6)
    return np.arange(0, end + 1e-9, step, dtype=float)


def _legend_inside(fig: go.Figure, corner: str, group_by: str | None = None, floor: float = 0.0) -> go.Figure:
    """Legend inside the plot's empty corner (bottom left under falling survival curves, top left
    over rising incidence curves), so the plot keeps the figure's full size in print; titled with
    the grouping column's words."""
    fig.update_layout(legend=dict(x=0.01, xanchor="left", y=floor + 0.02 if corner == "bottom" else 0.99,
                                  yanchor=corner, traceorder="normal",
                                  title_text=column_label(group_by) if group_by else "",
                                  bgcolor="rgba(255,255,255,0.7)"))
    return fig


def _short(group, width: int = 14) -> str:
    """A group name short enough for the at-risk row's labels (the legend carries the full name)."""
    text = str(group)
    return text if len(text) <= width else text[: width - 1] + "…"


def _name(group, what: str) -> str:
    return what if group == "all" else f"{group}: {what}"


def _transparent(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
