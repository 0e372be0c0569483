"""What files a table's source names for an engine: a path, a glob, a folder or a list of them.

A folder is read as Spark, Hive and DuckDB write a table: its data files, in the folder and below,
without Hadoop's hidden files (names starting with `_` or `.`: `_SUCCESS`, `.crc` checksums,
`_temporary` folders). Folders named key=value below the folder or glob given are partitions: each
key is a column of the table holding the folder's value as text (`%20` decoded, Hive's
`__HIVE_DEFAULT_PARTITION__` missing), as both engines read them. A file named on its own has no
partitions, whatever its folders are called, as in the in-memory import.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from analytics.ingest.problems import Problem
from analytics.ingest.readers import empty_file, unreadable

PARQUET_SUFFIXES = (".parquet", ".pq")
_PARTITION = re.compile(r"^([^=]+)=(.*)$")
_WILDCARD = re.compile(r"[*?\[]")


class Unreadable(Exception):
    """A file an engine cannot read as a table: which file, why and what to do (the import
    reports it as the in-memory reader does)."""

    def __init__(self, file: str, why: str, fix: str):
        super().__init__(f"{file}: {why}. {fix}")
        self.file, self.why, self.fix = file, why, fix

    def problem(self, name: str) -> Problem:
        """What the import reports, for the file as the user named it."""
        return unreadable(name, self.why, self.fix)


class EmptyFile(Unreadable):
    """A text file with nothing but blank space in it, said as the in-memory reader says it."""

    def __init__(self, file: str):
        super().__init__(file, "it is empty", "Export the table again; check that the export finished.")

    def problem(self, name: str) -> Problem:
        return empty_file(name)


@dataclass(frozen=True)
class Source:
    """A table's files in path order, and the folder below which their key=value folders are
    partition columns (`base`, None when there are none; `keys` in folder order)."""

    files: list[str]
    base: str | None = None
    keys: tuple[str, ...] = ()


def table_source(source) -> Source:
    """The files and partitions `source` names; Unreadable when a path names nothing, a folder holds
    no data file, or the files' partition folders differ."""
    patterns = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    found: dict[str, str] = {}  # file -> the folder its partitions are read below
    for pattern in map(str, patterns):
        if os.path.exists(pattern):  # a name, even one glob would read as a pattern (sessions[1].csv)
            matches, folder = [pattern], None
        else:
            folder = _glob_folder(pattern)
            matches = [m for m in sorted(glob.glob(pattern)) if not _hidden(os.path.relpath(m, folder))]
        if not matches:
            raise Unreadable(pattern, "there is no file at this path", "Check the path or glob (e.g. sessions/*.parquet).")
        for path in matches:
            if os.path.isdir(path):
                found |= dict.fromkeys(_data_files(path), path)
            else:
                found[path] = folder or os.path.dirname(path)
    files = sorted(found)
    keys = {file: _partition_keys(file, found[file]) for file in files}
    if not any(keys.values()):
        return Source(files)
    ordered = sorted(files, key=lambda f: (keys[f], f))
    if keys[ordered[0]] != keys[ordered[-1]]:
        one, other = ordered[0], ordered[-1]
        raise Unreadable(other, f"its partition folders ({_named(keys[other])}) are not those of {one} "
                         f"({_named(keys[one])})", "Give the files of one table, all in folders of the same keys.")
    bases = sorted({found[f] for f in files})
    if len(bases) > 1:
        raise Unreadable(bases[1], f"its partition folders and those of {bases[0]} are given for one table",
                         "Give the table as one folder or one glob.")
    if file_format(files) != "parquet":
        raise Unreadable(files[0], f"it lies in partition folders ({_named(keys[files[0]])}), which are read for "
                         "Parquet files only", "Write the table as Parquet, or as CSV without partition folders.")
    return Source(files, bases[0], keys[files[0]])


def file_format(files: list[str]) -> str:
    kinds = {"parquet" if f.lower().endswith(PARQUET_SUFFIXES) else "csv" for f in files}
    if len(kinds) > 1:
        raise Unreadable(files[0], "the files given for one table are of two kinds (CSV and Parquet)",
                         "Give one table's files all as CSV or all as Parquet.")
    return kinds.pop()


def _hidden(path: str) -> bool:
    """A name, or a part of a relative path, that starts with _ or . (Hadoop's hidden files)."""
    return any(part.startswith(("_", ".")) and part not in (".", "..") for part in path.split(os.sep))


def _data_files(folder: str) -> list[str]:
    files = []
    for root, folders, names in os.walk(folder):
        folders[:] = [f for f in folders if not _hidden(f)]
        files += [os.path.join(root, n) for n in names if not _hidden(n)]
    if not files:
        raise Unreadable(folder, "the folder holds no data files",
                         "Give the folder that holds the table's CSV or Parquet files, or the files themselves.")
    return files


def _glob_folder(pattern: str) -> str:
    """The folder of a glob before its first wildcard (partitions are read below it)."""
    parts = pattern.split(os.sep)
    fixed = next((i for i, part in enumerate(parts) if _WILDCARD.search(part)), len(parts) - 1)
    return os.sep.join(parts[:fixed]) or os.curdir


def _partition_keys(file: str, base: str) -> tuple[str, ...]:
    folders = os.path.relpath(os.path.dirname(file), base).split(os.sep)
    return tuple(m.group(1) for m in map(_PARTITION.match, folders) if m)


def _named(keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k}=..." for k in keys) or "none"


def stored_zones(path: str) -> dict[str, str]:
    """The time zone of each zoned timestamp column of the Parquet file at `path`, as its Arrow
    schema names it (pandas writes a column's zone there: "Europe/London", "+01:00"; a file without
    one, such as Spark's, stores instants read in UTC). The in-memory import reads such a column in
    that zone, so the engines take the date there too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):  # the engine's own read says what is wrong with the file
        return {}
    return {f.name: f.type.tz for f in schema if pa.types.is_timestamp(f.type) and f.type.tz}
