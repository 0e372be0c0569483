"""The whole analysis run headless into a bundle: tables, figures, a self-contained HTML report,
a methods paragraph and the recipe that reproduces it.

The bundle is assembled in memory (uploads are never written to disk by the app); `build_bundle`
writes it to a folder for the command line and `bundle_zip` zips it for a download. A model that
cannot be fitted, or a part whose module is missing, becomes a warning in the report: the rest of
the run goes on.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from analytics.charts.cox import forest_figure, partial_effect_figure, ph_residual_figure
from analytics.charts.regression import caterpillar_figure, funnel_figure
from analytics.charts.survival import cif_figure, km_figure
from analytics.episodes import derive_episodes, filter_episodes, therapist_labels
from analytics.models.imputation import pooled_fit
from analytics.models.random_intercept import fit_random_intercept
from analytics.models.table_one import table_one
from analytics.models.regression import fit_logistic
from analytics.output import export
from analytics.output.methods import methods_text
from analytics.practice.outcomes import outcome_rates
from analytics.practice.therapists import private_effects, therapist_funnel
from analytics.recipe import Recipe
from analytics.results import Result
from analytics.suppression import suppress_small_cells
from analytics.survival.cox import fit_cox, ph_test
from analytics.survival.curves import Tally, covariate_columns, cumulative_incidence, kaplan_meier, logrank
from analytics.survival.fine_gray import fit_fine_gray
from analytics.survival.landmark import landmark_km
from analytics.survival.rmst import restricted_mean

HTML_TABLE_ROWS = 60
MM_PER_PT = 25.4 / 72
TITLES = {
    "episodes": "Episodes analysed",
    "table_one": "Baseline characteristics (Table 1)",
    "km": "Time to dropout (Kaplan-Meier)",
    "logrank": "Log-rank test",
    "cif": "Dropout and completion as competing events (cumulative incidence)",
    "rmst": "Restricted mean time to dropout",
    "cox": "Cox proportional hazards model (cause-specific: dropout rate among clients still in therapy)",
    "finegray": "Fine-Gray model (subdistribution: share of clients who end up dropping out)",
    "logistic": "Logistic regression (dropout vs completion)",
    "imputed": "Cox and logistic models with multiple imputation of missing covariates (Rubin's rules)",
    "therapists": "Therapists compared with the practice (funnel plot)",
    "icc": "Share of dropout variance between therapists (random-intercept logistic)",
    "outcomes": "Reliable change and recovery by ending",
    "landmark": "Dropout after a landmark session, by measures up to it (landmark analysis)",
}
TIME_LABELS = {"sessions": "Sessions attended", "days": "Days in therapy"}
THERAPIST_COUNTS = ["clients", "known", "dropouts"]
_RATES = ["rate", "shrunk_rate", "ci_lower", "ci_upper"]
THERAPIST_LINKED = {"known": _RATES, "dropouts": _RATES}


@dataclass
class Section:
    """One part of the report: its tables (file stem -> table), figures and plain-sentence warnings."""

    name: str
    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, go.Figure] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    result: Result | None = None


@dataclass
class Bundle:
    files: dict[str, bytes]
    sections: list[Section]
    warnings: list[str]


def analysis_episodes(ingest_result, recipe: Recipe) -> pd.DataFrame:
    """The episodes the recipe describes: its definition, then its filters."""
    caseload = ingest_result.caseload
    if caseload is None:
        errors = [p.as_text() for p in ingest_result.problems if p.severity == "error"]
        raise ValueError(errors[0] if errors else "The data could not be loaded.")
    return filter_episodes(derive_episodes(caseload, recipe.episodes), **recipe.filter_kwargs())


def run_sections(episodes: pd.DataFrame, recipe: Recipe, sessions: pd.DataFrame | None = None,
                 counts: Tally | None = None, fits: dict | None = None) -> list[Section]:
    """Every analysis of the report, each isolated so one failure cannot stop the others; the
    landmark analysis when the recipe names its measure (it reads the appointments, `sessions`).
    `counts` (the episodes counted by recipe.km_group, time and event, e.g. by an engine) feeds the
    curves in place of the episodes; `fits` ({"cox": ..., "logistic": ...}, e.g. inside an engine,
    with the in-memory fits' arguments) fit those models in place of the in-memory fits."""
    fits = fits or {}
    sections = [_guarded(step, episodes, recipe, counts, **({"fit": fits[step.__name__.strip("_")]}
                                                            if step.__name__.strip("_") in fits else {}))
                for step in _STEPS]
    if recipe.landmark_measure is not None:
        sections.append(_guarded(_landmark, episodes, recipe, sessions))
    return sections


def assemble(ingest_result, recipe: Recipe, render_figures: bool = True) -> Bundle:
    """All bundle files as {relative path: bytes}."""
    episodes = analysis_episodes(ingest_result, recipe)
    caseload = ingest_result.caseload
    sections = run_sections(episodes, recipe, caseload.sessions)
    return _bundle(episodes, sections, recipe, caseload.fingerprint, caseload.export_date, ingest_result.problems,
                   render_figures)


def assemble_in_engine(engine, ingest, recipe: Recipe, render_figures: bool = True, progress=None) -> Bundle:
    """The same bundle from tables inside an engine (analytics/engines): the episodes are derived
    and filtered there, the curves are computed from the counts the engine sends back, the Cox and
    logistic models are fitted from the engine's sums."""
    from analytics.engines.report import engine_episodes

    step = progress or (lambda stage: None)
    step("Deriving episodes in the engine")
    data = engine_episodes(engine, ingest, recipe)
    step("Running the analyses")
    sections = run_sections(data.episodes, recipe, counts=data.counts, fits=data.fits)
    step("Writing tables and figures")
    return _bundle(data.episodes, sections, recipe, data.fingerprint, data.export_date, ingest.problems,
                   render_figures)


def _bundle(episodes, sections, recipe, fingerprint, export_date, problems, render_figures) -> Bundle:
    out_recipe = recipe.for_output(fingerprint)
    warnings = [f"Data: {p.as_text()}" for p in problems if p.severity != "error"]
    files: dict[str, bytes] = {}
    for section in sections:
        for stem, table in section.tables.items():
            files[f"tables/{stem}.csv"] = export.table_csv_bytes(table)
    if render_figures:
        warnings += _render_figures(sections, out_recipe, files)
    methods = methods_text(episodes, sections, out_recipe, export_date)
    files["methods.md"] = methods.encode("utf-8")
    files["recipe.json"] = out_recipe.to_json().encode("utf-8")
    files["report.html"] = report_html(sections, out_recipe, methods, warnings).encode("utf-8")
    return Bundle(files=files, sections=sections, warnings=warnings + [w for s in sections for w in s.warnings])


def build_bundle(ingest_result, recipe: Recipe, out_dir) -> Bundle:
    """Write the bundle into `out_dir` (created if needed): tables/, figures/, report.html,
    methods.md, recipe.json."""
    bundle = assemble(ingest_result, recipe)
    write_bundle(bundle, out_dir)
    return bundle


def write_bundle(bundle: Bundle, out_dir) -> None:
    root = Path(out_dir)
    for name, data in bundle.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def bundle_zip(ingest_result, recipe: Recipe, render_figures: bool = True) -> bytes:
    """The bundle as a ZIP made in memory, for the app's download button."""
    bundle = assemble(ingest_result, recipe, render_figures=render_figures)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in bundle.files.items():
            z.writestr(f"alliance_lens_report/{name}", data)
    return buffer.getvalue()


# --- the analyses ---------------------------------------------------------------------------

def _episodes(episodes, recipe, counts=None):
    section = Section("episodes", TITLES["episodes"], tables={"episodes": episodes})
    if episodes.empty:
        section.warnings.append("No episodes remain after the recipe's filters; every analysis below is empty.")
    return section


def _table_one(episodes, recipe, counts=None):
    """By `table_one_group`, of the recipe's covariates (else every baseline characteristic)."""
    columns = list(recipe.covariates) or covariate_columns(episodes)
    result = table_one(episodes, columns, recipe.table_one_group, recipe.suppress_below)
    table = result.privacy.suppress(result.table, recipe.suppress_below)
    return Section("table_one", TITLES["table_one"], {"table_one": table, "table_one_display": result.display,
                                                      "table_one_smd": result.smd},
                   warnings=list(result.warnings), result=result)


def _curve_data(episodes, recipe, counts):
    """The counts an engine sent back, unless the recipe's delayed entry or case weights need one
    row per episode: then the episodes (which an engine report has collected too) serve."""
    return counts if counts is not None and recipe.entry is None and recipe.weights is None else episodes


def _km(episodes, recipe, counts=None):
    km = kaplan_meier(_curve_data(episodes, recipe, counts), group=recipe.km_group,
                      time_scale=recipe.episodes.time_scale, entry=recipe.entry, weights=recipe.weights)
    section = Section("km", TITLES["km"], {"km": km.table, "km_medians": km.medians},
                      warnings=list(km.warnings), result=km)
    section.figures["km"] = km_figure(km, at_risk=True, time_label=TIME_LABELS[recipe.episodes.time_scale],
                                      group_by=recipe.km_group)
    return section


def _logrank(episodes, recipe, counts=None):
    section = Section("logrank", TITLES["logrank"])
    if recipe.km_group is None:
        section.warnings.append("No grouping column (km_group) in the recipe, so no groups were compared.")
        return section
    result = logrank(episodes if counts is None else counts, recipe.km_group)
    section.tables["logrank"], section.warnings, section.result = result.table, list(result.warnings), result
    return section


def _cif(episodes, recipe, counts=None):
    cif = cumulative_incidence(episodes if counts is None else counts, group=recipe.km_group,
                               time_scale=recipe.episodes.time_scale)
    section = Section("cif", TITLES["cif"],
                      {"cif": cif.table, "cif_overstatement": cif.overstatement}, warnings=list(cif.warnings), result=cif)
    section.figures["cif"] = cif_figure(cif, time_label=TIME_LABELS[recipe.episodes.time_scale],
                                        group_by=recipe.km_group)
    return section


def _rmst(episodes, recipe, counts=None):
    result = restricted_mean(_curve_data(episodes, recipe, counts), recipe.rmst_tau, recipe.km_group,
                             recipe.episodes.time_scale, recipe.entry, recipe.weights)
    return Section("rmst", TITLES["rmst"], {"rmst": result.table, "rmst_contrasts": result.contrasts},
                   warnings=list(result.warnings), result=result)


def _model(name: str, model: str, recipe, fit) -> Section:
    """A model's section: its table and warnings, or why it was not fitted (no covariates chosen)."""
    section = Section(name, TITLES[name])
    if not recipe.covariates:
        section.warnings.append(f"No covariates in the recipe, so no {model} was fitted.")
        return section
    result = fit()
    section.tables[name], section.warnings, section.result = result.table, list(result.warnings), result
    return section


def _cox(episodes, recipe, counts=None, fit=fit_cox):
    """The Cox model and its test of proportional hazards. The test reads the risk sets row by row;
    a fit inside an engine keeps them there, so the test refits in memory."""
    section = _model("cox", "Cox model", recipe, lambda: _cox_fit(fit, episodes, recipe))
    result = section.result
    if result is None:
        return section
    section.figures["cox_forest"] = forest_figure(result.table, estimate="hr")
    _partial_effects(section, "cox", result, "hr")
    rows_here = result.model is None or result.model.risk_sets is not None
    ph = ph_test(result if rows_here else _cox_fit(fit_cox, episodes, recipe))
    section.tables["ph_test"] = ph.table
    section.figures["ph_residuals"] = ph_residual_figure(ph,
                                              time_label=TIME_LABELS[recipe.episodes.time_scale])
    section.warnings.append(ph.takeaway)
    return section


def _cox_fit(fit, episodes, recipe):
    return fit(episodes, list(recipe.covariates), recipe.reference_levels or None, strata=list(recipe.strata) or None,
               cluster=recipe.cluster, splines=recipe.splines, entry=recipe.entry, weights=recipe.weights)


def _finegray(episodes, recipe, counts=None):
    section = _model("finegray", "Fine-Gray model", recipe, lambda: fit_fine_gray(
        episodes, list(recipe.covariates), recipe.reference_levels or None, cluster=recipe.cluster,
        splines=recipe.splines))
    if section.result is not None:
        section.figures["finegray_forest"] = forest_figure(section.result.table, estimate="shr")
    return section


def _partial_effects(section: Section, model: str, result, estimate: str) -> None:
    """Each spline covariate's partial effect: a table and a figure (`<model>_spline_<covariate>`)."""
    for covariate, effect in result.partial_effects.items():
        stem = f"{model}_spline_{covariate}"
        section.tables[stem] = effect
        section.figures[stem] = partial_effect_figure(effect, covariate, estimate)


def _logistic(episodes, recipe, counts=None, fit=fit_logistic):
    section = _model("logistic", "logistic model", recipe, lambda: fit(
        episodes, list(recipe.covariates), recipe.reference_levels or None, splines=recipe.splines))
    if section.result is None:
        return section
    result = section.result
    _partial_effects(section, "logistic", result, "or")
    terms = result.table.loc[result.table["term"] != "(Intercept)"]  # a forest plot shows associations only
    section.figures["logistic_forest"] = forest_figure(terms, estimate="or")
    return section


def _imputed(episodes, recipe, counts=None):
    """With `missing_covariates: multiple_imputation`, the Cox and logistic models again on imputed data."""
    section = Section("imputed", TITLES["imputed"])
    if recipe.missing_covariates != "multiple_imputation" or not recipe.covariates:
        return section
    covariates, levels = list(recipe.covariates), recipe.reference_levels or None
    cox = pooled_fit(episodes, covariates, lambda d: fit_cox(d, covariates, levels, strata=list(recipe.strata) or None,
                                                             cluster=recipe.cluster),
                     "Cox model", "hazard ratios", recipe.imputations)
    logistic = pooled_fit(episodes, covariates, lambda d: fit_logistic(d, covariates, levels), "Logistic model",
                          "odds ratios", recipe.imputations)
    section.tables = {"cox_imputed": cox.table, "logistic_imputed": logistic.table}
    section.warnings = list(dict.fromkeys(cox.warnings + logistic.warnings))
    section.result = cox
    return section


def _therapists(episodes, recipe, counts=None):
    result = therapist_funnel(episodes)
    table = suppress_small_cells(result.table, THERAPIST_COUNTS, recipe.suppress_below, THERAPIST_LINKED)
    table[THERAPIST_COUNTS] = table[THERAPIST_COUNTS].astype("Int64")  # masking made them float
    section = Section("therapists", TITLES["therapists"], {"therapists": table},
                      warnings=list(result.warnings), result=result)
    if table["suppressed"].any():
        section.warnings.append(f"Therapist counts below {recipe.suppress_below} are blank in therapists.csv "
                                "(suppress_below in the recipe; 0 keeps every count).")
    section.figures["funnel"] = funnel_figure(result,
                                        labels=therapist_labels(episodes),
                                        suppress_below=recipe.suppress_below)
    return section


def _icc(episodes, recipe, counts=None):
    result = fit_random_intercept(episodes, list(recipe.covariates), cluster=recipe.cluster or "therapist_id")
    section = Section("icc", TITLES["icc"], {"icc": result.icc, "therapist_effects": result.effects},
                      warnings=list(result.warnings), result=result)
    effects = private_effects(result.effects, therapist_funnel(episodes), recipe.suppress_below)
    section.figures["caterpillar"] = caterpillar_figure(effects, labels=therapist_labels(episodes))
    return section


def _outcomes(episodes, recipe, counts=None):
    if "ending" not in episodes:
        return Section("outcomes", TITLES["outcomes"], warnings=[
            "The sessions carry no outcome measure (PHQ-9, GAD-7, ORS, OQ-45, CORE-10 or a registered one), "
            "so reliable change and recovery were not assessed."])
    result = outcome_rates(episodes, recipe.episodes)
    table = result.privacy.suppress(result.table, recipe.suppress_below)
    section = Section("outcomes", TITLES["outcomes"], {"outcomes": table},
                      warnings=list(result.warnings), result=result)
    if table["suppressed"].any():
        section.warnings.append(f"Counts below {recipe.suppress_below} (and the shares worked out from them) are "
                                "blank in outcomes.csv (suppress_below in the recipe; 0 keeps every count).")
    return section


def _landmark(episodes, recipe, sessions):
    if sessions is None:
        return Section("landmark", TITLES["landmark"], warnings=[
            "The landmark analysis reads every appointment, which a report made inside an engine leaves there; "
            "make the report in memory (without --engine) to include it."])
    result = landmark_km(episodes, sessions, recipe.landmark_session, recipe.landmark_measure, recipe.episodes)
    section = Section("landmark", TITLES["landmark"], {"landmark_km": result.km.table,
                                                      "landmark_medians": result.km.medians,
                                                      "landmark_logrank": result.logrank.table},
                      warnings=list(result.warnings), result=result)
    section.figures["landmark_km"] = km_figure(result.km, at_risk=True, group_by=recipe.landmark_measure,
                                               time_label=f"Sessions attended after session {recipe.landmark_session}")
    return section


_STEPS = (_episodes, _table_one, _km, _logrank, _cif, _rmst, _cox, _finegray, _logistic, _imputed, _therapists, _icc, _outcomes)


def _guarded(step, episodes, recipe, *more, **options) -> Section:
    name = step.__name__.strip("_")
    try:
        return step(episodes, recipe, *more, **options)
    except Exception as exc:  # noqa: BLE001 - a model failure is reported, never fatal to the run
        return Section(name, TITLES[name], warnings=[f"This analysis could not be run: {_one_line(exc)}"])


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _render_figures(sections: list[Section], recipe: Recipe, files: dict[str, bytes]) -> list[str]:
    """Each figure in every format into `files`; a figure the browser cannot print is named in a
    warning and the others are still made (the tables and report.html never depend on them)."""
    size = recipe.figure_kwargs()
    warnings = []
    for section in sections:
        for stem, fig in section.figures.items():
            if fig is None:
                continue
            fitted = {**size, "height_mm": _print_height(fig, size["height_mm"], size["font_size"])}
            for fmt in export.FORMATS:
                try:
                    files[f"figures/{stem}.{fmt}"] = export.figure_bytes(fig, fmt, **fitted)
                except export.RendererUnavailable as exc:
                    return [f"Figure files were not made: {exc} The interactive figures are in report.html."]
                except Exception as exc:  # noqa: BLE001 - one figure's failure never loses the bundle
                    warnings.append(f"figures/{stem}.{fmt} was not made ({_one_line(exc)}); the figure is in "
                                    "report.html.")
    return warnings


def _print_height(fig: go.Figure, height_mm: float, font_size: float) -> float:
    """The recipe's height, or more when the figure has more labelled rows (therapists, model
    terms) or stacked panels than fit at the font size: rows never overlap in a bundle figure.
    Rows on an axis without tick labels (a band of a network's therapists, named on hover) are
    not labelled and need no height of their own."""
    labelled = [t for t in fig.data if t.y is not None and len(t.y) and isinstance(t.y[0], str)
                and fig.layout[f"yaxis{(t.yaxis or 'y')[1:]}"].showticklabels is not False]
    rows = len(set().union(*(t.y for t in labelled)))
    panels = sum(1 for key in fig.layout.to_plotly_json() if key.startswith("yaxis"))
    line_mm = font_size * MM_PER_PT * 1.8
    return max(height_mm, rows * line_mm + 25, panels * 8 * line_mm)


# --- the HTML report ------------------------------------------------------------------------

_CSS = """body{font-family:Arial,Helvetica,sans-serif;max-width:980px;margin:2em auto;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3}.warn{background:#fff4e0;border-left:4px solid #E69F00;padding:0.4em 0.8em;margin:0.4em 0}
pre{white-space:pre-wrap;background:#f7f7f7;padding:0.8em}.note{color:#555;font-size:0.9em}"""


def report_html(sections: list[Section], recipe: Recipe, methods: str, warnings: list[str]) -> str:
    """One self-contained page: plotly.js inlined, no outside requests (no CDN, MathJax or web fonts)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Alliance Lens report</title>",
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>",
        "<h1>Alliance Lens report</h1>",
        f"<p class='note'>Data fingerprint {html.escape(str(recipe.data_fingerprint))}; "
        f"dropout definition <b>{html.escape(recipe.episodes.dropout_definition)}</b>; time in {html.escape(recipe.episodes.time_scale)}.</p>",
    ]
    parts += [f"<div class='warn'>{html.escape(w)}</div>" for w in warnings]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if getattr(section.result, "takeaway", ""):  # the sentence the dashboard shows for the same result
            parts.append(f"<p><b>{html.escape(section.result.takeaway)}</b></p>")
        parts += [f"<div class='warn'>{html.escape(w)}</div>" for w in section.warnings]
        for fig in section.figures.values():
            if fig is not None:
                parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=False, include_mathjax=False,
                                         config=export.PLOTLY_CONFIG))
        for stem, table in section.tables.items():
            parts.append(_html_table(stem, table))
    parts.append("<h2>Methods</h2><pre>" + html.escape(methods) + "</pre>")
    parts.append("<h2>Recipe</h2><pre>" + html.escape(json.dumps(recipe.to_dict(), indent=2, default=str)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_table(stem: str, table: pd.DataFrame) -> str:
    note = f"<p class='note'>tables/{stem}.csv: {len(table):,} rows"
    if stem == "episodes":
        return note + " (one per client episode; not shown here).</p>"
    shown = table.head(HTML_TABLE_ROWS)
    if len(table) > HTML_TABLE_ROWS:
        note += f", the first {HTML_TABLE_ROWS} shown"
    body = shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0)
    return note + ".</p>" + body
