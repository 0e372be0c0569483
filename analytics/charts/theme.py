"""One look for every chart: a colour-blind-safe palette and two themes.

The interactive theme is for the dashboard; the publication theme is applied on export so a
figure reads well at journal column width in print. Both are plotly templates, so anything a
chart sets explicitly (a hidden axis line, a category order) survives either theme.
"""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go
import plotly.io as pio

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

# One colour per ending in every chart, under any of the names a result gives it: dropout (and
# leaving unilaterally) always vermillion, a planned completion always green, leaving after improving
# orange, still in therapy blue, another ending grey.
_DROPOUT, _COMPLETED, _IMPROVED, _ONGOING, _OTHER = PALETTE[3], PALETTE[2], PALETTE[1], PALETTE[0], "#888888"
ENDING_COLOURS = {
    "dropout": _DROPOUT, "dropped out": _DROPOUT, "left": _DROPOUT, "left_unimproved": _DROPOUT,
    "left (ended unilaterally)": _DROPOUT, "completed": _COMPLETED, "left_improved": _IMPROVED,
    "ongoing": _ONGOING, "still in therapy": _ONGOING, "ongoing or other ending": _ONGOING,
    "other": _OTHER, "transferred or other ending": _OTHER,
}


def series_colour(value, index: int) -> str:
    """An ending's own colour (ENDING_COLOURS), else the palette's colour at `index` (black kept
    for reference lines)."""
    return ENDING_COLOURS.get(str(value), PALETTE[index % (len(PALETTE) - 1)])

FONT_FAMILY = "Arial, Helvetica, sans-serif"
PX_PER_PT = 96 / 72  # plotly lays out in CSS pixels (96 per inch); journals specify points


def _template(base: str, axis: dict, y_extra: dict, **layout) -> go.layout.Template:
    template = go.layout.Template(pio.templates[base])
    template.layout.update(colorway=PALETTE, **layout)
    template.layout.xaxis.update(automargin=True, **axis)
    template.layout.yaxis.update(automargin=True, **{**axis, **y_extra})
    return template


INTERACTIVE = _template(
    "plotly_white",
    dict(showgrid=False, zeroline=False, showline=True, linecolor="#444444", ticks="outside"),
    dict(showgrid=True, gridcolor="#EEEEEE"),
    font=dict(family=FONT_FAMILY, size=13, color="#222222"),
    hoverlabel=dict(font_family=FONT_FAMILY),
)

# Every figure made from here on starts with the interactive theme: plotly gives a new figure its
# default template as it is, where assigning a template to a figure validates all of it again (11 ms
# a figure, timed alone on the 2-core machine).
pio.templates["alliance_lens"] = INTERACTIVE
pio.templates.default = "alliance_lens"

PUBLICATION = _template(
    "simple_white",
    dict(showgrid=False, zeroline=False, showline=True, linecolor="black", linewidth=0.75,
         ticks="outside", tickcolor="black", tickwidth=0.75, ticklen=3),
    {},
    paper_bgcolor="white",
    plot_bgcolor="white",
)


def wrapped(labels, width: int = 18) -> list[str]:
    """Category labels broken into lines of about `width` characters, so a long label on a y axis
    does not squeeze the plot to a sliver on a narrow (phone, 420 px) screen."""
    return ["<br>".join(textwrap.wrap(str(label), width)) or str(label) for label in labels]


def rows_height(labels: list[str], row: int = 40, around: int = 60) -> int:
    """Pixels for a chart of one row per (`wrapped`) label: `row` a row, 16 more for each further line
    of a label, so labels of several lines do not run into each other, and `around` for the margins,
    axis title and legend; at least 260."""
    lines = sum(label.count("<br>") for label in labels)
    return max(260, around + row * len(labels) + 16 * lines)


def reference_line(fig: go.Figure, axis: str, value: float, line: dict, panel: int = 1) -> go.Figure:
    """A line across a panel at `value` on its `axis` ("x": vertical, "y": horizontal): the shape
    add_vline/add_hline make, without their search of the subplot grid (10x slower per line).
    `panel` counts the panels of a make_subplots grid row by row (its axes are numbered that way)."""
    suffix = "" if panel == 1 else str(panel)
    other = "y" if axis == "x" else "x"
    fig.add_shape(type="line", line=line, **{f"{axis}0": value, f"{axis}1": value, f"{axis}ref": f"{axis}{suffix}",
                                              f"{other}0": 0, f"{other}1": 1, f"{other}ref": f"{other}{suffix} domain"})
    return fig


def apply_theme(fig: go.Figure) -> go.Figure:
    """Clean interactive look: white background, light horizontal grid, palette colours (the
    INTERACTIVE template, which every figure starts with). The legend sits below everything (at the
    bottom of the figure, which grows to hold it), so on a narrow screen it takes no width from the
    plot and never covers an axis title."""
    fig.update_layout(margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(bgcolor="rgba(255,255,255,0.6)", orientation="h", yref="container", y=0,
                                  yanchor="bottom", x=0, xanchor="left"))
    return fig


def apply_publication_theme(fig: go.Figure, font_size: float = 8) -> go.Figure:
    """Print look: white, no gridlines, black axis lines, one font size (in points) throughout.

    Returns a copy so the on-screen figure keeps its interactive theme.
    """
    size = font_size * PX_PER_PT
    out = go.Figure(fig)
    out.update_layout(
        template=PUBLICATION,
        font=dict(family=FONT_FAMILY, size=size, color="black"),
        title=dict(font_size=size * 1.1, x=0.02),
        legend=dict(font_size=size, bgcolor="rgba(0,0,0,0)", tracegroupgap=0),
        margin=dict(l=size, r=size, t=(3 if out.layout.title.text else 1) * size, b=size),
    )
    if out.layout.legend.orientation == "h" and (out.layout.legend.y or 0) < 0:
        # a legend under the axis collides with the axis title at print size: put it on top
        out.update_layout(legend=dict(y=1.0, yanchor="bottom", x=0, xanchor="left"))
    out.update_xaxes(tickfont_size=size, title_font_size=size)
    out.update_yaxes(tickfont_size=size, title_font_size=size)
    out.update_annotations(font_size=size)
    for trace in out.data:
        if "textfont" in trace:
            trace.textfont.size = size
        if "cliponaxis" in trace:
            trace.cliponaxis = False  # labels at the panel's edge (numbers at risk) are not cut off
    return out
