"""The mapping and the checks inside an engine give the in-memory import's tables and problems: on
the sample files (nothing to fix) and on a practice-system export with an unreadable date, an
unknown status, a score off its scale and a repeated appointment."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics.engines import open_engine
from analytics.engines.ingest import _number, _text, _trimmed, load_tables
from analytics.ingest.readers import NA_VALUES
from analytics.ingest.load import load_caseload
from analytics.synth import generate_caseload
from tests.analytics.engines.compare import assert_same_episodes
from tests.paths import EHR, FIXTURES, LINKS, ROOT

SAMPLE = {t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")}


@pytest.mark.parametrize("sources", [SAMPLE, EHR], ids=["sample", "ehr export"])
def test_engine_tables_and_problems_equal_the_in_memory_import(sources):
    expected = load_caseload(sources)
    engine = open_engine("duckdb")
    found = load_tables(engine, sources)
    for table in sources:
        ours = engine.collect(table)
        assert_same_episodes(ours, getattr(expected.caseload, table))
    assert [p.as_text() for p in found.problems] == [p.as_text() for p in expected.problems]
    assert found.ready and found.export_date is None


def test_the_links_between_files_are_checked_in_the_engine_as_in_memory():
    found = load_tables(open_engine("duckdb"), LINKS)
    assert found.problems == load_caseload(LINKS).problems
    assert [p.as_text() for p in found.problems] == [
        "sessions.csv, column 'client_id', rows 32, 33, 34, 35, 36, 37, 38, 39, 40, 41 and 18 more: 28 appointments "
        "of 7 client(s) missing from the clients file ('X01', 'X02', 'X03', 'X04', 'X05' and 2 more); they are "
        "analysed without client details. Check that both files come from the same export and date range.",
        "clients.csv, column 'client_id', rows 12, 13, 14: 3 clients with no appointment in the sessions file; they "
        "count as episodes with no sessions. Check that the sessions export covers the same period as the clients file.",
        "sessions.csv, column 'therapist_id', row 30: 1 appointment with a therapist missing from the therapists file "
        "('T3'); their therapist details will be missing. Add these therapists to the therapists file, or check the "
        "ids match.",
        "clients.csv, column 'therapist_id', row 12: 1 client row with a therapist missing from the therapists file "
        "('T3'); their therapist details will be missing. Add these therapists to the therapists file, or check the "
        "ids match.",
        "sessions.csv, column 'therapist_id', rows 2, 3, 4, 5, 6, 7, 29, 30, 31: 3 client(s) were seen by more than "
        "one therapist ('C01', 'C02', 'C10'); each is assigned to the therapist who held most of their attended "
        "sessions (the earliest seen on a tie) unless the clients file names their therapist. Nothing to do if that "
        "is right; otherwise give these clients a therapist_id in the clients file."]


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


EU = {"sessions": str(FIXTURES / "eu_appointments_cp1252.csv")}  # cp1252, semicolons, decimal commas


def _with_title(folder) -> dict[str, str]:
    """The sample's first appointments under two rows of report title, tab-separated."""
    path = folder / "sessions.tsv"
    rows = pd.read_csv(SAMPLE["sessions"], dtype=str).head(40)
    rows.loc[3, "srs"] = "55"  # off its scale: a problem whose row number counts the title rows
    path.write_text("Caseload report\tprinted 2024-06-01\n\n" + rows.to_csv(sep="\t", index=False))
    return {"sessions": str(path)}


@pytest.mark.parametrize("layout", ["cp1252", "title rows"])
def test_a_text_file_is_read_as_the_in_memory_reader_reads_it(tmp_path, layout):
    """The encoding, delimiter and title rows the in-memory reader finds: a Windows export in cp1252
    with semicolons, and a tab-separated report with two rows above the column names."""
    sources = EU if layout == "cp1252" else _with_title(tmp_path)
    expected = load_caseload(sources)
    engine = open_engine("duckdb")
    found = load_tables(engine, sources)
    assert found.problems == expected.problems
    assert_same_episodes(engine.collect("sessions"), expected.caseload.sessions)
    if layout == "cp1252":
        assert set(engine.collect("sessions")["Site"]) == {"Genève", "Zürich"}
    else:
        assert found.problems[0].rows == [1, 2] and found.problems[1].rows == [7]


def test_an_engine_holds_one_import():
    """A second import into the same engine would read the first one's therapists (this one has
    none): it is refused with what to do."""
    engine = open_engine("duckdb")
    load_tables(engine, SAMPLE)
    with pytest.raises(ValueError, match=r"already holds an import \(sessions, clients, therapists\); open a new engine"):
        load_tables(engine, EHR)


@pytest.mark.parametrize("header", ["client_id,date,status", "who,when"])
def test_a_file_with_no_rows_stops_the_engine_import_as_in_memory(tmp_path, header):
    path = tmp_path / "sessions.csv"
    path.write_text(header + "\n")
    found = load_tables(open_engine("duckdb"), {"sessions": str(path)})
    assert found.problems == load_caseload({"sessions": str(path)}).problems
    assert not found.ready and not found.tables
    assert found.problems[0].message == "The file has column headers but no rows of data"
    assert found.problems[-1].message.startswith("There is nothing to analyse: sessions.csv has no rows of data")


@pytest.mark.parametrize("text", ["", "\n \n"])
def test_an_empty_file_stops_the_engine_import_as_in_memory(tmp_path, text):
    path = tmp_path / "sessions.csv"
    path.write_text(text)
    found = load_tables(open_engine("duckdb"), {"sessions": str(path)})
    assert found.problems == load_caseload({"sessions": str(path)}).problems
    assert found.problems[0].message == "The file is empty" and not found.ready


def _appointments(tmp_path, lines: dict[int, str], n: int = 3000, name: str = "sessions.csv") -> dict:
    """A sessions file of `n` appointments with the given data lines (by line number: the header
    is line 1) written as they are."""
    rows = ["client_id,therapist_id,date,status"] + [f"C{i % 400},T{i % 7},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},attended"
                                                     for i in range(n)]
    for line, text in lines.items():
        rows[line - 1] = text
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return {"sessions": str(path)}


@pytest.mark.parametrize("lines", [
    {3: "C1,T1,2024-01-08,attended,extra", 2500: "C2,T1,2024-02-08,attended,x,y"},
    {7: "C3,T2,2024-01-09"},
    {4: '"C4",T1,2024-01-10,"no\nshow"', 9: "C5,T1,2024-01-11,attended,extra"},
], ids=["too many fields", "too few fields", "quoted line end"])
def test_lines_with_more_or_fewer_fields_than_the_header_are_read_as_in_memory(tmp_path, lines):
    """pandas skips a line with more fields than the header and says so (the first line), and pads
    one with fewer; DuckDB's reader, left to itself, stopped on either with a parser exception."""
    sources = _appointments(tmp_path, lines)
    expected = load_caseload(sources)
    engine = open_engine("duckdb")
    found = load_tables(engine, sources)
    assert found.problems == expected.problems
    assert_same_episodes(engine.collect("sessions"), expected.caseload.sessions)
    skipped = [p for p in found.problems if "more comma-separated fields than the header" in p.message]
    assert [p.rows for p in skipped] == ([[3]] if 3 in lines else [[9]] if 9 in lines else [])


def test_a_short_line_in_a_file_with_quotes_is_left_out_and_said(tmp_path):
    """Where a quoted value may span lines DuckDB cannot pad a short line (see DuckDBEngine), so it
    is left out and named, where pandas pads it; nothing else differs."""
    sources = _appointments(tmp_path, {5: '"C9",T1,2024-01-10,attended', 8: "C3,T2,2024-01-09", 40: "C3,T2,2024-01-19"})
    found = load_tables(open_engine("duckdb"), sources)
    assert [p.as_text() for p in found.problems if "fewer fields" in p.message] == [
        "sessions.csv, row 8: 2 line(s) have fewer fields than the header (the first at line 8); they were left out. "
        "Check those lines in the file for a missing delimiter, or export the table again."]
    assert found.ready


@pytest.mark.parametrize("damage", ["unclosed quote", "cut Parquet", "binary", "header cut", "FHIR", "Excel"])
def test_a_file_the_engine_cannot_read_stops_the_import_with_a_problem_not_an_exception(tmp_path, damage):
    """Before, DuckDB's exception reached the user ("InvalidInputException: ... No magic bytes
    found"); an unclosed quote made DuckDB drop the rest of the file with one rejected line."""
    if damage == "unclosed quote":
        sources = _appointments(tmp_path, {1501: 'C1500,T1,2024-01-05,"attended'})
        says = "The file could not be read: DuckDB's reader stopped at line 1,501 (unquoted value)"
    elif damage == "cut Parquet":
        path = tmp_path / "sessions.parquet"
        pd.read_csv(SAMPLE["sessions"]).to_parquet(path)
        path.write_bytes(path.read_bytes()[:5000])
        sources = {"sessions": str(path)}
        says = "The file could not be read: DuckDB could not read it (Invalid Input Error: No magic bytes found"
    elif damage == "binary":
        (tmp_path / "sessions.csv").write_bytes(b"\x00\x01\x02binary")
        sources = {"sessions": str(tmp_path / "sessions.csv")}
        says = "The file could not be read: it is not a text table (it holds binary data)"
    elif damage == "header cut":
        (tmp_path / "sessions.csv").write_text('client_id,therapist_id,date,status\nC1,T1,2024-01-01,"attended\n')
        sources = {"sessions": str(tmp_path / "sessions.csv")}
        says = "The file could not be read: its text could not be parsed"
    elif damage == "FHIR":  # before: read as a CSV whose columns were pieces of JSON
        (tmp_path / "Appointment.ndjson").write_text('{"resourceType": "Appointment", "id": "a1", "status": "booked"}\n')
        sources = {"sessions": str(tmp_path / "Appointment.ndjson")}
        says = "The file could not be read: it is a JSON (FHIR) file, which only the in-memory import reads"
    else:
        pd.read_csv(SAMPLE["sessions"]).head(20).to_excel(tmp_path / "sessions.xlsx", index=False)
        sources = {"sessions": str(tmp_path / "sessions.xlsx")}
        says = "The file could not be read: it is an Excel workbook, which only the in-memory import reads"
    found = load_tables(open_engine("duckdb"), sources)
    assert not found.ready and found.problems[0].blocking
    assert found.problems[0].file == Path(sources["sessions"]).name
    assert found.problems[0].message.startswith(says)
    if damage in ("binary", "header cut", "cut Parquet"):  # nothing was read: said as in memory
        assert found.problems[-1].message == load_caseload(sources).problems[-1].message


def test_csv_files_with_other_columns_are_read_side_by_side_in_file_order(tmp_path):
    """A dataset whose second file names its columns in another order (and adds one) is read by
    name, its rows after the first file's, as one file holding both would be."""
    (tmp_path / "parts").mkdir()
    first = _appointments(tmp_path / "parts", {}, n=2000, name="part-0.csv")
    second = pd.read_csv(_appointments(tmp_path, {}, n=1500, name="other.csv")["sessions"]).iloc[:, ::-1]
    second["room"] = "A"
    second.to_csv(tmp_path / "parts" / "part-1.csv", index=False)
    whole = pd.concat([pd.read_csv(first["sessions"]), second], ignore_index=True)
    whole.to_csv(tmp_path / "sessions.csv", index=False)
    expected = load_caseload({"sessions": str(tmp_path / "sessions.csv")})
    engine = open_engine("duckdb")
    found = load_tables(engine, {"sessions": str(tmp_path / "parts" / "*.csv")})
    assert [p.as_text().replace("*.csv", "sessions.csv") for p in found.problems] == \
        [p.as_text() for p in expected.problems]
    assert_same_episodes(engine.collect("sessions"), expected.caseload.sessions)


@st.composite
def linked_files(draw):
    """Appointments, clients and therapists drawn from overlapping ids: clients one file lacks,
    therapists the therapists file lacks, clients with several therapists or none."""
    clients, therapists = [f"C{i}" for i in range(12)], ["T1", "T2", "T3", "T4"]
    sessions = pd.DataFrame(draw(st.lists(st.fixed_dictionaries({
        "client_id": st.sampled_from(clients[:10]), "therapist_id": st.one_of(st.none(), st.sampled_from(therapists)),
        "day": st.integers(0, 90)}), min_size=1, max_size=40)))
    sessions["date"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(sessions.pop("day"), unit="D")).dt.date
    sessions["status"] = "attended"
    kept = draw(st.lists(st.sampled_from(clients), unique=True, min_size=1))
    client_rows = pd.DataFrame({"client_id": kept, "therapist_id": draw(st.lists(
        st.one_of(st.none(), st.sampled_from(therapists)), min_size=len(kept), max_size=len(kept)))})
    known = pd.DataFrame({"therapist_id": draw(st.lists(st.sampled_from(therapists), unique=True, min_size=1))})
    return {"sessions": sessions, "clients": client_rows, "therapists": known}


@settings(max_examples=30, deadline=None)
@given(linked_files())
def test_the_links_between_files_equal_the_in_memory_checks_on_any_files(tmp_path_factory, tables):
    """The links are checked twice (analytics.ingest.validate in memory, analytics.engines.links in
    SQL): on any drawn files both give the same problems, rows and ids."""
    folder = tmp_path_factory.mktemp("links")
    files = {}
    for table, frame in tables.items():
        files[table] = str(folder / f"{table}.csv")
        frame.to_csv(files[table], index=False)
    assert load_tables(open_engine("duckdb"), files).problems == load_caseload(files).problems


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
    assert engine.converts_once("read_sessions") == (fmt == "csv")
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
        assert not engine.converts_once("read_sessions")
        expected = load_caseload({"sessions": str(tmp_path / f"{name}.parquet")}).caseload.sessions
        assert_same_episodes(engine.collect("sessions"), expected)
        assert engine.collect("sessions")["client_id"].nunique() == 30


@pytest.mark.parametrize("case", ["export date before every appointment", "no client has an id"])
def test_a_file_with_no_usable_row_names_the_causes_as_in_memory(tmp_path, case):
    """"None of the 18,473 rows of this file can be used (because of: column 'date')": the engine
    left out the cause, checked the links of a table it could not use (1,500 clients "with no
    appointment") and did not say there was nothing to analyse."""
    if case == "no client has an id":
        clients = pd.read_csv(SAMPLE["clients"]).assign(client_id="")
        clients.to_csv(tmp_path / "clients.csv", index=False)
        sources, options = {"clients": str(tmp_path / "clients.csv")}, {}
        cause = "column 'client_id'"
    else:
        sources, options, cause = SAMPLE, {"export_date": "2000-01-01"}, "column 'date'"
    expected = load_caseload(sources, **options).problems
    found = load_tables(open_engine("duckdb"), sources, **options).problems
    assert found == expected
    assert any(p.message.endswith(f"rows of this file can be used (because of: {cause})") for p in found)


def check_spreadsheet_rows(engine, tmp_path, n: int) -> None:
    """`n` appointments with two blank rows between them, a "Grand total:" row, a "Sum" row and a
    blank last row: the engine's problems, rows and kept appointments are the in-memory ones."""
    sources = _appointments(tmp_path, {10: ",,,", 11: "NA,,,", 150: "Grand total:,,,", n: ",,,Sum", n + 1: ",,,"}, n=n)
    expected = load_caseload(sources)
    found = load_tables(engine, sources)
    assert found.problems == expected.problems
    assert [(p.message, p.rows) for p in found.problems[:2]] == [
        ("2 blank separator row(s) between the data were left out", [10, 11]),
        ("2 row(s) are totals or subtotals, not data; left out", [150, n])]
    assert_same_episodes(engine.collect("sessions"), expected.caseload.sessions)


def check_header_names(engine, tmp_path) -> None:
    """A header naming 'status' twice, a column with values but no name and a trailing delimiter
    (an empty column without a name): the in-memory problems, and the columns it keeps."""
    header = "client_id,therapist_id,date,status,status,,notes,"
    lines = {1: header, 5: "C4,T4,2024-05-05,attended,,room 2,,", 6: "C5,T5,2024-06-06,attended,,,,"}
    sources = _appointments(tmp_path, lines, n=40)
    expected = load_caseload(sources)
    found = load_tables(engine, sources)
    assert found.problems == expected.problems
    assert [(p.column, p.message) for p in found.problems[:2]] == [
        ("status", "The column name 'status' appears 2 times (columns D, E); later copies are read as 'status.1', "
                   "'status.2' and so on"),
        ("Unnamed: 5", "This column has values but no name in the header row")]
    assert engine.columns("raw_sessions") == ["client_id", "therapist_id", "date", "status", "status.1", "Unnamed: 5",
                                              "notes"]


def test_a_name_used_twice_and_columns_without_a_name_are_read_as_in_memory(tmp_path):
    """The engine gave neither warning and kept the empty column the trailing delimiter makes."""
    check_header_names(open_engine("duckdb"), tmp_path)


def check_empty_lines(engine, tmp_path) -> None:
    """Empty lines right after the header, between the data (CRLF and LF) and at the end, and one
    inside a quoted value (which is data), in a dataset of two files: the rows after them are
    numbered, and the empty lines said and left out, as the in-memory import of the same lines as
    one file numbers and says them. A missing client id and an unknown status mark rows to compare;
    the empty line at the end is left out unsaid."""
    header = "client_id,therapist_id,date,status"
    rows = [f"C{i % 9},T{i % 3},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},attended" for i in range(30)]
    rows[12], rows[25] = ",T1,2024-03-03,attended", "C5,T1,2024-04-04,bogus"
    first = "\n".join([header, "", *rows[:5], "", "", *rows[5:10], "", ""])
    second = "\r\n".join([*rows[10:20], 'C7,T2,2024-05-05,"Attended\r\n\r\nlate"', *rows[20:], "", ""])
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "part-0.csv").write_bytes(first.encode())
    (tmp_path / "parts" / "part-1.csv").write_bytes((header + "\r\n" + second).encode())
    (tmp_path / "sessions.csv").write_bytes((first + second).encode())
    expected = load_caseload({"sessions": str(tmp_path / "sessions.csv")})
    found = load_tables(engine, {"sessions": str(tmp_path / "parts" / "*.csv")})
    assert [p.as_text().replace("*.csv", "sessions.csv") for p in found.problems] == \
        [p.as_text() for p in expected.problems]
    assert [(p.message.split(" (")[0].split(":")[0], p.rows) for p in found.problems] == [
        ("4 blank separator row(s) between the data were left out", [2, 8, 9, 15]),
        ("1 appointment without a client id left out", [18]),
        ("1 appointment with a status that is not recognised", [32]),
        ("1 client(s) were seen by more than one therapist", [12, 22, 26])]  # 26: the quoted value's row


def test_the_values_a_problem_lists_come_in_the_in_memory_order(tmp_path):
    """Most frequent first and ties in text order (the in-memory import listed ties in the order
    its sort left them; the engine in text order); scores off the scale smallest first (the engine
    listed the most frequent first)."""
    lines = {4: "C1,T1,2024-01-08,zeta", 9: "C2,T1,2024-01-09,alpha", 12: "C3,T1,bad date,attended",
             13: "C3,T1,2024-13-45,attended", 20: "C3,T1,bad date,attended"}
    sources = _appointments(tmp_path, lines, n=40)
    with open(sources["sessions"], "a") as file:
        file.write("".join(f"C{i},T2,2024-02-0{i},attended,{s}\n" for i, s in enumerate([55, 55, 41], 1)))
    path = Path(sources["sessions"])
    path.write_text(path.read_text().replace("status\n", "status,srs\n", 1))
    expected = load_caseload(sources)
    found = load_tables(open_engine("duckdb"), sources)
    assert found.problems == expected.problems
    listed = [p.message.split("(e.g. ")[-1].split("(values ")[-1].split(": ")[-1] for p in expected.problems]
    assert listed[:3] == ["'bad date', '2024-13-45'); left out", "'alpha' (1), 'zeta' (1); left out",
                          "'41', '55'); set to missing, the rest of each row is kept"]


def test_empty_lines_are_numbered_said_and_left_out_as_in_memory(tmp_path):
    """DuckDB skipped empty lines, so every row after one was named by a number one lower than its row."""
    check_empty_lines(open_engine("duckdb"), tmp_path)


def test_blank_separator_and_totals_rows_are_left_out_as_in_memory(tmp_path):
    """A spreadsheet's blank rows between the data and its total rows were read by the engine as
    appointments without a client id or date, with a status it did not know; a blank row after
    the last filled one is left out unsaid, in memory and in the engine."""
    check_spreadsheet_rows(open_engine("duckdb"), tmp_path, 3000)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["Total", "sub", "grand", "ſum", "SUM", "totals", "for", "of", ":", "-", " ", "\u00a0",
                                 "\u3000", "\t", "\x1c", "\x85", "x", "March", "é", "\n", "\r"]), max_size=6).map("".join))
@example("Totalfor\nTotal")  # a line end after "for": no match in Python (its . stops there), a match in RE2 before
def test_the_total_row_pattern_in_sql_matches_what_python_matches(text):
    """TOTAL_SQL is readers.TOTAL_LABEL for DuckDB's RE2: its \\s (ASCII) widened to Python's."""
    import re

    from analytics.engines.ingest import TOTAL_SQL
    from analytics.ingest.readers import TOTAL_LABEL

    matched = open_engine("duckdb").con.execute("SELECT REGEXP_MATCHES(?, ?)", [text, TOTAL_SQL]).fetchone()[0]
    assert matched == (re.match(TOTAL_LABEL, text, re.IGNORECASE) is not None)


def check_partitioned_folder(engine, tmp_path) -> None:
    """A clients table written as Spark writes one partitioned by site and therapist (a folder per
    value, a missing site in Hive's default folder, a `_SUCCESS` marker and its `.crc` checksum, a
    leftover `_temporary` folder and a `.DS_Store`), given as the folder: the engine's clients are the
    in-memory import of the same rows as one file in the folders' order, site and therapist read
    from the folder names as text (`%20` decoded, the ids "007" and "010" kept as written, the
    default folder missing), and the hidden files are not read."""
    clients = generate_caseload(n_clients=40, n_therapists=3, n_sites=1, seed=3).clients
    clients = clients.drop(columns=["site", "therapist_id"])
    folders = {("site=Site%20B", "therapist_id=007"): ("Site B", "007"),
               ("site=Site%20B", "therapist_id=010"): ("Site B", "010"),
               ("site=__HIVE_DEFAULT_PARTITION__", "therapist_id=010"): (None, "010")}
    root = tmp_path / "clients.parquet"
    parts = []
    for i, (names, (site, therapist)) in enumerate(folders.items()):
        rows = clients.iloc[i::3]
        folder = root.joinpath(*names)
        folder.mkdir(parents=True)
        rows.to_parquet(folder / f"part-0000{i}.snappy.parquet", index=False, coerce_timestamps="us")  # as Spark writes
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        parts.append(rows.assign(site=site, therapist_id=therapist))
    (root / "_SUCCESS").write_bytes(b"")
    (root / "._SUCCESS.crc").write_bytes(b"crc\x00")
    (root / "_temporary" / "0").mkdir(parents=True)
    clients.iloc[:2].to_parquet(root / "_temporary" / "0" / "part-left.parquet", index=False)
    whole = tmp_path / "clients_one_file.csv"
    pd.concat(parts).to_csv(whole, index=False)

    expected = load_caseload({"clients": str(whole)})
    found = load_tables(engine, {"clients": str(root)})
    assert [p.as_text().replace("clients.parquet", "clients_one_file.csv") for p in found.problems] == \
        [p.as_text() for p in expected.problems]
    ours = engine.collect("clients")
    assert_same_episodes(ours, expected.caseload.clients)
    assert ours["site"].tolist() == ["Site B"] * 27 + [None] * 13
    assert ours["therapist_id"].tolist() == ["007"] * 14 + ["010"] * 26


def test_a_partitioned_folder_is_read_as_its_data_files_with_the_partitions_as_columns(tmp_path):
    check_partitioned_folder(open_engine("duckdb"), tmp_path)


def test_a_file_named_on_its_own_has_no_partition_columns_as_in_memory(tmp_path):
    """A Parquet file inside a folder named site=Site A, given by name: no `site` column (DuckDB
    alone would make one of the folder's name), as the in-memory import reads the file."""
    folder = tmp_path / "site=Site A"
    folder.mkdir()
    clients = generate_caseload(n_clients=20, n_therapists=2, n_sites=1, seed=4).clients.drop(columns="site")
    clients.to_parquet(folder / "clients.parquet", index=False)
    engine = open_engine("duckdb")
    load_tables(engine, {"clients": str(folder / "clients.parquet")})
    expected = load_caseload({"clients": str(folder / "clients.parquet")}).caseload.clients
    assert "site" not in engine.collect("clients") and "site" not in expected
    assert_same_episodes(engine.collect("clients"), expected)


ZONES = {"Europe/London": "00:30", "+05:30": "00:30", "-08:00": "20:00", "UTC": "23:30"}


def check_zoned_dates(engine, tmp_path, zone: str) -> None:
    """Appointments stored as instants with a time zone (pandas writes the zone into the file's
    schema) at a time of day whose date in UTC is another: the engine takes each date in that zone,
    as the in-memory import does, and keeps the dates written."""
    sessions = generate_caseload(n_clients=30, n_therapists=3, n_sites=1, seed=2).sessions
    dates = pd.to_datetime(sessions["date"])
    offset = {"+05:30": datetime.timedelta(hours=5, minutes=30), "-08:00": datetime.timedelta(hours=-8)}.get(zone)
    clock = (dates + pd.Timedelta(ZONES[zone] + ":00")).dt.tz_localize(datetime.timezone(offset) if offset else zone)
    path = tmp_path / "sessions.parquet"
    sessions.assign(date=clock).to_parquet(path, index=False, coerce_timestamps="us")
    expected = load_caseload({"sessions": str(path)})
    found = load_tables(engine, {"sessions": str(path)})
    assert found.problems == expected.problems
    ours = engine.collect("sessions")
    assert_same_episodes(ours, expected.caseload.sessions)
    assert (pd.to_datetime(ours["date"]).to_numpy() == dates.to_numpy()).all()


@pytest.mark.parametrize("zone", ZONES)
def test_a_stored_instant_is_dated_in_its_files_zone_as_in_memory_on_a_machine_in_any_zone(tmp_path, zone):
    """The machine's zone (Tokyo here) does not move a date: the engine's session is in UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        check_zoned_dates(open_engine("duckdb"), tmp_path, zone)
    finally:
        os.environ.pop("TZ") if before is None else os.environ.__setitem__("TZ", before)
        time.tzset()
