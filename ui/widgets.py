"""Reusable page elements: a chart with its caption and downloads, a table with small-cell
suppression and downloads, and the list of data problems."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from analytics.models.design import is_categorical, levels_by_frequency
from analytics.output import export
from analytics.practice.display import column_label, director_table, sentence_label
from analytics.recipe import FIGURE_DEFAULTS
from analytics.results import NO_COUNTS, Privacy
from analytics.suppression import display_suppressed, number_text
from ui import state

_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
# A director table up to this long is drawn as a static table: it reads (and prints) as a document
# and costs the browser a fraction of the interactive grid, whose script a first page would
# otherwise load and compile (docs/scale.md). A longer one scrolls in the grid, which draws only
# the rows in view.
STATIC_ROWS = 40
# Markdown that a static table's cells would otherwise render: marks anywhere, and a list mark at
# the start of a cell.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])|^([-+]|\d+[.)])(?=\s)")


def figure_settings() -> dict:
    return {**FIGURE_DEFAULTS, **(st.session_state.get(state.FIGURE) or {})}


def figure(fig, table: pd.DataFrame | None, name: str, caption: str | None = None) -> None:
    """A takeaway sentence over the chart, the interactive chart, then its downloads: the data
    behind it exactly as drawn, and the figure for a paper at the chosen size."""
    if caption:
        st.markdown(caption)
    st.plotly_chart(fig, config=export.PLOTLY_CONFIG, key=f"chart_{name}")
    slug = _slug(name)
    columns = st.columns(5)
    if table is not None:
        _table_downloads(table, slug, columns[:2])
    settings = figure_settings()
    problem = export.renderer_problem()
    for column, fmt in zip(columns[2:], ("png", "svg", "pdf")):
        column.download_button(
            f"Figure {fmt.upper()}",
            data=(lambda f=fmt: export.figure_bytes(fig, f, **settings)),
            file_name=f"{slug}.{fmt}",
            mime=_MIME[fmt],
            key=f"dl_{slug}_{fmt}",
            on_click="ignore",
            disabled=problem is not None,
            help=problem or f"{settings['width_mm']:g} × {settings['height_mm']:g} mm, {settings['font_size']:g} pt"
            + (f", {settings['dpi']} dpi" if fmt == "png" else ""),
        )
    if problem:
        st.caption(f"{problem} Use the camera icon on the chart to save it as SVG from your browser.")


def table(df: pd.DataFrame, name: str, privacy: Privacy = NO_COUNTS, plain: bool = True, wide=()) -> pd.DataFrame:
    """Show a table and offer it as CSV and Excel. The counts `privacy` names (and the values
    worked out from them) are suppressed below the privacy threshold, on screen and in the
    download alike. `plain` tables read as a director reads them (analytics/display.py: words for
    headers, percentages, dates, a dash for missing); a researcher's table (plain=False) keeps the
    column names and numbers. Columns in `wide` (long sentences) get the room to be read whole.
    Returns the table as shown."""
    suppress_below = state.suppress_below()
    shown, hidden = state.cached_shown("table_as_shown", _as_shown, df, privacy, suppress_below, plain)
    if hidden:
        st.caption(f"Cells counting fewer than {suppress_below} clients are hidden to protect privacy, with one more "
                   "cell where a total would give them away.")
    if plain and len(shown) <= STATIC_ROWS:
        st.table(state.cached_shown("table_literal", _literal, shown), hide_index=True)
    elif plain:
        config = {column_label(c): st.column_config.TextColumn(width="large") for c in wide}
        st.dataframe(shown, hide_index=True, column_config=config, row_height=60 if wide else None)
    else:
        floats = [c for c in shown.columns if pd.api.types.is_float_dtype(shown[c])]
        # A Styler renders every cell in Python (seconds for a long list): only worth it for floats.
        st.dataframe(shown.style.format(number_text, subset=floats) if floats else shown, hide_index=True)
    _table_downloads(shown, _slug(name), st.columns(5)[:2])
    return shown


def _as_shown(df: pd.DataFrame, privacy: Privacy, suppress_below: int, plain: bool) -> tuple[pd.DataFrame, bool]:
    """The table as its reader sees it (see `table`), and whether any cell of it is hidden; cached
    with the result it comes from, so a rerun does not format it again."""
    masked = privacy.suppress(df, suppress_below) if privacy.counts else df
    hidden = "suppressed" in masked and bool(masked["suppressed"].any())
    if plain:
        return director_table(masked), hidden
    return display_suppressed(masked, suppress_below, [c for c in privacy.counts if c in df]), hidden


def _literal(shown: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell and header escaped, so a static table shows it as written. The
    backslash goes before a mark's punctuation: "1. North" as `1\\. North` (before the digit it
    would be shown, and the number of a list item is not escaped by it)."""
    def escape(value):
        return _MARKDOWN.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], value) if isinstance(value, str) else value
    return shown.map(escape).rename(columns=escape)


def for_researchers(df: pd.DataFrame, name: str, note: str | None = None, privacy: Privacy = NO_COUNTS) -> None:
    """A model's own table (coefficients, standard errors) on a director page: folded away in a
    "For researchers" expander, with its column names and numbers as a statistician reads them.
    Drawn only while open, so a director's every change does not redraw a grid nobody reads."""
    with st.expander("For researchers: the model table", key=f"for_researchers_{name}", on_change="rerun") as folded:
        if not folded.open:
            return
        if note:
            st.markdown(note)
        table(df, name, privacy, plain=False)


def result_or_reason(name: str, fn, *args, **kwargs):
    """`state.cached(name, fn, ...)`, or None after saying why this data cannot give it (the
    analysis raises ValueError with a sentence for the user)."""
    try:
        return state.cached(name, fn, *args, **kwargs)
    except ValueError as problem:
        st.info(str(problem))
        return None


def covariates_and_references(
    episodes: pd.DataFrame, candidates: list[str], defaults: list[str], label: str
) -> tuple[list[str], dict[str, str]]:
    """The model's characteristics and, for each categorical one, the level the others are
    compared with; bound to the recipe's keys so a saved recipe restores them."""
    if state.COVARIATES not in st.session_state:
        st.session_state[state.COVARIATES] = list(defaults)
    st.session_state[state.COVARIATES] = [c for c in st.session_state[state.COVARIATES] if c in candidates]
    covariates = st.multiselect(label, candidates, key=state.COVARIATES, format_func=column_label)
    saved = dict(st.session_state.get(state.REFERENCE_LEVELS) or {})
    references = {}
    categorical = [c for c in covariates if is_categorical(episodes[c])]
    if categorical:
        columns = st.columns(min(len(categorical), 4))
        for i, name in enumerate(categorical):
            levels = levels_by_frequency(episodes[name])
            default = saved.get(name)
            references[name] = columns[i % len(columns)].selectbox(
                f"Compare {sentence_label(name)} with", levels,
                index=levels.index(default) if default in levels else 0,
                key=f"reference_{name}", help="The reference level: every other level is compared with it.",
            )
    st.session_state[state.REFERENCE_LEVELS] = references
    return covariates, references


def problems(found: list) -> None:
    """Every problem found in the data, errors first, each with where it is and what to do."""
    if not found:
        st.success("No problems found in the data.")
        return
    errors = [p for p in found if p.severity == "error"]
    warnings = [p for p in found if p.severity != "error"]
    for p in errors:
        st.error(p.as_text())
    for p in warnings:
        st.warning(p.as_text())


def _table_downloads(df: pd.DataFrame, slug: str, columns) -> None:
    columns[0].download_button(
        "Data CSV", data=lambda: export.table_csv_bytes(df), file_name=f"{slug}.csv", mime="text/csv",
        key=f"dl_{slug}_csv", on_click="ignore",
    )
    columns[1].download_button(
        "Data Excel", data=lambda: export.table_xlsx_bytes(df), file_name=f"{slug}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"dl_{slug}_xlsx",
        on_click="ignore",
    )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "figure"
