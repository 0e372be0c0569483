"""Empty lines in a text table, kept as rows as the in-memory reader keeps them.

pandas (read with skip_blank_lines=False) reads an empty line between the data as a row of missing
values: it is numbered like every row, and readers.finish_frame says it is a blank separator row
and leaves it out. DuckDB's and Spark's CSV readers skip such a line without a trace, so every row
after it got a row number one lower in their problems. A file with empty lines after its header is
therefore read from a copy in which each such line is a row of empty fields (the delimiters alone);
the engines then number, find and say them as in memory. Files without one are read where they are.
"""

from __future__ import annotations

import mmap
import os
import re

# an empty line begins right after a line end that another line end follows ('\n' or '\r\n' files)
_EMPTY = re.compile(rb"\n(?=\r?\n)")
_MAYBE = re.compile(rb"\n[\r\n]")  # one pass finds both kinds (0.3-0.5 s for 12 million appointments)
# bytes-level editing needs an encoding in which '\n', '"' and the delimiters are single ASCII bytes
ASCII_BASED = {"utf-8", "utf-8-sig", "cp1252", "latin-1"}
_PIECE = 1 << 24  # bytes copied at a time


def empty_lines(path: str, start: int) -> list[int]:
    """Where each empty line after the header row begins (byte offsets), outside quoted values (a
    quoted value may hold an empty line: an odd number of quotes before it). The header is the
    line after `start` title rows. One search through the bytes; the quotes are counted only
    when an empty line may be there."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return []
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if _MAYBE.search(data) is None:
                return []
            header_end = _line_end(data, 0, start + 1)
            found, quotes, counted = [], 0, header_end
            for match in _EMPTY.finditer(data, header_end):
                quotes += _quotes(data, counted, match.start())
                counted = match.start()
                if quotes % 2 == 0:
                    found.append(match.start() + 1)
            return found


def _line_end(data, position: int, lines: int) -> int:
    """The offset of the line end closing the `lines`-th line from `position`, outside quotes."""
    quotes = 0
    for _ in range(lines):
        while True:
            end = data.find(b"\n", position)
            if end < 0:
                return len(data)
            quotes += _quotes(data, position, end)
            position = end + 1
            if quotes % 2 == 0:
                break
    return position - 1


def _quotes(data, start: int, end: int) -> int:
    """The double quotes in data[start:end], counted a piece at a time (a slice of a map is a copy)."""
    return sum(data[i:min(i + _PIECE, end)].count(b'"') for i in range(start, end, _PIECE))


def as_rows(files: list[str], layout, width, folder: str) -> list[str]:
    """`files` as an engine should read them: when one holds empty lines after its header, every
    file is given from `folder` in the same order (Spark numbers a dataset's rows by path), that
    one as a filled copy and the others as links to themselves; otherwise `files` as they are.
    `width(path)`: the file's number of columns."""
    if layout.encoding not in ASCII_BASED:
        return files
    found = [empty_lines(path, layout.start) for path in files]
    if not any(found):
        return files
    given = []
    for i, (path, offsets) in enumerate(zip(files, found)):
        target = os.path.join(folder, f"{i:05d}{os.path.splitext(path)[1]}")
        if offsets:
            _write_filled(path, target, offsets, layout.delimiter.encode("ascii") * (width(path) - 1))
        else:
            os.symlink(os.path.abspath(path), target)
        given.append(target)
    return given


def _write_filled(path: str, target: str, offsets: list[int], fill: bytes) -> None:
    """A copy of `path` at `target` with `fill` (a row of empty fields) written at each offset."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data, \
            open(target, "wb") as out:
        done = 0
        for offset in [*offsets, len(data)]:
            for piece in range(done, offset, _PIECE):
                out.write(data[piece:min(piece + _PIECE, offset)])
            if offset < len(data):
                out.write(fill)
            done = offset
