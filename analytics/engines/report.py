"""The report's inputs from an engine: the recipe's episodes (derived and filtered inside it), the
counts behind the curves, the Cox and logistic fits inside it, and what the bundle states about
the data (fingerprint, export date)."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

import pandas as pd

from analytics.engines import cox, logistic
from analytics.engines.counts import filtered_view, survival_tally
from analytics.engines.rules import CaseloadFacts, stored_episodes
from analytics.engines.terms import in_memory_only
from analytics.models import regression
from analytics.survival import cox as memory_cox
from analytics.survival.curves import Tally


@dataclass
class EngineEpisodes:
    """`episodes` in client order, as analytics.output.report.analysis_episodes gives them; `counts`
    by the recipe's km_group, time and event, summed inside the engine (None when the episodes
    have no such column: the curves then stop on the episodes with the in-memory warning); `fits`
    the Cox and logistic fits on the episodes inside the engine (analytics.output.report.run_sections)."""

    episodes: pd.DataFrame
    counts: Tally | None
    fits: dict
    fingerprint: str
    export_date: pd.Timestamp | None


def engine_episodes(engine, ingest, recipe) -> EngineEpisodes:
    """Derive, filter, count and collect the recipe's episodes in `engine` after `load_tables`."""
    if not ingest.ready:
        errors = [p.as_text() for p in ingest.problems if p.blocking]
        raise ValueError(errors[0] if errors else "The data could not be loaded.")
    facts = CaseloadFacts.read(engine, recipe.episodes, ingest.export_date)
    view = stored_episodes(engine, facts, recipe.episodes)
    kept = filtered_view(engine, view, **recipe.filter_kwargs())
    grouped = recipe.km_group is None or recipe.km_group in engine.columns(kept)
    counts = survival_tally(engine, kept, recipe.km_group) if grouped else None  # None: the curves say why, as in memory
    episodes = engine.collect(kept).sort_values("client_id", kind="stable").reset_index(drop=True)
    fits = {"cox": _in_engine(engine, kept, cox.fit_cox, memory_cox.fit_cox, "Cox model"),
            "logistic": _in_engine(engine, kept, logistic.fit_logistic, regression.fit_logistic, "logistic model")}
    return EngineEpisodes(_canonical_types(episodes), counts, fits, fingerprint(ingest.files, engine),
                          facts.export_date)


def _in_engine(engine, view: str, engine_fit, memory_fit, model: str):
    """A fit with the in-memory fit's arguments that runs on `view` inside `engine` (only sums come
    back); what the engine refuses (natural splines, delayed entry, case weights) is fitted in
    memory on the collected episodes, and the model's warnings say so."""
    def fit(episodes, *args, **kwargs):
        given = in_memory_only(**{k: kwargs.get(k) for k in ("splines", "entry", "weights")})
        if not given:
            return engine_fit(engine, view, *args, **kwargs)
        result = memory_fit(episodes, *args, **kwargs)
        result.warnings = [f"The {model} was fitted in memory on the collected episodes: inside an engine it has "
                           f"no {' or '.join(given)}.", *result.warnings]
        return result
    return fit


def _canonical_types(episodes: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime64[ns] and missing text as None, the types the in-memory path has."""
    for column in episodes.columns:
        series = episodes[column]
        known = series.dropna()
        if pd.api.types.is_datetime64_any_dtype(series) or (
                series.dtype == object and len(known) and isinstance(known.iloc[0], datetime.date)):
            episodes[column] = pd.to_datetime(series).astype("datetime64[ns]")
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            episodes[column] = series.astype(object).where(series.notna(), None)
    return episodes


def fingerprint(files: dict[str, str], engine) -> str:
    """A short hash of the tables' sources (file names, rows kept): the engine never holds the
    data in Python to hash it as the in-memory caseload does."""
    digest = hashlib.sha256()
    for table in sorted(files):
        rows = engine.scalar(f"SELECT COUNT(*) FROM {table}") if engine.has(table) else 0
        digest.update(f"{table}:{files[table]}:{rows};".encode())
    return digest.hexdigest()[:16]
