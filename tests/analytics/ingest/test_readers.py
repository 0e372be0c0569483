"""Reading real-world files: delimiters, encodings, Excel sheets, Parquet, and hostile input as Problems."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from analytics.ingest.readers import MAX_COLUMNS, list_sheets, read_table


def _errors(problems):
    return [p for p in problems if p.severity == "error"]


def test_cp1252_file_with_accents(tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes("client_id,site\nC1,Montréal\nC2,Zürich\n".encode("cp1252"))
    frame, problems = read_table(path)
    assert problems == []
    assert frame["site"].tolist() == ["Montréal", "Zürich"]


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfclient_id,status\n007,Show\n")
    frame, problems = read_table(path)
    assert list(frame.columns) == ["client_id", "status"]
    assert frame["client_id"].tolist() == ["007"]  # text, zeros kept


def test_utf16_export():
    frame, problems = read_table(("export.txt", "client_id\tsite\nC1\tKöln\n".encode("utf-16")))
    assert problems == []
    assert frame.loc[2, "site"] == "Köln"


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
def test_delimiter_is_sniffed(sep):
    text = sep.join(["Client ID", "SRS Total", "Note"]) + "\n" + sep.join(["C1", "35,5" if sep == ";" else "35.5", "a"]) + "\n"
    frame, problems = read_table(("sessions.csv", text.encode()))
    assert list(frame.columns) == ["Client ID", "SRS Total", "Note"]
    assert frame.loc[2, "Client ID"] == "C1"


def test_tsv_suffix_reads_tabs_even_with_commas_in_values(tmp_path):
    path = tmp_path / "clients.tsv"
    path.write_text("client_id\treferral\nC1\tpartner, family\n")
    frame, _ = read_table(path)
    assert frame.loc[2, "referral"] == "partner, family"


def test_index_is_the_spreadsheet_row_number_with_blank_rows_skipped():
    frame, _ = read_table(("s.csv", b"a,b\n1,2\n\n3,4\n,\n5,6\n"))
    assert frame.index.tolist() == [2, 4, 6]
    assert frame["a"].tolist() == ["1", "3", "5"]


def test_xlsx_two_sheets_choose_one():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["About this export"])
    first.append(["created by the EHR"])
    second = book.create_sheet("Appointments")
    second.append(["Client ID", "Date of Service", "Appointment Status"])
    second.append(["C1", "01/15/2024", "Show"])
    second.append([1002, "01/16/2024", "No Show"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = ("appointments.xlsx", buffer.getvalue())

    assert list_sheets(upload) == ["Notes", "Appointments"]
    frame, problems = read_table(upload, sheet="Appointments")
    assert problems == []
    assert frame["Client ID"].tolist() == ["C1", 1002]
    assert frame.index.tolist() == [2, 3]

    default, problems = read_table(upload)
    assert list(default.columns) == ["About this export"]
    assert "2 sheets" in problems[0].message and problems[0].severity == "warning"

    missing, problems = read_table(upload, sheet="Sheet9")
    assert missing is None and "no sheet 'Sheet9'" in _errors(problems)[0].message


def test_a_parquet_file_cut_short_says_to_export_it_again():
    """Not "save it from the spreadsheet program": no spreadsheet writes Parquet."""
    buffer = io.BytesIO()
    pd.DataFrame({"client_id": ["C1"] * 500}).to_parquet(buffer)
    read, problems = read_table(("sessions.parquet", buffer.getvalue()[:300]))
    assert read is None
    assert [(p.message, p.fix) for p in problems] == [(
        "The file could not be read: it is not a readable Parquet file (ArrowInvalid)",
        "Export the table again: the file may be cut short or damaged.")]


def test_parquet_round_trip():
    frame = pd.DataFrame({"client_id": ["C1", "C2"], "srs": [35.0, np.nan], "date": pd.to_datetime(["2024-01-02", "2024-02-03"])})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    read, problems = read_table(("sessions.parquet", buffer.getvalue()))
    assert problems == []
    assert read["client_id"].tolist() == ["C1", "C2"]
    assert read["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-02", "2024-02-03"]
    assert read.index.tolist() == [2, 3]


def test_binary_garbage_is_a_problem_not_an_exception():
    garbage = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    frame, problems = read_table(("sessions.csv", garbage))
    assert frame is None
    assert _errors(problems)[0].file == "sessions.csv"
    assert "binary" in problems[0].message


def test_xlsx_that_is_not_a_workbook():
    frame, problems = read_table(("sessions.xlsx", b"client_id,status\nC1,Show\n"))
    assert frame is None and "not that kind of file" in _errors(problems)[0].message
    assert list_sheets(("sessions.xlsx", b"client_id\n")) == []


def test_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    frame, problems = read_table(("sessions.xlsx", buffer.getvalue()))
    assert frame is None and "not a readable Excel workbook" in _errors(problems)[0].message


def test_million_column_header_is_refused():
    header = ",".join(f"c{i}" for i in range(1_000_000)) + "\n1\n"
    frame, problems = read_table(("wide.csv", header.encode()))
    assert frame is None
    assert f"more than {MAX_COLUMNS:,}" in _errors(problems)[0].message


def test_wide_but_allowed_header_is_read():
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS)) + "\n" + ",".join("1" * MAX_COLUMNS) + "\n"
    frame, problems = read_table(("wide.csv", header.encode()))
    assert frame.shape == (1, MAX_COLUMNS) and problems == []


def test_duplicated_headers_are_reported():
    frame, problems = read_table(("s.csv", b"client_id,srs,status,srs\nC1,30,Show,31\n"))
    assert list(frame.columns) == ["client_id", "srs", "status", "srs.1"]
    assert len(problems) == 1
    assert problems[0].column == "srs" and "2 times (columns B, D)" in problems[0].message


def test_empty_file_and_headers_only():
    frame, problems = read_table(("s.csv", b""))
    assert frame is None and _errors(problems)[0].message == "The file is empty"
    frame, problems = read_table(("s.csv", b"client_id,status\n"))
    assert len(frame) == 0 and list(frame.columns) == ["client_id", "status"]
    assert problems[0].severity == "warning" and "no rows" in problems[0].message


def test_ragged_rows_are_skipped_with_the_line_named():
    frame, problems = read_table(("s.csv", b"a,b\n1,2\n3,4,5\n6,7\n"))
    assert frame["a"].tolist() == ["1", "6"]
    assert problems[0].rows == [3] and "skipped" in problems[0].message


def test_rows_ending_in_a_delimiter_the_header_lacks_keep_their_columns(recwarn):
    """An export writing a delimiter after every row's last value: pandas took the client ids as
    row labels and shifted every column left (client_id read 'T1'). A value in that unnamed last
    field is said to be left out, not printed as pandas' warning."""
    frame, problems = read_table(("s.csv", b"client_id,therapist_id,status\nC1,T1,attended,\nC2,T2,cancelled,\n"))
    assert frame.to_dict("list") == {"client_id": ["C1", "C2"], "therapist_id": ["T1", "T2"],
                                     "status": ["attended", "cancelled"]}
    assert problems == []
    frame, problems = read_table(("s.csv", b"client_id,therapist_id,date,status\nC1,T1,2024-01-02,attended,x\n"
                                           b"C2,T2,2024-01-03,cancelled,y\n"))
    assert frame["client_id"].tolist() == ["C1", "C2"] and frame["status"].tolist() == ["attended", "cancelled"]
    assert [p.message for p in problems] == ["The rows have more fields than the header has column names; the "
                                             "values after the last named column were left out"]
    assert not [w for w in recwarn if issubclass(w.category, pd.errors.ParserWarning)]


def test_missing_path_and_folder(tmp_path):
    frame, problems = read_table(tmp_path / "nope.csv")
    assert frame is None and "no file at" in problems[0].message and problems[0].file == "nope.csv"
    frame, problems = read_table(tmp_path)
    assert frame is None and "folder" in problems[0].message


def test_trailing_delimiter_column_is_dropped_and_headers_trimmed():
    frame, problems = read_table(("s.csv", b" client_id , status ,\nC1,Show,\n"))
    assert list(frame.columns) == ["client_id", "status"] and problems == []


def test_report_title_above_the_header_is_skipped():
    text = b"Appointment Report\nGenerated 06/30/2024, all clinicians\n\nClient ID,Date of Service,Appointment Status\nC1,01/02/2024,Show\nC2,01/03/2024,No Show\n"
    frame, problems = read_table(("report.csv", text))
    assert list(frame.columns) == ["Client ID", "Date of Service", "Appointment Status"]
    assert frame.index.tolist() == [5, 6] and frame.loc[6, "Client ID"] == "C2"
    assert problems[0].rows == [1, 2, 3] and "row 4 is read as the header" in problems[0].message


def test_excel_title_rows_are_skipped():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Caseload export"])
    sheet.append([])
    sheet.append(["client_id", "date", "status"])
    sheet.append(["C1", "2024-01-02", "attended"])
    buffer = io.BytesIO()
    book.save(buffer)
    frame, problems = read_table(("export.xlsx", buffer.getvalue()))
    assert list(frame.columns) == ["client_id", "date", "status"] and frame.index.tolist() == [4]
    assert "row 3 is read as the header" in problems[0].message


def test_header_with_a_trailing_field_is_not_mistaken_for_a_title():
    frame, problems = read_table(("s.csv", b"a,b,c,d\n1,2,3\n4,5,6\n"))
    assert list(frame.columns) == ["a", "b", "c", "d"] and problems == []


def test_names_equal_after_trimming_stay_distinct():
    frame, _ = read_table(("s.csv", b"status,status ,client_id\nShow,x,C1\n"))
    assert list(frame.columns) == ["status", "status.1", "client_id"]
    assert frame.loc[2, "status"] == "Show"
    doubled = pd.DataFrame([[1, 2]], columns=["a", "a"])
    frame, _ = read_table(doubled)
    assert list(frame.columns) == ["a", "a.1"]


def test_totals_and_blank_separator_rows_are_left_out_and_named():
    text = ("Client,Date,Status,Fee\nC1,2024-01-02,Show,90\nC2,2024-01-03,Show,90\nSubtotal,,,180\n,,,\n"
            "C1,2024-02-02,Show,90\nTotal for February,,,90\nGrand total,,,270\n")
    frame, problems = read_table(("visits.csv", text.encode()))
    assert frame["Client"].tolist() == ["C1", "C2", "C1"]
    messages = {p.message: p.rows for p in problems}
    assert messages["3 row(s) are totals or subtotals, not data; left out"] == [4, 7, 8]
    assert messages["1 blank separator row(s) between the data were left out"] == [5]


# The pyarrow reader must give the frame and problems the pandas reader gives; where it cannot
# (a ragged line, text that is not UTF-8, a quoted title) it steps aside and pandas reads the file.
TRICKY = {
    "na_words": ("a,b,c\nNA,x,1\nN/A,,2\nnull,NULL,3\n#N/A,nan,4\n NA,NaN,5\nn/a,\"NA\",6\n", True),
    "quoted_delimiters": ('a,b\n"x, y",2\n"he said ""hi""",3\n"two\nlines",4\n" padded ",5\n', True),
    "title_row": ("Appointment Report\nGenerated 06/30/2024, all clinicians\n\nClient ID,Status\nC1,Show\nC2,No Show\n", True),
    "sorted_like_pandas": ("id,site\n007,Zürich\n10,zebra\n7,Zebra\n1.0,Århus\n,中文\nb,a\n", True),
    "duplicate_and_blank_headers": ("srs,srs, srs ,,d\n1,2,3,,x\n4,5,6,,y\n", True),
    "crlf_bom_semicolon": ("\ufeffclient_id;status\r\nC1;Show\r\nC2;\r\n", True),
    "all_missing_column": ("a,b\n1,\n2,NA\n", True),
    "headers_only": ("client_id,status\n", True),
    "no_final_newline": ("a,b\n1,2\n3,4", True),
    "totals_and_separators": ("Client,Fee\nC1,90\nSubtotal,90\n,\nC2,90\nGrand total,180\n", True),
    "blank_rows": ("a,b\n1,2\n\n3,4\n\n\n", True),
    "quoted_title": ('"Visits,\nMarch"\nClient,Status,Fee\nC1,Show,90\n', False),
    "unnamed_column_with_values": ("a,,b\n1,x,2\n3,,4\n", True),
    "whitespace_row": ("a,b\n1,2\n   \n3,4\n", False),
    "bad_lines": ("a,b\n1,2\n3,4,5\n6,7\n", False),
    "short_row": ("a,b,c\n1,2,3\n4,5\n", False),
}


def _pandas_only(monkeypatch, source):
    from analytics.ingest import readers

    monkeypatch.setattr(readers, "_parse_csv_arrow", lambda *args: None)
    frame, problems = readers.read_table(source)
    monkeypatch.undo()
    return frame, problems


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_arrow_reader_gives_the_pandas_frame(case, monkeypatch):
    from analytics.ingest import readers

    text, by_arrow = TRICKY[case]
    source = ("export.csv", text.encode("utf-8"))
    expected, expected_problems = _pandas_only(monkeypatch, source)
    blob = readers.blob_of(source)
    encoding, head = readers._decode_head(blob.head())
    delimiter, _, start = readers._sniff(head, ".csv")
    assert (readers._parse_csv_arrow(blob, delimiter, start) is not None) == by_arrow
    frame, problems = readers.read_table(source)
    pd.testing.assert_frame_equal(frame, expected)
    assert problems == expected_problems


def test_arrow_reader_steps_aside_for_text_that_is_not_utf8_past_the_first_megabyte(monkeypatch):
    rows = "".join(f"C{i},Site {i % 7}\n" for i in range(100_000))
    data = ("client_id,site\n" + rows).encode() + "C0,Montréal\n".encode("cp1252")
    expected, _ = _pandas_only(monkeypatch, ("clients.csv", data))
    frame, problems = read_table(("clients.csv", data))
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["site"].iloc[-1] == "Montréal" and problems == []


def test_values_spanning_lines_are_read_whole_across_the_readers_blocks(monkeypatch):
    from analytics.ingest import readers

    data = b"client_id,note\n" + b"".join(b'C%d,"two\nlines %d"\n' % (i, i) for i in range(200))
    monkeypatch.setattr(readers, "ARROW_BLOCK_BYTES", 64)  # many blocks, cut inside the quoted values
    blob = readers.blob_of(("notes.csv", data))
    frame = readers._parse_csv_arrow(blob, ",", 0)
    assert frame is not None and len(frame) == 200
    assert frame["note"].iloc[199] == "two\nlines 199"


def test_a_file_without_quotes_is_read_as_with_them(tmp_path, monkeypatch):
    from analytics.ingest import readers

    rows = "".join(f"C{i},2024-01-{i % 28 + 1:02d},{'' if i % 3 else i % 40}\n" for i in range(5_000))
    path = tmp_path / "sessions.csv"
    path.write_text("client_id,date,phq9\n" + rows)
    frame, problems, expected, expected_problems = _in_small_blocks_and_by_pandas(path, monkeypatch)
    pd.testing.assert_frame_equal(frame, expected)
    assert problems == expected_problems == [] and not readers._has_quote(readers.blob_of(path))
    assert readers._has_quote(readers.blob_of(("q.csv", b'a\n"x"\n')))


def test_blocks_with_dictionaries_of_their_own_give_pandas_categoricals(tmp_path, monkeypatch):
    """Each block pyarrow parses has its own dictionary: merged, sorted and recoded they give the
    categorical pandas' reader makes, at every code size and where whole blocks are missing."""
    rng = np.random.default_rng(3)
    n = 40_000
    clients = rng.permutation(n) % 33_000  # over 32,767 distinct values: 32-bit codes
    sites = rng.integers(0, 130, n)  # over 127: 16-bit codes
    scores = np.where((np.arange(n) // 2_000) % 3 == 1, -1, rng.integers(0, 27, n))  # blocks of missing rows
    rows = "".join(f"C{c},Site {s},{'' if p < 0 else p}\n" for c, s, p in zip(clients, sites, scores))
    path = tmp_path / "sessions.csv"
    path.write_text("client_id,site,phq9\n" + rows)
    frame, _, expected, _ = _in_small_blocks_and_by_pandas(path, monkeypatch)
    pd.testing.assert_frame_equal(frame, expected)
    assert [frame[c].cat.codes.dtype for c in frame] == [np.int32, np.int16, np.int8]
    assert frame["phq9"].isna().sum() == (scores < 0).sum() > 4096


def _in_small_blocks_and_by_pandas(path, monkeypatch):
    """The file read as the importer reads it, cut into 4 KB blocks (many of them), then by pandas'
    reader alone: frame and problems of each."""
    from analytics.ingest import readers

    monkeypatch.setattr(readers, "ARROW_BLOCK_BYTES", 4096)
    frame, problems = readers.read_table(path)
    return (frame, problems, *_pandas_only(monkeypatch, path))
