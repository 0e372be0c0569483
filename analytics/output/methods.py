"""The methods section of a report, written from what was actually run: data, dropout definition,
numbers of episodes and events, models with their sample sizes, software versions, and the
RECORD / TRIPOD items each sentence answers."""

from __future__ import annotations

import pandas as pd

from analytics.episodes import episode_measures
from analytics.practice.overview import BENCHMARK, benchmark_comparison, headline, rate_text
from analytics.proportions import percent
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT, LEFT

_DEFINITIONS = {
    "therapist_judged": ("Dropout was the therapist's judgement recorded at discharge (termination = dropout); "
                         "a planned completion was the competing event, and transfers, other and ongoing "
                         "episodes were censored."),
    "unilateral": ("Dropout was a unilateral ending: the client missed the last scheduled appointment "
                   "(no-show, late or early cancellation), attended nothing after it, and that appointment lay "
                   "more than {window} days before the export date ({export}); episodes with an appointment within "
                   "{window} days of the export date were treated as ongoing (censored), transfers were censored, "
                   "and the remaining endings counted as completion, the competing event."),
    "unilateral_unimproved": (
        "Dropout was a unilateral ending before reliable improvement (Swift, Callahan & Levine 2009): the client "
        "missed the last scheduled appointment (no-show, late or early cancellation), attended nothing after it, "
        "that appointment lay more than {window} days before the export date ({export}), and the {measure} score "
        "had not reliably improved from the first to the last scored attended session; a unilateral ending after "
        "reliable improvement counted as a planned-like ending (completion, the competing event), and a client "
        "without two {measure} scores who left counted as a dropout (no evidence of improvement; {unscored:,} "
        "such clients). Episodes with an appointment within {window} days of the export date were ongoing "
        "(censored), and transfers were censored."),
    "early": ("Dropout was an early ending: fewer than {early} attended sessions in an episode that was not "
              "ongoing (no appointment within {window} days of the export date {export}, or a recorded "
              "termination other than ongoing); longer episodes counted as completion, the competing event, "
              "and transfers were censored."),
}
_TIME = {"sessions": "the number of attended sessions", "days": "days from the first to the last attended session"}


def event_counts(episodes: pd.DataFrame) -> dict[str, int]:
    """Episodes, dropouts, completions and censored episodes."""
    event = episodes["event"] if "event" in episodes else pd.Series(dtype=int)
    return {
        "episodes": len(episodes),
        "dropouts": int((event == EVENT_DROPOUT).sum()),
        "completed": int((event == EVENT_COMPLETED).sum()),
        "censored": int((~event.isin([EVENT_DROPOUT, EVENT_COMPLETED])).sum()),
    }


def methods_text(episodes: pd.DataFrame, sections: list, recipe, export_date=None) -> str:
    """Markdown: one paragraph per heading, with the checklist items in brackets."""
    results = {s.name: s.result for s in sections if s.result is not None}
    tables = {stem: t for s in sections for stem, t in s.tables.items()}
    counts = event_counts(episodes)
    paragraphs = [
        "## Methods",
        "**Data.** " + _data(episodes, counts, recipe) + " [RECORD 6.1, 6.3; TRIPOD 4a, 5a, 13a]",
        "**Outcome.** " + _outcome(episodes, counts, recipe, export_date) + " [RECORD 7.1; TRIPOD 6a]",
        *(["**Outcome measures.** " + _measures(episodes, recipe.episodes)] if episode_measures(episodes, recipe.episodes) else []),
        "**Analysis.** " + " ".join(_analysis(results, tables, recipe)) + " [TRIPOD 7a, 8, 9, 10a, 10b, 14a, 16]",
        "**Software.** " + _software(recipe),
    ]
    return "\n\n".join(paragraphs) + "\n"


def _data(episodes, counts, recipe) -> str:
    therapists = episodes["therapist_id"].nunique() if "therapist_id" in episodes else 0
    text = f"The analysis used {counts['episodes']:,} client episodes"
    text += f" seen by {therapists:,} therapists" if therapists else ""
    if "intake_date" in episodes and episodes["intake_date"].notna().any():
        first, last = episodes["intake_date"].min(), episodes["intake_date"].max()
        text += f", with intake dates from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    text += f" (data fingerprint {recipe.data_fingerprint})."
    chosen = {k: v for k, v in recipe.filters.items() if v}
    if chosen:
        text += " Episodes were restricted by " + "; ".join(f"{k.replace('_', ' ')} {_listed(v)}" for k, v in chosen.items()) + "."
    return text


def _outcome(episodes, counts, recipe, export_date) -> str:
    export_text = f"{pd.Timestamp(export_date):%Y-%m-%d}" if export_date is not None else "the latest date in the data"
    settings = recipe.episodes
    measure = settings.outcome_measure or next(iter(episode_measures(episodes, settings)), None)
    text = _DEFINITIONS[settings.dropout_definition].format(
        window=settings.ongoing_window_days, early=settings.early_sessions, export=export_text,
        measure=settings.measures()[measure].label if measure else "", unscored=_unscored_leavers(episodes, measure))
    text += (f" Time was {_TIME[recipe.episodes.time_scale]}. There were {counts['dropouts']:,} dropouts, "
             f"{counts['completed']:,} completions and {counts['censored']:,} ongoing or censored episodes. "
             + _rate_sentence(episodes))
    return text


def _rate_sentence(episodes: pd.DataFrame) -> str:
    """The dropout rate with the dashboard's denominator (ended episodes) and wording."""
    h = headline(episodes)
    if not h.known:
        return "No episode had ended, so no dropout rate was computed."
    return (f"The dropout rate was {rate_text(h.rate, h.ci_lower, h.ci_upper)} of the {h.known:,} episodes that "
            f"ended in dropout or completion (Wilson interval), {benchmark_comparison(h.ci_lower, h.ci_upper)} "
            f"the published {percent(BENCHMARK['rate'], 1)} ({BENCHMARK['source']}).")


def _unscored_leavers(episodes: pd.DataFrame, measure: str | None) -> int:
    if measure is None or "ending" not in episodes:
        return 0
    return int((episodes["ending"].isin(LEFT) & episodes[f"{measure}_change"].isna()).sum())


def _measures(episodes: pd.DataFrame, settings) -> str:
    """The change rules and the thresholds of every measure the episodes carry, with their sources."""
    measures = settings.measures()
    text = ("Change on each outcome measure ran from the first to the last scored attended session (undefined "
            "with fewer than two scores). A reliable improvement or deterioration was a change of at least the "
            "measure's reliable-change threshold (a change exactly at the threshold counted); caseness was a score "
            "in the clinical range; recovery was caseness at the first score and not at the last (defined only "
            "for episodes at caseness first); reliable recovery was recovery with reliable improvement. Thresholds: ")
    text += "; ".join(
        f"{m.label}, {m.low:g}-{m.high:g}, {m.direction}, clinical range {m.caseness_rule}, reliable change "
        f"{m.reliable_change:g} points" + (f" ({m.source})" if m.source else "")
        for m in (measures[name] for name in episode_measures(episodes, settings))) + "."
    if "nhs_reliable_improvement" in episodes:
        text += (" With PHQ-9 and GAD-7 both scored, the NHS Talking Therapies paired rules applied (NHS Talking "
                 "Therapies Manual 2024): reliable improvement on at least one measure and reliable deterioration "
                 "on neither; reliable deterioration on at least one and reliable improvement on neither; recovery "
                 "for episodes at caseness on either measure at the first score, at caseness on neither at the "
                 "last; reliable recovery, both.")
    return text


def _analysis(results: dict, tables: dict, recipe) -> list[str]:
    out = []
    if "km" in results:
        group = f" by {recipe.km_group}" if recipe.km_group else ""
        out.append(f"Time to dropout{group} was estimated by Kaplan-Meier with log(-log) Greenwood 95% intervals; "
                   "completion and ongoing episodes were censored.")
    if "logrank" in results:
        out.append("Groups were compared with the log-rank test, overall and pairwise with Holm's correction.")
    if "cif" in results:
        out.append("Because completion competes with dropout, cumulative incidence of each was estimated by "
                   "Aalen-Johansen with exact handling of tied times.")
    if "rmst" in results:
        r = results["rmst"]
        out.append(f"The restricted mean time to dropout up to {r.tau:g} {recipe.episodes.time_scale} (the area under "
                   "the Kaplan-Meier curve; standard error as R's survfit rmean) was compared between groups by its "
                   "difference and ratio (log scale) with 95% intervals.")
    if "cox" in results:
        r = results["cox"]
        cluster = f", with standard errors clustered by {recipe.cluster}" if recipe.cluster else ""
        strata = f", stratified by {_listed(recipe.strata)}" if recipe.strata else ""
        out.append(f"A Cox proportional hazards model (Efron ties{cluster}{strata}) included {_listed(recipe.covariates)}; "
                   f"{_model_sizes(r)}" + _stat(r, "concordance", "Harrell's concordance") +
                   " Proportional hazards were checked with scaled Schoenfeld residuals" + _global_ph(tables) + ".")
    if "finegray" in results:
        cluster = (f"; standard errors summed the clients' influence terms within {recipe.cluster} clusters"
                   if recipe.cluster else "")
        out.append("Beside the cause-specific Cox model (the dropout rate among clients still in therapy), a "
                   "Fine-Gray subdistribution hazard model (Breslow ties, censoring weights from the Kaplan-Meier "
                   "curve of the censoring times, the sandwich variance of cmprsk::crr" + cluster + ") related the "
                   "same covariates to the cumulative incidence of dropout, with completion as the competing event.")
    if "logistic" in results:
        r = results["logistic"]
        out.append(f"Logistic regression of dropout versus completion (episodes with a known outcome) included the "
                   f"covariates ({_listed(recipe.covariates)}); {_model_sizes(r)}" + _stat(r, "auc", "The area under the ROC curve"))
    if recipe.splines:
        out.append("Nonlinear associations were modelled with natural cubic splines (R's ns(): interior knots at "
                   "quantiles, boundary knots at the range) for " + "; ".join(
                       f"{k} ({v} degrees of freedom)" for k, v in recipe.splines.items())
                   + ", shown as partial effects against the median.")
    if recipe.reference_levels:
        out.append("Reference levels: " + "; ".join(f"{k} = {v}" for k, v in recipe.reference_levels.items()) + ".")
    if "therapists" in results:
        out.append("Therapists' dropout rates were compared with the practice rate on a funnel plot with 95% and "
                   "99.8% binomial control limits and shrunken (empirical Bayes) rates, not ranked.")
    if "icc" in results:
        out.append("The share of dropout variance between therapists was the intraclass correlation of a "
                   "random-intercept logistic model on the latent scale (level-1 variance pi^2/3)"
                   + (f", adjusted for {_listed(recipe.covariates)}" if recipe.covariates else "") + _icc(tables) + ".")
    out.append("Covariates were analysed as complete cases; the number of episodes dropped is reported for each "
               "model, and fewer than 10 events per parameter is flagged.")
    if "imputed" in results:
        out.append(f"As a sensitivity analysis, missing numeric covariates were imputed {recipe.imputations} times by "
                   "chained equations with predictive mean matching (statsmodels MICEData; the imputation model "
                   "included the dropout indicator and the Nelson-Aalen cumulative hazard), and the Cox and logistic "
                   "models were pooled by Rubin's rules with Barnard-Rubin degrees of freedom.")
    return out


def _global_ph(tables: dict) -> str:
    ph = tables.get("ph_test")
    row = ph.loc[ph["term"] == "GLOBAL"] if ph is not None and "term" in ph else None
    return "" if row is None or row.empty else f" (global test p = {float(row['p'].iloc[0]):.3g})"


def _icc(tables: dict) -> str:
    icc = tables.get("icc")
    if icc is None or icc.empty or "icc" not in icc:
        return ""
    row = icc.iloc[0]
    return f": ICC = {row['icc']:.3f} (95% CI {row['ci_lower']:.3f} to {row['ci_upper']:.3f})"


def _model_sizes(result) -> str:
    get = lambda name: getattr(result, name, None)  # noqa: E731
    text = f"{get('n_used'):,} episodes were used ({get('n_left_out'):,} dropped for missing values), with {get('events'):,} dropouts"
    epp = get("events_per_parameter")
    return text + (f" ({epp:.1f} per parameter)." if epp is not None else ".")


def _stat(result, name: str, label: str) -> str:
    value = getattr(result, name, None)
    try:
        return f" {label} was {float(value):.3f}."
    except (TypeError, ValueError):
        return ""


def _software(recipe) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in recipe.versions.items() if v)
    return (f"Analyses were run with Alliance Lens in Python ({versions}). The recipe.json in this bundle "
            "holds every setting and reproduces the tables with `python -m analytics report`.")


def _listed(values) -> str:
    if isinstance(values, str):
        return values
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
