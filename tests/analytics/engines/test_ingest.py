"""The mapping and the checks inside an engine give the in-memory import's tables and problems: on
the sample files (nothing to fix) and on a practice-system export with an unreadable date, an
unknown status, a score off its scale and a repeated appointment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.engines import open_engine
from analytics.engines.ingest import _number, _text, _trimmed, load_tables
from analytics.ingest.readers import NA_VALUES
from analytics.ingest.load import load_caseload
from analytics.synth import generate_caseload
from tests.analytics.engines.compare import assert_same_episodes
from tests.paths import ROOT

SAMPLE = {t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")}
EHR = {"sessions": str(ROOT / "tests/fixtures/ingest/ehr_appointments.csv"),
       "clients": str(ROOT / "tests/fixtures/ingest/ehr_clients.csv")}


@pytest.mark.parametrize("sources", [SAMPLE, EHR], ids=["sample", "ehr export"])
def test_engine_tables_and_problems_equal_the_in_memory_import(sources):
    expected = load_caseload(sources)
    engine = open_engine("duckdb")
    found = load_tables(engine, sources)
    for table in sources:
        ours = engine.collect(table)
        assert_same_episodes(ours, getattr(expected.caseload, table))
    # the in-memory import also checks the links between files (a client seen by two therapists)
    linked = [p for p in expected.problems if "more than one therapist" in p.message]
    assert [p.as_text() for p in found.problems] == [p.as_text() for p in expected.problems if p not in linked]
    assert found.ready and found.export_date is None


def test_the_ehr_export_problems_name_file_column_rows_and_fix():
    found = load_tables(open_engine("duckdb"), EHR)
    texts = [p.as_text() for p in found.problems]
    assert texts[0].startswith("ehr_appointments.csv, column 'Date of Service', row 14: 1 appointment with a date "
                               "that cannot be read as MM/DD/YYYY (e.g. '02/30/2024'); left out.")
    assert any("'Rescheduled' (1); left out" in t for t in texts)  # as the in-memory import counts each value
    assert any(t.startswith("ehr_appointments.csv, row 4: 1 appointment repeating an earlier row") for t in texts)


def test_a_file_without_a_required_column_is_an_error_naming_the_columns(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("who,when\nA,2024-01-01\n")
    found = load_tables(open_engine("duckdb"), {"sessions": str(path)})
    assert not found.ready
    assert found.problems[0].blocking
    assert "needs a client_id column" in found.problems[0].message


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_dataset_of_several_files_gives_the_in_memory_import_of_one_file(tmp_path, fmt):
    """Parquet: typed columns (dates, scores, 0/1 markers) read as stored; CSV: parsed into a table
    of text in file order. Row numbers are counted across the files of a dataset: a repeated
    appointment, a missing client id, a score off its scale and a NaN score give the problems, rows
    and kept rows of the in-memory import of the same rows as one file."""
    sessions = generate_caseload(n_clients=60, n_therapists=4, n_sites=2, seed=5).sessions.copy()
    sessions["date"] = pd.to_datetime(sessions["date"])
    sessions.loc[7, "client_id"] = None
    sessions.loc[11, "srs"] = 55.0
    sessions.loc[12, "srs"] = np.nan
    sessions = pd.concat([sessions, sessions.iloc[[20]], sessions.iloc[[3]]], ignore_index=True)
    write = {"parquet": pd.DataFrame.to_parquet, "csv": pd.DataFrame.to_csv}[fmt]
    whole = tmp_path / f"sessions.{fmt}"
    write(sessions, whole, index=False)
    (tmp_path / "parts").mkdir()
    half = len(sessions) // 2 + 1
    write(sessions.iloc[:half], tmp_path / "parts" / f"part-0.{fmt}", index=False)
    write(sessions.iloc[half:], tmp_path / "parts" / f"part-1.{fmt}", index=False)

    expected = load_caseload({"sessions": str(whole)})
    engine = open_engine("duckdb")
    found = load_tables(engine, {"sessions": str(tmp_path / "parts" / f"*.{fmt}")})
    assert engine.converts_once("raw_sessions") == (fmt == "csv")
    assert [p.as_text().replace(f"*.{fmt}", f"sessions.{fmt}") for p in found.problems] == \
        [p.as_text() for p in expected.problems]
    assert [p.rows for p in found.problems] == [[9], [13], [len(sessions), len(sessions) + 1]]  # row 1 is the header
    assert_same_episodes(engine.collect("sessions"), expected.caseload.sessions)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "Z", "7", "-", " ", "\t", "\u00a0", "\u3000", "\u2009", "é"]),
               max_size=6))
def test_an_id_is_trimmed_only_when_trimming_changes_it(text):
    """_trimmed skips TRIM for text with a printable ASCII character at both ends; it gives exactly
    NULLIF(TRIM(text), '') on any text, with spaces of every kind at either end."""
    engine = open_engine("duckdb")
    engine.register("ids", pd.DataFrame({"v": [text]}))
    fast, full = engine.collect(f"SELECT {_trimmed('v')} AS fast, NULLIF(TRIM(v), '') AS full FROM ids").iloc[0]
    assert fast == full or (fast is None and full is None)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(NA_VALUES),
                 st.text(alphabet=st.sampled_from(["1", "0", "9", ",", ".", "-", " ", "e", "a", "N"]), max_size=7)))
def test_text_and_numbers_equal_their_plain_sql(text):
    """_text compares the missing-value words one by one, _number tries the plain reading before
    the decimal comma: on any text each gives what the plain SQL gives (IN over the words; the
    comma pattern matched first)."""
    engine = open_engine("duckdb")
    engine.register("raw", pd.DataFrame({"v": [text]}))
    words = ", ".join("'" + w + "'" for w in NA_VALUES)
    plain_text = f"CASE WHEN v IN ({words}) THEN NULL ELSE v END"
    plain_number = ("TRY_CAST(CASE WHEN REGEXP_MATCHES(TRIM(v), '^-?[0-9]+,[0-9]{1,2}$') THEN REPLACE(TRIM(v), ',', '.') "
                    "ELSE TRIM(v) END AS DOUBLE)")
    row = engine.collect(f"SELECT {_text('v')} AS t, {plain_text} AS pt, {_number('v')} AS n, {plain_number} AS pn "
                         "FROM raw").iloc[0]
    assert row["t"] == row["pt"] or (row["t"] is None and row["pt"] is None)
    assert row["n"] == row["pn"] or (pd.isna(row["n"]) and pd.isna(row["pn"]))


def test_padded_ids_in_a_parquet_dataset_are_trimmed_as_in_memory(tmp_path):
    """A dataset whose stored ids need converting (padded) is converted at each read; one whose ids
    are already canonical is read as stored: both give the in-memory import's tables."""
    sessions = generate_caseload(n_clients=30, n_therapists=3, n_sites=1, seed=2).sessions.copy()
    sessions["date"] = pd.to_datetime(sessions["date"])
    sessions.to_parquet(tmp_path / "clean.parquet", index=False)
    sessions.loc[4, "client_id"] = f"  {sessions.loc[4, 'client_id']} "
    sessions.loc[9, "therapist_id"] = f"{sessions.loc[9, 'therapist_id']}\u00a0"
    sessions.to_parquet(tmp_path / "padded.parquet", index=False)
    for name in ("clean", "padded"):
        engine = open_engine("duckdb")
        load_tables(engine, {"sessions": str(tmp_path / f"{name}.parquet")})
        assert not engine.converts_once("raw_sessions")
        expected = load_caseload({"sessions": str(tmp_path / f"{name}.parquet")}).caseload.sessions
        assert_same_episodes(engine.collect("sessions"), expected)
        assert engine.collect("sessions")["client_id"].nunique() == 30
