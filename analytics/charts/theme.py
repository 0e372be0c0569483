"""One look for every chart: a colour-blind-safe palette and two themes.

The interactive theme is for the dashboard; the publication theme is applied on
export so a figure reads well at journal column width in print.
"""
from __future__ import annotations

import plotly.graph_objects as go

# Okabe & Ito (2008) colour-blind-safe palette, black last (used for reference lines).
PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]

FONT_FAMILY = "Arial, Helvetica, sans-serif"


def apply_theme(fig: go.Figure) -> go.Figure:
    """Clean interactive look: white background, light horizontal grid, palette colours."""
    fig.update_layout(
        template="plotly_white",
        colorway=PALETTE,
        font=dict(family=FONT_FAMILY, size=13, color="#222222"),
        margin=dict(l=60, r=20, t=50, b=50),
        legend=dict(bgcolor="rgba(255,255,255,0.6)"),
        hoverlabel=dict(font_family=FONT_FAMILY),
    )
    fig.update_xaxes(showgrid=False, zeroline=False, linecolor="#444444", ticks="outside")
    fig.update_yaxes(gridcolor="#EEEEEE", zeroline=False, linecolor="#444444", ticks="outside")
    return fig


PX_PER_PT = 96 / 72  # plotly lays out in CSS pixels (96 per inch); journals specify points


def apply_publication_theme(fig: go.Figure, font_size: float = 8) -> go.Figure:
    """Print look: white, no gridlines, black axis lines, one font size (in points) throughout.

    Returns a copy so the on-screen figure keeps its interactive theme.
    """
    font_size = font_size * PX_PER_PT
    out = go.Figure(fig)
    out.update_layout(
        template="simple_white",
        colorway=PALETTE,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font=dict(family=FONT_FAMILY, size=font_size, color="black"),
        title_font_size=font_size + 1,
        legend=dict(font_size=font_size, bgcolor="rgba(0,0,0,0)"),
        title_x=0.02,
        margin=dict(l=font_size, r=font_size, t=(3 if fig.layout.title.text else 1) * font_size, b=font_size),
    )
    axis = dict(automargin=True, showgrid=False, zeroline=False, showline=True, linecolor="black", linewidth=0.75,
                ticks="outside", tickcolor="black", tickwidth=0.75, ticklen=3,
                tickfont_size=font_size, title_font_size=font_size)
    out.update_xaxes(**axis)
    out.update_yaxes(**axis)
    out.update_annotations(font_size=font_size)
    return out
