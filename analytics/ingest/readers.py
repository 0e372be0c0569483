"""Read a user's table from a path or an upload: CSV/TSV (any common delimiter and encoding),
Excel .xlsx and Parquet.

Files come from EHR exports and spreadsheets, sometimes broken or hostile, so a file that cannot
be read yields a Problem (which file, why, what to do) and never an exception. Text is read as
strings (held as categoricals: an export repeats the same few ids, dates and statuses millions
of times, so every later step works on the distinct values): converting types is the mapping's
job, and identifiers such as "007" must keep their zeros.
Every frame returned carries the spreadsheet row number as its index (header = row 1), so
problems can point at the rows a user sees in Excel.
"""

from __future__ import annotations

import csv
import io
import mmap
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.caseload import in_threads
from analytics.ingest.mapping import arrow_text, as_category
from analytics.ingest.problems import Problem, problem_at, quoted
from analytics.schema import letters

MAX_COLUMNS = 2000
HEAD_BYTES = 1 << 20
SNIFF_CHARS = 1 << 16
ARROW_BLOCK_BYTES = 16 << 20
DELIMITERS = (",", ";", "\t", "|")
NA_VALUES = ["", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "#N/A"]
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

TOTAL_LABEL = r"^\s*((grand|sub)[\s-]*)?(totals?|sum)\s*(:|for\b.*|of\b.*)?\s*$"
# what finish_frame says of the rows it leaves out (an engine's import says the same): message, fix
SEPARATORS = ("{n:,} blank separator row(s) between the data were left out", "Nothing to do if they only separate groups of rows.")
TOTALS = ("{n:,} row(s) are totals or subtotals, not data; left out", "Nothing to do if these are the spreadsheet's sum rows.")
_TOTAL_WORDS = "[tT][oO][tT][aA][lL]|[sSſ][uU][mM]"  # what TOTAL_LABEL needs, in every case re.IGNORECASE matches
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ZIP, _PARQUET, _OLE = b"PK\x03\x04", b"PAR1", b"\xd0\xcf\x11\xe0"
_SAVE_AS = "Save it from the spreadsheet program as CSV (UTF-8) or Excel .xlsx and load it again."


@dataclass(frozen=True)
class _Blob:
    """The bytes of a source, opened lazily so a large file on disk is streamed, not copied."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def open(self):
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)

    def head(self, n: int = HEAD_BYTES) -> bytes:
        with self.open() as handle:
            return handle.read(n)

    def size(self) -> int:
        return self.path.stat().st_size if self.path is not None else len(self.data)


def source_name(source) -> str:
    """The file name shown in problems."""
    if isinstance(source, list):
        return ", ".join(source_name(s) for s in source)
    if isinstance(source, (str, Path)):
        return Path(source).name
    if isinstance(source, tuple) and len(source) == 2:
        return str(source[0])
    if isinstance(source, pd.DataFrame):
        return "table"
    return str(getattr(source, "name", "upload"))


def read_table(source, sheet: str | None = None, table: str = "sessions") -> tuple[pd.DataFrame | None, list[Problem]]:
    """The table in `source` (a path, a (filename, bytes) pair, an uploaded file or a DataFrame) and
    what went wrong; None when nothing usable could be read. A JSON file is read as FHIR, giving
    the caseload `table` its resources make (see analytics.ingest.fhir)."""
    name = source_name(source)
    if isinstance(source, pd.DataFrame):
        return finish_frame(source.copy(), name, [])
    blob = blob_of(source)
    if isinstance(blob, Problem):
        return None, [blob]
    try:
        head = blob.head()
    except OSError as error:
        return None, [unreadable(name, f"it could not be opened ({error.strerror or error})")]
    if not head.strip():
        return None, [empty_file(name)]
    suffix = Path(name).suffix.lower()
    if is_json(head):
        from analytics.ingest.fhir import read_fhir  # fhir builds its frames with this module

        tables, problems = read_fhir([source])
        return tables.get(table), problems
    if head.startswith(_PARQUET):
        return _read_parquet(blob)
    if head.startswith(_ZIP):
        return _read_excel(blob, sheet)
    if head.startswith(_OLE):
        return None, [unreadable(name, "it is an old-style Excel (.xls) workbook, which cannot be read", _SAVE_AS.replace("CSV (UTF-8) or ", ""))]
    if suffix in (".xlsx", ".xlsm", ".xls", ".parquet"):
        return None, [unreadable(name, f"it is named {suffix} but its content is not that kind of file", _SAVE_AS)]
    return _read_text(blob, head, suffix)


def memory_only_kind(head: bytes) -> str | None:
    """What a file is when only the in-memory reader reads it (an engine reads CSV and Parquet)."""
    if is_json(head):
        return "a JSON (FHIR) file"
    return "an Excel workbook" if head.startswith((_ZIP, _OLE)) else None


def is_json(head: bytes) -> bool:
    """True when the first bytes open a JSON object or array (after a byte-order mark or blanks)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def list_sheets(source) -> list[str]:
    """The sheet names of an Excel workbook ([] for any other or unreadable file)."""
    blob = blob_of(source)
    if isinstance(blob, Problem):
        return []
    try:
        if not blob.head(4).startswith(_ZIP):
            return []
        import openpyxl

        with blob.open() as handle:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            names = list(book.sheetnames)
            book.close()
        return names
    except Exception:  # a damaged workbook simply has no sheets to offer; read_table explains why
        return []


def blob_of(source) -> _Blob | Problem:
    """The bytes of a path or upload, opened lazily; a Problem when there are none."""
    name = source_name(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            return unreadable(name, f"there is no file at {path}", "Check the path.")
        if not path.is_file():
            return unreadable(name, f"{path} is a folder, not a file", "Choose the exported file itself.")
        return _Blob(name, path=path)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], (bytes, bytearray)):
        return _Blob(name, data=bytes(source[1]))
    if hasattr(source, "getvalue"):
        return _Blob(name, data=bytes(source.getvalue()))
    return unreadable(name, f"a {type(source).__name__} is not a file", "Give a path or an uploaded file.")


def empty_file(name: str) -> Problem:
    """The blocking problem of a file with nothing in it but blank space (said by every reader)."""
    return Problem(name, None, [], "The file is empty", "Export the table again; check that the export finished.", "error")


def unreadable(name: str, why: str, fix: str = _SAVE_AS) -> Problem:
    """The blocking problem of a file that cannot be read as a table (said by every reader)."""
    return Problem(name, None, [], f"The file could not be read: {why}", fix, "error")


def _too_wide(name: str, n: int, at_least: bool = False) -> Problem:
    return Problem(
        name, None, [],
        f"The table has {'at least ' if at_least else ''}{n:,} columns; more than {MAX_COLUMNS:,} is not a caseload export",
        "Check that the right file was chosen and that it was exported with one column per field.", "error",
    )


# --- text ---------------------------------------------------------------------------------------

def _decode_head(head: bytes) -> tuple[str, str] | None:
    """(encoding, text) of the first bytes, or None when they are not text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:
        return None
    else:
        encoding = "utf-8-sig"
    for candidate in (encoding, "cp1252", "latin-1"):
        for cut in range(4):
            try:
                text = head[: len(head) - cut].decode(candidate)
            except UnicodeDecodeError:
                continue
            control = len(_CONTROL.findall(text, 0, 65536))
            if control > max(1, min(len(text), 65536) // 100):
                return None
            return candidate, text
    return None


def _header_index(counts: list[int]) -> int:
    """The row holding the header: the first row filled like a table row (at least two cells and
    nearly as many as most rows), so a report title or blank lines above it are skipped."""
    filled = [n for n in counts if n > 1]
    if not filled:
        return 0
    typical = max(set(filled), key=filled.count)
    return next((i for i, n in enumerate(counts) if n >= max(2, typical - typical // 4)), 0)


def _sniff(text: str, suffix: str) -> tuple[str, list[str], int]:
    """(delimiter, header fields, header row index): the delimiter that splits the first lines most
    consistently, judged from the header row on."""
    candidates = ("\t",) if suffix in (".tsv", ".tab") else DELIMITERS
    best, best_score, best_rows, best_start = ",", (-1.0, 0), [], 0
    for delimiter in candidates:
        rows = []
        try:
            for row in csv.reader(io.StringIO(text[:SNIFF_CHARS]), delimiter=delimiter):
                rows.append(row)
                if len(rows) > 50:
                    break
        except csv.Error:  # a field longer than the csv module's limit: judge on the rows before it
            pass
        counts = [sum(1 for cell in row if cell.strip()) for row in rows]
        start = _header_index(counts)
        if not rows or len(rows[start]) < 2:
            continue
        width = len(rows[start])
        body = [len(r) for r in rows[start + 1:-1] if len(r) > 1] or [width]
        score = (float(np.mean(np.asarray(body) == width)), width)
        if score > best_score:
            best, best_score, best_rows, best_start = delimiter, score, rows, start
    if suffix in (".tsv", ".tab"):
        best = "\t"
    header = best_rows[best_start] if best_rows else []
    return best, header, best_start


def _read_text(blob: _Blob, head: bytes, suffix: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    name = blob.name
    decoded = _decode_head(head)
    if decoded is None:
        return None, [unreadable(name, "it is not a text table (it holds binary data)")]
    encoding, text = decoded
    first_line = text.split("\n", 1)[0]
    cut_short = "\n" not in text and blob.size() > len(head)
    widest = max(first_line.count(d) for d in DELIMITERS) + 1
    if widest > MAX_COLUMNS:
        return None, [_too_wide(name, widest, at_least=cut_short)]
    if cut_short:
        return None, [unreadable(name, "its first line is longer than 1 MB, so it is not a table header",
                                  "Check that the right file was chosen.")]
    delimiter, header, start = _sniff(text, suffix)
    problems = TextLayout(encoding, delimiter, start, tuple(header)).problems(name)
    frame, parse_problems = _parse_csv(blob, delimiter, encoding, start)
    problems += parse_problems
    if frame is None:
        return None, problems
    return finish_frame(frame, name, problems, header_row=start + 1)


def _parse_csv(blob: _Blob, delimiter: str, encoding: str, start: int) -> tuple[pd.DataFrame | None, list[Problem]]:
    frame = _parse_csv_arrow(blob, delimiter, start) if encoding == "utf-8-sig" else None
    return (frame, []) if frame is not None else _parse_csv_pandas(blob, delimiter, encoding, start)


def _parse_csv_pandas(blob: _Blob, delimiter: str, encoding: str, start: int) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The file read by pandas, falling back to cp1252 and reporting (then skipping) ragged lines.
    `index_col=False`: rows that all end in a delimiter the header lacks are read column for
    column (pandas would otherwise take the first column as the row labels and shift the rest);
    a value in such an unnamed last field is reported as left out."""
    options = dict(sep=delimiter, dtype="category", keep_default_na=False, na_values=NA_VALUES, index_col=False,
                   skip_blank_lines=False, encoding=encoding, skiprows=start)
    problems = []
    for attempt in range(3):
        try:
            with blob.open() as handle, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(handle, **options)
            if any("loss of data" in str(w.message) for w in caught):
                problems.append(Problem(
                    blob.name, None, [], "The rows have more fields than the header has column names; the values "
                    "after the last named column were left out",
                    "Give that column a name in the header row if you need it, or check the delimiter."))
            return frame, problems
        except UnicodeDecodeError:
            options.update(encoding="cp1252", encoding_errors="replace")
        except pd.errors.ParserError as error:
            line = re.search(r"line (\d+)", str(error))
            problems.append(extra_fields_skipped(blob.name, delimiter, int(line.group(1)) if line else None))
            options.update(on_bad_lines="skip")
        except pd.errors.EmptyDataError:
            return None, [Problem(blob.name, None, [], "The file is empty", "Export the table again.", "error")]
        except (ValueError, OSError, MemoryError) as error:
            return None, [unreadable(blob.name, f"{type(error).__name__}: {str(error)[:200]}")]
    return None, problems + [unreadable(blob.name, "its text could not be parsed")]


def _parse_csv_arrow(blob: _Blob, delimiter: str, start: int) -> pd.DataFrame | None:
    """The frame pandas' reader gives, parsed by pyarrow (multi-threaded, each column dictionary-
    encoded as it is read), or None whenever pyarrow cannot reproduce that reading exactly: a
    ragged line, text that is not UTF-8, a quote in the title rows (pyarrow skips lines, pandas
    skips rows: they differ when a quoted title spans lines). The pandas reader then reads the file
    and reports what it found, with its line numbers."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if start and '"' in "".join(blob.head().decode("utf-8", "replace").splitlines()[:start]):
        return None
    try:
        with blob.open() as handle:
            names = _header(handle, delimiter, start, "utf-8-sig")
        text = pa.dictionary(pa.int32(), pa.string())
        table = pa_csv.read_csv(
            str(blob.path) if blob.path is not None else pa.BufferReader(blob.data),  # not through Python's I/O
            read_options=pa_csv.ReadOptions(skip_rows=start + 1, column_names=names, block_size=ARROW_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=_has_quote(blob),
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={n: text for n in names}, null_values=NA_VALUES,
                                                  strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except (pa.ArrowException, ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError):
        return None
    return pd.DataFrame(dict(zip(names, in_threads(_sorted_categorical, table.columns))), copy=False)  # columns side by side


def extra_fields_skipped(name: str, delimiter: str, line: int | None) -> Problem:
    """Lines with more fields than the header were skipped (`line`: the first of them, when known);
    said by the in-memory reader and by an engine's."""
    where = f" (the first at line {line})" if line else ""
    return Problem(name, None, [line] if line else [],
                   f"Some rows have more {DELIMITER_NAMES[delimiter]}-separated fields than the header{where}; they were skipped",
                   "Check the file for a stray delimiter or an unquoted text field in those rows.")


def lines_left_out(name: str, n: int, line: int, why: str) -> Problem:
    """Lines an engine's CSV reader could not read as rows (`why`) were left out."""
    return Problem(name, None, [line], f"{n:,} line(s) have {why} (the first at line {line:,}); they were left out",
                   "Check those lines in the file for a missing delimiter, or export the table again.")


def file_has_quote(path: str) -> bool:
    """True when the text file at `path` holds a double quote (see _has_quote)."""
    return _has_quote(_Blob(Path(path).name, path=Path(path)))


def column_names(path: str, layout: TextLayout) -> list[str]:
    """The names the in-memory import gives the columns of the text table at `path`: pandas'
    reading of the header row (an empty name read as 'Unnamed: 3', a repeated one as 'name.1'),
    trimmed and made unique as finish_frame makes them."""
    return _unique([str(c).strip() for c in _header(path, layout.delimiter, layout.start, layout.encoding)])


def _header(source, delimiter: str, start: int, encoding: str) -> list:
    """The column names pandas reads from the header row of a text table (a path or open file)."""
    return list(pd.read_csv(source, sep=delimiter, nrows=0, skiprows=start, encoding=encoding,
                            encoding_errors="replace").columns)


def _has_quote(blob: _Blob) -> bool:
    """True when the file holds a double quote: only a quoted value can span lines, and pyarrow's
    reader, told that none does, cuts the file into blocks at any line end (0.6-0.9 s of 5 s for
    12 million appointments). One search through the file's bytes, 0.04-0.07 s for those."""
    if blob.data is not None:
        return b'"' in blob.data
    with open(blob.path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return mapped.find(b'"') >= 0


def _sorted_categorical(column) -> pd.Categorical:
    """A dictionary-encoded pyarrow column as the categorical pandas' reader makes of a file it
    reads in one piece: the distinct values sorted, a missing value coded -1. (Reading a large
    file chunk by chunk, pandas appends each chunk's new values instead: an order of no meaning.)
    Each block the reader parsed has a dictionary of its own; only the dictionaries are matched
    and sorted, and each block's rows are recoded by one take straight into the codes, with no
    column of merged indices in between."""
    import pyarrow as pa
    import pyarrow.compute as pc

    blocks = column.chunks
    merged = pc.dictionary_encode(pa.chunked_array([b.dictionary for b in blocks], type=pa.string())).combine_chunks()
    order = pc.array_sort_indices(merged.dictionary).to_numpy()
    n = len(order)
    dtype = np.int8 if n < 127 else np.int16 if n < 32767 else np.int32  # pandas' code sizes
    rank = np.empty(n + 1, dtype=dtype)
    rank[order], rank[n] = np.arange(n), -1  # rank[n]: where a missing value's -1 comes from
    entry = merged.indices.to_numpy()  # each block's dictionary entries, one after another
    codes = np.empty(len(column), dtype=dtype)
    row = first = 0
    for block in blocks:
        size = len(block.dictionary)
        recode = np.append(rank[entry[first:first + size]], rank[n])  # the block's entry -> code; a missing row -> -1
        indices = block.indices.fill_null(size) if block.null_count else block.indices
        np.take(recode, indices.to_numpy(), out=codes[row:row + len(block)])
        row, first = row + len(block), first + size
    categories = pd.Index(merged.dictionary.take(order).to_numpy(zero_copy_only=False), dtype=object)
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


@dataclass(frozen=True)
class TextLayout:
    """How a text table is written, as this reader finds it: the encoding, the delimiter, the
    row holding the column names (`start` title or note rows above it) and the names as written."""

    encoding: str
    delimiter: str
    start: int
    header: tuple[str, ...] = ()

    def problems(self, name: str) -> list[Problem]:
        """What reading by this layout tells the user (a name used twice, the rows skipped above
        the header)."""
        return _duplicate_header_problems(name, self.header) + ([_title_skipped(name, self.start)] if self.start else [])


def text_layout(path: str) -> TextLayout | None:
    """The layout of the text table at `path` from its first bytes (None when it is not text), so
    an engine reads the file as the in-memory import does."""
    with open(path, "rb") as handle:
        decoded = _decode_head(handle.read(HEAD_BYTES))
    if decoded is None:
        return None
    delimiter, header, start = _sniff(decoded[1], Path(path).suffix.lower())
    return TextLayout(decoded[0], delimiter, start, tuple(header))


def _title_skipped(name: str, start: int) -> Problem:
    return Problem(name, None, list(range(1, start + 1)),
                   f"The first {start} row(s) above the column names (a report title or notes) were skipped; "
                   f"row {start + 1} is read as the header",
                   "Nothing to do if that is right; otherwise remove the lines above the header in the file.")


def _duplicate_header_problems(name: str, header: list) -> list[Problem]:
    labels = pd.Series([str(h).strip() for h in header])
    dupes = labels[labels.duplicated(keep=False) & (labels != "")]
    out = []
    for label, positions in dupes.groupby(dupes).groups.items():
        columns = ", ".join(letters(int(p)) for p in positions)
        out.append(Problem(
            name, label, [],
            f"The column name '{label}' appears {len(positions)} times (columns {columns}); "
            f"later copies are read as '{label}.1', '{label}.2' and so on",
            "Rename the columns in the file so each name is used once, or map the one you mean.",
        ))
    return out


# --- Excel and Parquet --------------------------------------------------------------------------

def _read_excel(blob: _Blob, sheet: str | None) -> tuple[pd.DataFrame | None, list[Problem]]:
    name = blob.name
    try:
        import openpyxl

        with blob.open() as handle:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            sheets = list(book.sheetnames)
            problems = []
            if sheet is None:
                sheet = sheets[0]
                if len(sheets) > 1:
                    problems.append(Problem(
                        name, None, [], f"The workbook has {len(sheets)} sheets ({quoted(sheets)}); the first, '{sheet}', was read",
                        "Choose another sheet if the data are elsewhere.",
                    ))
            elif sheet not in sheets:
                book.close()
                return None, [Problem(name, None, [], f"The workbook has no sheet '{sheet}' (it has {quoted(sheets)})",
                                      "Choose one of its sheets.", "error")]
            worksheet = book[sheet]
            width = worksheet.max_column or 0
            top = list(worksheet.iter_rows(min_row=1, max_row=30, values_only=True)) if width <= MAX_COLUMNS else []
            book.close()
        if width > MAX_COLUMNS:
            return None, [_too_wide(name, width)]
        start = _header_index([sum(1 for cell in row if cell not in (None, "")) for row in top])
        header = top[start] if top else ()
        if start:
            problems.append(_title_skipped(name, start))
        with blob.open() as handle:
            frame = pd.read_excel(handle, sheet_name=sheet, dtype=object, engine="openpyxl", skiprows=start)
    except Exception as error:  # hostile or damaged workbooks fail in many library-specific ways
        return None, [unreadable(name, f"it is not a readable Excel workbook ({type(error).__name__})")]
    header = [h for h in header if h is not None]
    problems += _duplicate_header_problems(name, header)
    return finish_frame(frame, name, problems, where=f"sheet '{sheet}'", header_row=start + 1)


def _read_parquet(blob: _Blob) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        import pyarrow.parquet as pq

        with blob.open() as handle:
            parquet = pq.ParquetFile(handle)
            width = len(parquet.schema_arrow)
            if width > MAX_COLUMNS:
                return None, [_too_wide(blob.name, width)]
            frame = _with_categoricals(parquet.read())
    except Exception as error:  # damaged Parquet fails inside pyarrow in many ways
        return None, [unreadable(blob.name, f"it is not a readable Parquet file ({type(error).__name__})",
                                 "Export the table again: the file may be cut short or damaged.")]
    return finish_frame(frame, blob.name, [])


def _with_categoricals(table) -> pd.DataFrame:
    """The Parquet table as pandas reads it, each text column already the categorical finish_frame
    makes of it (its values in order of appearance, a missing value coded -1): dictionary-encoded
    by pyarrow, the columns side by side, instead of a million Python strings made and hashed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = [i for i, field in enumerate(table.schema) if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)]
    encoded = in_threads(lambda i: pc.dictionary_encode(table.column(i).combine_chunks()), text)
    for i, column in zip(text, encoded):
        table = table.set_column(i, table.schema[i].name, column)
    return table.to_pandas()


# --- common clean-up ----------------------------------------------------------------------------

def finish_frame(frame: pd.DataFrame, name: str, problems: list[Problem], where: str = "",
            header_row: int = 1) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Trim header names, drop empty unnamed columns and blank rows, index rows by spreadsheet row."""
    if frame.shape[1] == 0:
        return None, problems + [Problem(name, None, [], f"The {where or 'file'} holds no table", "Check that the right file or sheet was chosen.", "error")]
    if frame.shape[1] > MAX_COLUMNS:
        return None, problems + [_too_wide(name, frame.shape[1])]
    frame.columns = _unique([str(c).strip() for c in frame.columns])
    frame.index = pd.RangeIndex(header_row + 1, header_row + 1 + len(frame))  # no array of a million row numbers
    for column in frame.columns[frame.dtypes.to_numpy() == object]:
        try:
            frame[column] = as_category(frame[column])
        except TypeError:  # unhashable cells (lists or maps in a Parquet column) are kept as their text
            frame[column] = as_category(frame[column].map(str, na_action="ignore"))
    unnamed = [c for c in frame.columns if is_unnamed(c)]
    empty = [c for c in unnamed if frame[c].isna().all()]
    frame = without(frame, empty)
    problems += [unnamed_with_values(name, c) for c in unnamed if c not in empty]
    filled = np.zeros(len(frame), dtype=bool)
    for given in in_threads(lambda c: frame[c].notna().to_numpy(), frame.columns):  # columns side by side
        filled |= given
    if not filled.all():
        separators = ~filled & (np.arange(len(frame)) < np.flatnonzero(filled).max(initial=-1))
        if separators.any():
            problems.append(problem_at(frame, separators, name, None, SEPARATORS[0].format(n=separators.sum()),
                                       SEPARATORS[1]))
        frame = frame.loc[filled]
    totals = _total_rows(frame)
    if totals.any():
        problems.append(problem_at(frame, totals, name, None, TOTALS[0].format(n=totals.sum()), TOTALS[1]))
        frame = frame.loc[~totals]
    if len(frame) == 0:
        problems.append(no_rows(name))
    return frame, problems


def is_unnamed(column: str) -> bool:
    """A column without a name in the header row (pandas reads it as 'Unnamed: 3'): left out when
    it holds no value, kept and said when it does."""
    return column.startswith("Unnamed:") or column == ""


def unnamed_with_values(name: str, column: str) -> Problem:
    return Problem(name, column, [], "This column has values but no name in the header row",
                   "Give it a name in the file, or leave it: it is kept under this name.")


def no_rows(name: str) -> Problem:
    """The file `name` has its header and nothing below it (said as well by an import in an engine)."""
    return Problem(name, None, [], "The file has column headers but no rows of data",
                   "Export the table again with its rows.", "warning")


def without(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame` less `columns`; the frame itself when there are none (drop copies every column, even
    with nothing to drop: a million rows of each at a network's scale)."""
    return frame.drop(columns=columns) if columns else frame


def _total_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows with a cell reading "Total", "Subtotal", "Grand total", "Sum" or "Total for March":
    a spreadsheet's sum rows. Judged on each text column's distinct values only."""
    found = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        series = frame[column]
        if not isinstance(series.dtype, pd.CategoricalDtype):
            continue
        labels = pd.Series(np.asarray(series.cat.categories, dtype=object)).astype(str)
        total = _has_total_word(labels.to_numpy())
        total[total] = labels[total].str.match(TOTAL_LABEL, case=False).to_numpy()
        if total.any():
            found |= np.isin(series.cat.codes.to_numpy(), np.flatnonzero(total))
    return found


def _has_total_word(labels: np.ndarray) -> np.ndarray:
    """True where a label holds "total" or "sum" as Python's re reads them ignoring case (ſ is an
    s): every label TOTAL_LABEL matches does, and pyarrow finds them among a million ids at once."""
    import pyarrow.compute as pc

    array = arrow_text(labels)
    if array is None:
        return np.ones(len(labels), dtype=bool)
    return pc.match_substring_regex(array, _TOTAL_WORDS).to_numpy(zero_copy_only=False)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique the way pandas does it ('a', 'a.1', ...), for names that only
    differed by surrounding spaces or came from a frame or Parquet file with repeated names."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        label = name
        while label in seen:
            seen[name] += 1
            label = f"{name}.{seen[name]}"
        seen.setdefault(label, 0)
        out.append(label)
    return out
