"""`python -m analytics report --engine duckdb` writes the same tables as the in-memory path, from
CSV files, a Parquet glob and a folder of Parquet files, and says in one line when a glob matches
nothing or a folder holds no data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.analytics.engines.compare import assert_same_table
from tests.analytics.test_cli import RECIPE, SAMPLE, one_line_error, sample_args
from tests.command_line import run_cli


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    config = root / "recipe.json"
    config.write_text(json.dumps({**RECIPE, "dropout_definition": "unilateral_unimproved"}))
    parquet = root / "parts"
    parquet.mkdir()
    sessions = pd.read_csv(SAMPLE["sessions"], dtype=str)
    for part, rows in enumerate(range(0, len(sessions), 5000)):
        sessions.iloc[rows:rows + 5000].to_parquet(parquet / f"sessions_{part}.parquet", index=False)
    (parquet / "_SUCCESS").write_bytes(b"")  # as Spark leaves it beside the parts
    runs = {
        "pandas": sample_args(),
        "duckdb": ["--engine", "duckdb", *sample_args()],
        "duckdb_parquet": ["--engine", "duckdb", *sample_args(sessions=parquet / "sessions_*.parquet")],
        "duckdb_folder": ["--engine", "duckdb", *sample_args(sessions=parquet)],
    }
    out = {}
    for name, args in runs.items():
        done = run_cli("report", *args, "--config", config, "--out", root / name, "--no-figures")
        assert done.returncode == 0, done.stderr
        out[name] = root / name
    return out


@pytest.mark.parametrize("run", ["duckdb", "duckdb_parquet", "duckdb_folder"])
def test_engine_tables_equal_the_in_memory_tables(bundles, run):
    expected = sorted(p.name for p in (bundles["pandas"] / "tables").glob("*.csv"))
    assert sorted(p.name for p in (bundles[run] / "tables").glob("*.csv")) == expected
    assert {"km.csv", "logrank.csv", "cif.csv", "cox.csv", "episodes.csv"} <= set(expected)
    for name in expected:
        assert_same_table((bundles[run] / "tables" / name).read_bytes(), (bundles["pandas"] / "tables" / name).read_bytes())


def test_a_glob_that_matches_nothing_is_one_line(tmp_path):
    line = one_line_error(run_cli("report", "--engine", "duckdb", "--sessions", tmp_path / "none_*.parquet",
                                  "--out", tmp_path / "o"))
    assert "none_*.parquet" in line and "--sessions" in line


def test_a_folder_is_one_line_for_the_in_memory_path_and_for_an_engine_when_it_holds_no_data(tmp_path):
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "_SUCCESS").write_bytes(b"")
    line = one_line_error(run_cli("report", "--sessions", tmp_path / "sessions", "--out", tmp_path / "o"))
    assert line.startswith(f"error: {tmp_path / 'sessions'}: a folder") and "report --engine duckdb" in line
    line = one_line_error(run_cli("report", "--engine", "duckdb", "--sessions", tmp_path / "sessions",
                                  "--out", tmp_path / "o"))
    assert "the folder holds no data files" in line and "Error" not in line


@pytest.mark.parametrize("table", ["sessions", "clients"])
def test_unknown_values_stop_the_engine_import_as_they_stop_the_in_memory_one(tmp_path, table):
    """Two of ten appointments (20%, more than 5%) with an unknown status, or one client ending
    unknown, stop both imports with the same one-line message."""
    sessions = tmp_path / "sessions.csv"
    statuses = ["attended"] * 8 + ["Rescheduled", "Rescheduled"] if table == "sessions" else ["attended"] * 10
    sessions.write_text("client_id,therapist_id,date,status\n" + "".join(
        f"C{i % 3},T1,2024-01-{i + 1:02d},{status}\n" for i, status in enumerate(statuses)))
    files = {"sessions": sessions}
    if table == "clients":
        files["clients"] = tmp_path / "clients.csv"
        files["clients"].write_text("client_id,therapist_id,intake_date,termination\n"
                                    "C0,T1,2024-01-01,completed\nC1,T1,2024-01-02,Zebra\nC2,T1,2024-01-03,dropout\n")
    args = [x for t, p in files.items() for x in (f"--{t}", p)]
    lines = {engine: one_line_error(run_cli("report", "--engine", engine, *args, "--out", tmp_path / engine))
             for engine in ("pandas", "duckdb")}
    assert "The import stops rather than" in lines["duckdb"]
    assert lines["duckdb"] == lines["pandas"]


def test_without_a_named_definition_the_engine_picks_the_first_the_data_support(tmp_path):
    """Appointments only (no endings, so the default therapist_judged cannot be derived): both
    paths use 'unilateral', say so, and write the same episodes."""
    done = {engine: run_cli("report", "--engine", engine, *sample_args(clients=None, therapists=None),
                            "--out", tmp_path / engine, "--no-figures") for engine in ("pandas", "duckdb")}
    for run in done.values():
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip().endswith("The data cannot support the 'therapist_judged' dropout definition, so "
                                           "'unilateral' was used (name one with dropout_definition in --config).")
    assert_same_table((tmp_path / "duckdb" / "tables" / "episodes.csv").read_bytes(),
                      (tmp_path / "pandas" / "tables" / "episodes.csv").read_bytes())


@pytest.mark.parametrize("limit, says, ends", [
    ("lots", "--memory-limit lots: write a size as a number and a unit", "e.g. --memory-limit 8GB or 512MB."),
    ("80%", "--memory-limit 80%: write a size", "e.g. --memory-limit 8GB or 512MB."),
    ("10MB", "DuckDB needed more memory than --memory-limit 10MB allows",
     "give it more with --memory-limit (e.g. 4GB), or run on a machine with more memory."),
])
def test_a_memory_limit_duckdb_cannot_use_is_one_line_saying_what_to_give(tmp_path, limit, says, ends):
    """A size DuckDB cannot read, and one too small for the sample, each stop with what to give
    instead, not DuckDB's parser or out-of-memory exception."""
    line = one_line_error(run_cli("report", "--engine", "duckdb", "--memory-limit", limit, *sample_args(),
                                  "--out", tmp_path / "o", "--no-figures"))
    assert line.startswith(f"error: {says}")
    assert "Exception" not in line and line.endswith(ends)


def test_a_spark_master_spark_cannot_take_is_one_line(tmp_path):
    """Before: the JVM's stack trace and "[JAVA_GATEWAY_EXITED] Java gateway process exited"."""
    line = one_line_error(run_cli("report", "--engine", "spark", "--spark-master", "nonsense://x", *sample_args(),
                                  "--out", tmp_path / "o"))
    assert line.startswith("error: --spark-master nonsense://x: give local[2] (this machine, 2 cores), spark://host:7077")
