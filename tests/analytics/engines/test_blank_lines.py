"""Where the engines' copy of a text file gets a row of empty fields: at every empty line after the
header, never inside a quoted value, as Python's csv module reads the records."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.engines.blank_lines import as_rows, empty_lines
from analytics.ingest.readers import TextLayout

LINE = st.one_of(st.just(""), st.just("C1,T1,2024-01-08"), st.just('C2,"a\n\nb",x'), st.just('"C3",,"say ""hi"""'),
                 st.just('C4,"\r\n",y'))


@settings(max_examples=300, deadline=None)
@given(title=st.integers(0, 2), lines=st.lists(LINE, max_size=8), end=st.sampled_from(["\n", "\r\n"]),
       last=st.booleans())
def test_the_empty_lines_found_are_the_empty_records_csv_reads(tmp_path_factory, title, lines, end, last):
    text = end.join(["Report", ""][:title] + ["client_id,therapist_id,date"] + lines) + (end if last else "")
    path = tmp_path_factory.mktemp("lines") / "sessions.csv"
    path.write_bytes(text.encode())
    records = list(csv.reader(io.StringIO(text, newline="")))[title + 1:]
    found = empty_lines(str(path), title)
    assert len(found) == sum(1 for r in records if r == [])
    data = text.encode()
    assert all(data[o - 1:o] == b"\n" and data[o:o + 1] in (b"\n", b"\r") for o in found)


def test_a_filled_copy_reads_as_the_file_with_rows_of_empty_fields(tmp_path):
    """Each empty line becomes the delimiters alone (a row of three empty fields); the file is
    copied as it is around them, and a file without one is given as it is."""
    (tmp_path / "a.csv").write_bytes(b"h1;h2;h3\r\n\r\n1;2;3\r\n\"x\n\ny\";5;6\r\n\r\n")
    (tmp_path / "b.csv").write_bytes(b"h1;h2;h3\n7;8;9\n")
    layout = TextLayout("utf-8", ";", 0)
    out = tmp_path / "out"
    out.mkdir()
    given_files = as_rows([str(tmp_path / "a.csv"), str(tmp_path / "b.csv")], layout, lambda path: 3, str(out))
    assert given_files == [str(out / "00000.csv"), str(out / "00001.csv")]
    assert (out / "00000.csv").read_bytes() == b"h1;h2;h3\r\n;;\r\n1;2;3\r\n\"x\n\ny\";5;6\r\n;;\r\n"
    assert (out / "00001.csv").read_bytes() == b"h1;h2;h3\n7;8;9\n"  # a link to the file, for Spark's file order
    assert as_rows([str(tmp_path / "b.csv")], layout, lambda path: 3, str(out)) == [str(tmp_path / "b.csv")]
