"""Export and recipe: the figure size for downloads, every choice saved as recipe.json (and restored
from one), and the whole analysis as a ZIP that the command line reproduces."""

import streamlit as st

from analytics.output import export, report
from analytics.recipe import (
    FIGURE_DEFAULTS,
    FIGURE_LIMITS,
    Recipe,
    RecipeError,
    restored_message,
)
from ui import imports, state

UPLOAD = "recipe_upload"
MESSAGE = "recipe_message"
BUNDLE = "export_bundle"
FIGURE_WIDGETS = {name: f"figure_{name}" for name in FIGURE_DEFAULTS}
WIDTHS = {"Single column (85 mm)": 85.0, "One and a half columns (120 mm)": 120.0, "Double column (175 mm)": 175.0}


def _restore() -> None:
    """Upload callback: runs before the widgets are drawn, so the restored choices show at once."""
    uploaded = st.session_state.get(UPLOAD)
    if uploaded is None:
        return
    try:
        recipe = Recipe.from_json(uploaded.getvalue())
    except RecipeError as err:
        st.session_state[MESSAGE] = ("error", f"{uploaded.name}: {err}")
        return
    imports.apply_recipe(recipe)
    for key in FIGURE_WIDGETS.values():
        st.session_state.pop(key, None)
    st.session_state.pop(BUNDLE, None)
    st.session_state[MESSAGE] = ("restored", (uploaded.name, recipe.data_fingerprint))


def _set_width(width: float) -> None:
    st.session_state[FIGURE_WIDGETS["width_mm"]] = width


def _figure_settings() -> None:
    current = {**FIGURE_DEFAULTS, **(st.session_state.get(state.FIGURE) or {})}
    for name, key in FIGURE_WIDGETS.items():
        st.session_state.setdefault(key, int(current[name]) if name == "dpi" else float(current[name]))
    buttons = st.columns(len(WIDTHS))
    for column, (label, width) in zip(buttons, WIDTHS.items()):
        column.button(label, on_click=_set_width, args=(width,), key=f"width_{width:g}")
    c = st.columns(4)
    labels = {"width_mm": "Width (mm)", "height_mm": "Height (mm)", "font_size": "Font size (pt)", "dpi": "PNG resolution (dpi)"}
    for column, (name, key) in zip(c, FIGURE_WIDGETS.items()):
        low, high = FIGURE_LIMITS[name]
        if name == "dpi":
            column.number_input(labels[name], min_value=low, max_value=high, step=50, key=key)
        else:
            column.number_input(labels[name], min_value=float(low), max_value=float(high), step=1.0, key=key)
    st.session_state[state.FIGURE] = {name: st.session_state[key] for name, key in FIGURE_WIDGETS.items()}
    problem = export.renderer_problem()
    if problem:
        st.warning(f"{problem} The figure buttons are off; the camera icon on each chart saves an SVG from your browser.")


st.title("Export and recipe")
state.require_caseload()

st.header("Figures for a paper")
st.markdown("Every chart's PNG, SVG and PDF buttons use this size. Journals ask for about 85 mm for one "
            "column and 175 mm for two; 300 dpi is the usual minimum for a PNG.")
_figure_settings()

st.header("Recipe")
st.markdown("The recipe holds every choice that changes a number: the dropout definition, filters, "
            "grouping, covariates, reference levels, the column mapping and the figure size. Save it with "
            "your results; loading it here, or giving it to `python -m analytics report --config`, "
            "reproduces the same tables.")
recipe = state.current_recipe()
st.download_button("Download recipe.json", recipe.to_json(), file_name="recipe.json", mime="application/json",
                   key="download_recipe", on_click="ignore")
with st.expander("Show the recipe"):
    st.code(recipe.to_json(), language="json")
st.file_uploader("Restore a saved recipe", type=["json"], key=UPLOAD, on_change=_restore)
if MESSAGE in st.session_state:
    kind, text = st.session_state.pop(MESSAGE)
    if kind == "restored":  # judged now: a recipe with its own mapping was imported since the upload
        kind, text = restored_message(*text, getattr(state.caseload(), "fingerprint", None))
    getattr(st, kind)(text)

st.header("Report bundle")
st.markdown("One ZIP with every table (CSV), every figure (SVG, PDF, PNG), a self-contained report.html, "
            "a methods paragraph and the recipe. It includes the episode table (one row per client, with "
            "the ids as they are in your data): share it as you would the data itself.")
settings = recipe.to_json()
if st.button("Build report bundle", type="primary"):
    with st.spinner("Running every analysis..."):
        st.session_state[BUNDLE] = (settings, report.bundle_zip(
            state.ingest_result(), recipe, render_figures=export.renderer_problem() is None))
built = st.session_state.get(BUNDLE)
if built and built[0] == settings:
    st.download_button("Download alliance_lens_report.zip", built[1],
                       file_name="alliance_lens_report.zip", mime="application/zip", key="download_bundle",
                       on_click="ignore")
