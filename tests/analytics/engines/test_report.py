"""The engine report fits the Cox and logistic models inside the engine (the engine fits are
called, their tables equal the in-memory report's to 1e-9 relative), and fits in memory, saying
so, what the engine refuses (natural splines)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analytics.engines import cox, logistic, open_engine
from analytics.engines.ingest import load_tables
from analytics.ingest.load import load_caseload
from analytics.output.report import assemble, assemble_in_engine
from analytics.recipe import Recipe
from tests.analytics.engines.compare import assert_same_table
from tests.analytics.test_cli import RECIPE, SAMPLE
from tests.paths import EHR, LINKS

MEMORY_NOTE = "was fitted in memory on the collected episodes: inside an engine it has no natural splines (splines)."


def _bundles(monkeypatch, recipe: Recipe):
    """The in-memory and the DuckDB bundle of the sample data, and the engine fits called."""
    called = []
    for module, name in ((cox, "fit_cox"), (logistic, "fit_logistic")):
        def spy(*args, _real=getattr(module, name), _name=name, **kwargs):
            called.append(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(module, name, spy)
    memory = assemble(load_caseload({t: str(p) for t, p in SAMPLE.items()}), recipe, render_figures=False)
    engine = open_engine("duckdb")
    try:
        ingest = load_tables(engine, {t: str(p) for t, p in SAMPLE.items()})
        inside = assemble_in_engine(engine, ingest, recipe, render_figures=False)
    finally:
        engine.close()
    return memory, inside, called


def _table(bundle, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(bundle.files[f"tables/{name}.csv"]))


def _warnings(bundle, name: str) -> list[str]:
    return next(s.warnings for s in bundle.sections if s.name == name)


def test_cox_and_logistic_are_fitted_inside_the_engine(monkeypatch):
    recipe = Recipe.from_dict({**RECIPE, "dropout_definition": "unilateral_unimproved"})
    memory, inside, called = _bundles(monkeypatch, recipe)
    assert sorted(called) == ["fit_cox", "fit_logistic"]
    for name in ("cox", "logistic", "ph_test"):
        pd.testing.assert_frame_equal(_table(inside, name), _table(memory, name), check_exact=False, rtol=1e-9)
    cox_section = next(s for s in inside.sections if s.name == "cox")
    assert cox_section.result.model.risk_sets is None  # the rows stayed in the engine
    for name in ("cox", "logistic"):
        assert _warnings(inside, name) == _warnings(memory, name)


def test_what_the_engine_refuses_is_fitted_in_memory_with_a_note(monkeypatch):
    recipe = Recipe.from_dict({**RECIPE, "dropout_definition": "unilateral_unimproved", "splines": {"age": 3}})
    memory, inside, called = _bundles(monkeypatch, recipe)
    assert called == []
    for name in ("cox", "logistic"):
        pd.testing.assert_frame_equal(_table(inside, name), _table(memory, name), check_exact=False, rtol=1e-9)
        model = "Cox model" if name == "cox" else "logistic model"
        assert _warnings(inside, name) == [f"The {model} {MEMORY_NOTE}", *_warnings(memory, name)]


CLIENTS_ONLY = {t: str(p) for t, p in SAMPLE.items() if t != "sessions"}


@pytest.mark.parametrize("sources, settings, found", [
    (EHR, {"dropout_definition": "early"}, "seen by more than one therapist ('C104')"),
    (LINKS, {"dropout_definition": "early"}, "missing from the clients file ('X01'"),
    (CLIENTS_ONLY, {**RECIPE, "dropout_definition": "therapist_judged"}, "There are no dropouts among the 0 episodes"),
    (SAMPLE, {**RECIPE, "km_group": "room"}, "There is no column 'room' to group by"),
], ids=["ehr export", "links", "clients without durations", "a group the episodes lack"])
def test_the_engine_report_gives_the_in_memory_warnings_and_tables(sources, settings, found):
    """A practice-system export with problems to report (an unreadable date, a repeat, a client seen
    by two therapists), files that do not match one another, a clients file without durations
    (no episode a model can use), and a recipe grouping the curves by a column the episodes lack
    (the engine's count stopped the whole report with a ValueError)."""
    recipe = Recipe.from_dict(settings)
    memory = assemble(load_caseload(sources), recipe, render_figures=False)
    engine = open_engine("duckdb")
    try:
        inside = assemble_in_engine(engine, load_tables(engine, sources), recipe, render_figures=False)
    finally:
        engine.close()
    assert inside.warnings == memory.warnings
    assert any(found in w for w in memory.warnings)
    tables = sorted(name for name in memory.files if name.startswith("tables/"))
    assert tables == sorted(name for name in inside.files if name.startswith("tables/"))
    for name in tables:
        assert_same_table(inside.files[name], memory.files[name])
