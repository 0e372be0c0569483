"""Cox model charts, drawn from the result tables: forest plot of ratios, proportional-hazards
residuals, model-adjusted curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from statsmodels.nonparametric.smoothers_lowess import lowess

from analytics.charts.theme import PALETTE, apply_theme, rows_height, wrapped

_NAMES = {"hr": "Hazard ratio", "shr": "Subdistribution hazard ratio", "or": "Odds ratio"}
_LOG_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 20, 50, 100]


def _interval_columns(table: pd.DataFrame, estimate: str) -> tuple[str, str]:
    for lower, upper in ((f"{estimate}_ci_lower", f"{estimate}_ci_upper"), ("ci_lower", "ci_upper")):
        if lower in table and upper in table:
            return lower, upper
    raise ValueError(f"The table needs interval columns {estimate}_ci_lower/{estimate}_ci_upper or ci_lower/ci_upper.")


def forest_figure(table: pd.DataFrame, estimate: str = "hr", title: str | None = None) -> go.Figure:
    """Ratios with 95% intervals on a log axis, a line at 1 (no association) and the numbers
    printed to the right, first term at the top."""
    if estimate not in table or "term" not in table:
        raise ValueError(f"The table needs a 'term' and a {estimate!r} column.")
    lower, upper = _interval_columns(table, estimate)
    rows = table.dropna(subset=[estimate, lower, upper]).reset_index(drop=True)
    terms = wrapped(rows["term"])
    label = _NAMES.get(estimate, estimate)
    text = [f"{e:.2f} ({lo:.2f} to {hi:.2f})" for e, lo, hi in zip(rows[estimate], rows[lower], rows[upper])]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=rows[estimate], y=terms, mode="markers", name=label,
        marker=dict(color=PALETTE[0], size=9, symbol="square"),
        error_x=dict(type="data", symmetric=False, array=rows[upper] - rows[estimate],
                     arrayminus=rows[estimate] - rows[lower], color=PALETTE[0], thickness=1.5, width=0),
        customdata=text, hovertemplate="%{y}: %{customdata}<extra></extra>",
    ))
    positive = np.r_[rows[lower].to_numpy(float), rows[upper].to_numpy(float), 1.0]
    positive = positive[np.isfinite(positive) & (positive > 0)]
    low, high = positive.min() / 1.25, positive.max() * 1.25
    # The numbers get their own stretch of axis to the right of the widest interval (no ticks
    # there), so they survive any theme's margins on export.
    span = np.log10(high) - np.log10(low)
    fig.add_trace(go.Scatter(
        x=[high * 1.05] * len(rows), y=terms, mode="text", text=text, textposition="middle right",
        showlegend=False, hoverinfo="skip", name="values",
    ))
    fig.add_vline(x=1, line=dict(color=PALETTE[-1], width=1, dash="dash"))
    ticks = [t for t in _LOG_TICKS if low <= t <= high] or [1.0]
    fig.update_xaxes(type="log", title=f"{label} (95% CI, log scale)",
                     range=[np.log10(low), np.log10(high) + max(0.8 * span, 0.5)],
                     tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], minor=dict(showgrid=False, ticks=""))
    fig.update_yaxes(autorange="reversed", title=None, categoryorder="array", categoryarray=terms)
    fig.update_layout(showlegend=False, title=title, height=rows_height(terms, row=34))
    fig = apply_theme(fig)
    return fig


def ph_residual_figure(ph, time_label: str = "Sessions attended") -> go.Figure:
    """Scaled Schoenfeld residuals over time, one panel per covariate, with a LOWESS smooth: a flat
    smooth means a constant association (proportional hazards)."""
    residuals = ph.residuals
    terms = list(dict.fromkeys(residuals["term"]))
    pvalues = ph.table.set_index("term")["p"]
    titles = [f"{t} (test p = {pvalues.get(t, np.nan):.3f})" for t in terms]
    fig = make_subplots(rows=max(1, len(terms)), cols=1, subplot_titles=titles or None, shared_xaxes=True,
                        vertical_spacing=0.08 if len(terms) > 1 else 0.0)
    for i, term in enumerate(terms):
        part = residuals.loc[residuals["term"] == term]
        fig.add_trace(go.Scattergl(
            x=part["time"], y=part["residual"], mode="markers", name=f"{term} residuals",
            marker=dict(color=PALETTE[0], size=4, opacity=0.35), showlegend=False,
            hovertemplate="time %{x}: %{y:.2f}<extra></extra>",
        ), row=i + 1, col=1)
        fig.update_yaxes(title_text="β(t)", row=i + 1, col=1)
        if part["time"].nunique() < 3:  # a trend needs dropouts at three different times at least
            continue
        smooth = lowess(part["residual"].to_numpy(float), part["time"].to_numpy(float), frac=2 / 3, it=0,
                        return_sorted=True)
        fig.add_trace(go.Scatter(
            x=smooth[:, 0], y=smooth[:, 1], mode="lines", name=f"{term} smooth",
            line=dict(color=PALETTE[3], width=2), showlegend=False,
        ), row=i + 1, col=1)
    fig.update_xaxes(title_text=time_label, row=max(1, len(terms)), col=1)
    fig.update_layout(height=max(280, 220 * len(terms)))
    return apply_theme(fig)


def adjusted_curves_figure(curves: pd.DataFrame, covariate: str | None = None,
                           time_label: str = "Sessions attended") -> go.Figure:
    """Model-adjusted probability of not having dropped out, one step curve per value
    (and a dash style per stratum in a stratified model)."""
    fig = go.Figure()
    values = list(dict.fromkeys(curves["value"]))
    strata = list(dict.fromkeys(curves["stratum"])) if "stratum" in curves else [None]
    dashes = ["solid", "dash", "dot", "dashdot", "longdash"]
    for i, value in enumerate(values):
        for j, stratum in enumerate(strata):
            part = curves.loc[curves["value"] == value]
            if stratum is not None:
                part = part.loc[part["stratum"] == stratum]
            name = f"{value}" if stratum is None else f"{value}, {stratum}"
            fig.add_trace(go.Scatter(
                x=part["time"], y=part["survival"], mode="lines", line_shape="hv", name=name,
                line=dict(color=PALETTE[i % (len(PALETTE) - 1)], width=2, dash=dashes[j % len(dashes)]),
                hovertemplate="%{x}: %{y:.2f}<extra>" + name + "</extra>",
            ))
    fig.update_xaxes(title=time_label, rangemode="tozero")
    fig.update_yaxes(title="Not yet dropped out (model-adjusted)", range=[0, 1.02])
    fig.update_layout(legend_title_text=covariate or "value")
    return apply_theme(fig)


def partial_effect_figure(effect: pd.DataFrame, covariate: str, estimate: str = "hr") -> go.Figure:
    """A spline covariate's ratio against its median across its range, with the 95% band, on a
    log axis (a line at 1: no difference from a client at the median)."""
    label = _NAMES.get(estimate, estimate)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=np.r_[effect["value"], effect["value"][::-1]], y=np.r_[effect["ci_upper"], effect["ci_lower"][::-1]],
        fill="toself", fillcolor="rgba(0,114,178,0.15)", line=dict(width=0), hoverinfo="skip", name="95% CI",
    ))
    fig.add_trace(go.Scatter(x=effect["value"], y=effect["ratio"], mode="lines", name=label,
                             line=dict(color=PALETTE[0], width=2),
                             hovertemplate="%{x:.3g}: %{y:.2f}<extra></extra>"))
    fig.add_hline(y=1, line=dict(color=PALETTE[-1], width=1, dash="dash"))
    fig.update_xaxes(title=covariate)
    fig.update_yaxes(type="log", title=f"{label} against the median (95% CI, log scale)")
    fig.update_layout(showlegend=False)
    return apply_theme(fig)
