"""Spark in local mode runs the same SQL (transpiled by sqlglot) and gives the in-memory report, table
for table, on a small synthetic caseload. The session is shared (conftest.py)."""

from __future__ import annotations

import contextlib
import os
import tempfile

import pandas as pd
import pytest

from analytics.engines import open_engine
from analytics.engines.engine import SparkEngine
from analytics.engines.ingest import load_tables
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_caseload
from analytics.output.report import assemble, assemble_in_engine
from analytics.recipe import Recipe
from analytics.synth import generate_caseload
from tests.analytics.engines.compare import assert_same_episodes, assert_same_table, collected
from tests.analytics.engines.test_ingest import (
    EU,
    ZONES,
    _appointments,
    check_empty_lines,
    check_header_names,
    check_partitioned_folder,
    check_spreadsheet_rows,
    check_zoned_dates,
)
from tests.paths import LINKS

RECIPE = {"km_group": "site", "covariates": ["age", "court_mandated", "env_privacy"],
          "dropout_definition": "unilateral"}


@contextlib.contextmanager
def engine_on(session):
    """An engine on `session`, closed after use (its views dropped, its copies of files removed)."""
    engine = open_engine("spark", session=session)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def spark(spark_session):
    """An engine per test on the shared session (an engine holds one import)."""
    with engine_on(spark_session) as engine:
        yield engine


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark_caseload")
    synthetic = generate_caseload(n_clients=150, n_therapists=6, n_sites=3, seed=11)
    paths = {}
    for table in ("sessions", "clients", "therapists"):
        paths[table] = str(folder / f"{table}.csv")
        getattr(synthetic, table).to_csv(paths[table], index=False)
    return paths


def test_spark_report_tables_equal_the_in_memory_report(spark, files):
    recipe = Recipe.from_dict(RECIPE)
    expected = assemble(load_caseload(files), recipe, render_figures=False)
    ingest = load_tables(spark, files)
    assert ingest.problems == load_caseload(files).problems
    ours = assemble_in_engine(spark, ingest, recipe, render_figures=False)
    tables = sorted(name for name in expected.files if name.startswith("tables/"))
    assert tables == sorted(name for name in ours.files if name.startswith("tables/"))
    assert "tables/km.csv" in tables and "tables/logrank.csv" in tables and "tables/cif.csv" in tables
    for name in tables:
        assert_same_table(ours.files[name], expected.files[name])


def test_spark_checks_the_links_between_files_as_in_memory(spark):
    assert load_tables(spark, LINKS).problems == load_caseload(LINKS).problems


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spark_numbers_a_datasets_rows_as_one_file(spark, tmp_path, fmt):
    """Problems name spreadsheet rows counted across a dataset's files in name order, though Spark
    reads the larger file first and numbers rows only within a partition: a missing client id in
    the first file and a score off its scale in the second give the in-memory rows of one file."""
    sessions = generate_caseload(n_clients=40, n_therapists=3, n_sites=1, seed=3).sessions.copy()
    sessions["date"] = pd.to_datetime(sessions["date"]).dt.date  # Spark reads no nanosecond timestamps
    sessions.loc[4, "client_id"] = None
    sessions.loc[len(sessions) - 2, "srs"] = 55.0
    write = {"parquet": pd.DataFrame.to_parquet, "csv": pd.DataFrame.to_csv}[fmt]
    write(sessions, tmp_path / f"sessions.{fmt}", index=False)
    (tmp_path / "parts").mkdir()
    write(sessions.iloc[:10], tmp_path / "parts" / f"part-0.{fmt}", index=False)
    write(sessions.iloc[10:], tmp_path / "parts" / f"part-1.{fmt}", index=False)
    expected = load_caseload({"sessions": str(tmp_path / f"sessions.{fmt}")}).problems
    found = load_tables(spark, {"sessions": str(tmp_path / "parts" / f"*.{fmt}")}).problems
    assert [p.rows for p in found] == [p.rows for p in expected] == [[6], [len(sessions)]]


def test_spark_reads_a_windows_export_as_in_memory_and_refuses_title_rows(spark, tmp_path):
    """cp1252 with semicolons is read in the reader's encoding and delimiter; rows of title above
    the column names, which Spark cannot skip, stop the import with what to do."""
    expected = load_caseload(EU)
    found = load_tables(spark, EU)
    assert found.problems == expected.problems
    assert_same_episodes(spark.collect("sessions"), expected.caseload.sessions)
    titled = tmp_path / "sessions.csv"
    titled.write_text("Caseload report\n\nclient_id,date,status\nC1,2024-01-02,attended\n")
    with engine_on(spark.spark) as other:
        stopped = load_tables(other, {"sessions": str(titled)})
    assert not stopped.ready
    assert [(p.file, p.message, p.fix) for p in stopped.problems[:1]] == [(
        "sessions.csv", "The file could not be read: 2 row(s) of title or notes stand above the column names, and "
        "Spark reads the names from the first row", "Remove those rows from the file, or run with --engine duckdb.")]


def test_spark_episodes_equal_the_in_memory_episodes(spark, files):
    caseload = load_caseload(files).caseload
    for table in ("sessions", "clients", "therapists"):
        spark.register(table, getattr(caseload, table))
    settings = EpisodeSettings("unilateral_unimproved", time_scale="days")
    assert_same_episodes(collected(spark, spark.episodes(settings, caseload.export_date)),
                         derive_episodes(caseload, settings))


def test_spark_reads_quoted_line_ends_and_short_rows_as_in_memory_and_refuses_long_ones(spark, tmp_path):
    """A quoted value spanning lines (Spark split it into two rows) and a row with fewer fields are
    read as in memory; rows with more fields than the header, which Spark kept with the surplus
    dropped, stop the import with what to do (pandas skips them; Spark cannot say which line)."""
    sources = _appointments(tmp_path, {4: '"C4",T1,2024-01-10,"no\nshow"', 7: "C3,T2,2024-01-09"}, n=200)
    found = load_tables(spark, sources)
    expected = load_caseload(sources)
    assert found.problems == expected.problems
    assert_same_episodes(spark.collect("sessions"), expected.caseload.sessions)
    ragged = _appointments(tmp_path, {9: "C5,T1,2024-01-11,attended,extra", 20: "C5,T1,2024-01-12,attended,,x"},
                           n=200, name="ragged.csv")
    with engine_on(spark.spark) as other:
        stopped = load_tables(other, ragged)
    assert not stopped.ready
    assert stopped.problems[0].as_text() == (
        "ragged.csv: The file could not be read: 2 row(s) have more fields than the header, and Spark cannot skip "
        "them as the in-memory import does. Remove the stray delimiters from those rows, or run with --engine duckdb.")


def test_a_table_spark_cannot_find_is_a_problem_naming_it(spark):
    """Before: Spark's AnalysisException with its plan reached the user."""
    found = load_tables(spark, {"sessions": "research.sessions"})
    assert not found.ready
    assert found.problems[0].as_text().startswith(
        "research.sessions: The table could not be read: Spark could not read it ([TABLE_OR_VIEW_NOT_FOUND] ")
    assert found.problems[0].fix == "Check the table's name (database.table) and that this Spark session can see it."


def test_a_session_started_here_keeps_its_warehouse_in_the_engines_scratch_folder(spark_session):
    """Before: Spark made an empty spark-warehouse/ in the working directory of every local run."""
    warehouse = spark_session.conf.get("spark.sql.warehouse.dir")
    assert "/alliance-spark-" in warehouse and warehouse.endswith("/warehouse")
    assert os.getcwd() not in warehouse


def test_a_session_that_cannot_start_leaves_no_scratch_folder(monkeypatch, tmp_path):
    from pyspark.sql import SparkSession

    def no_java(builder):
        raise RuntimeError("Java gateway process exited")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", no_java)
    with pytest.raises(RuntimeError, match="Java gateway"):
        SparkEngine(master="local[2]")
    assert list(tmp_path.iterdir()) == []


def test_spark_leaves_out_blank_separator_and_totals_rows_as_in_memory(spark, tmp_path):
    check_spreadsheet_rows(spark, tmp_path, 199)


def test_spark_reads_a_name_used_twice_and_columns_without_a_name_as_in_memory(spark, tmp_path):
    check_header_names(spark, tmp_path)


def test_spark_numbers_says_and_leaves_out_empty_lines_as_in_memory(spark, tmp_path):
    check_empty_lines(spark, tmp_path)


def test_spark_reads_a_partitioned_folder_as_in_memory_and_leaves_the_sessions_inference_as_it_was(spark, tmp_path):
    """The partition values come as text (type inference off while the files are listed: the
    therapist "007" stays "007"); the session's own setting is what it was before."""
    inference = "spark.sql.sources.partitionColumnTypeInference.enabled"
    before = spark.spark.conf.get(inference)
    check_partitioned_folder(spark, tmp_path)
    assert spark.spark.conf.get(inference) == before


@pytest.mark.parametrize("zone", ZONES)
def test_spark_dates_a_stored_instant_in_its_files_zone_as_in_memory(spark, tmp_path, zone):
    check_zoned_dates(spark, tmp_path, zone)
