"""Problems found while reading, mapping and checking data: plain data, never exceptions.

A user fixing an export needs every problem at once, each saying which file, column and rows,
what is wrong and what to do; so the importer collects Problems instead of raising.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

SEVERITIES = ("error", "warning")
MAX_LISTED_ROWS = 10


@dataclass(frozen=True)
class Problem:
    """One finding. `severity` "error" blocks the analysis, "warning" informs (the rest stays usable).

    `rows` are spreadsheet row numbers (the header is row 1), at most MAX_LISTED_ROWS of them;
    `more` counts the affected rows not listed.
    """

    file: str
    column: str | None
    rows: list[int]
    message: str
    fix: str
    severity: str = "warning"
    more: int = field(default=0)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def rows_text(self) -> str:
        if not self.rows:
            return ""
        listed = ", ".join(map(str, self.rows))
        label = "row" if len(self.rows) == 1 and not self.more else "rows"
        return f"{label} {listed}" + (f" and {self.more} more" if self.more else "")

    def as_text(self) -> str:
        """One line: "file, column, rows: message. fix"."""
        where = ", ".join(p for p in (self.file, self.column and f"column '{self.column}'", self.rows_text()) if p)
        message = self.message.rstrip(".")
        return f"{where}: {message}. {self.fix}".strip()

    def as_dict(self) -> dict:
        return asdict(self)


def row_numbers(labels) -> tuple[list[int], int]:
    """The first MAX_LISTED_ROWS spreadsheet row numbers of `labels` and how many were left out.

    Frames read by analytics.ingest.readers carry the spreadsheet row number as their index, so the
    labels of the offending rows are the numbers a user sees in Excel.
    """
    values = np.asarray(labels).ravel()
    listed = [int(v) for v in values[:MAX_LISTED_ROWS]]
    return listed, max(len(values) - MAX_LISTED_ROWS, 0)


def problem_at(frame: pd.DataFrame, mask, file: str, column: str | None, message: str, fix: str,
               severity: str = "warning") -> Problem:
    """A Problem listing the rows of `frame` where `mask` is true."""
    rows, more = row_numbers(frame.index[np.asarray(mask, dtype=bool)])
    return Problem(file, column, rows, message, fix, severity, more)


def has_errors(problems: list[Problem]) -> bool:
    return any(p.blocking for p in problems)


def problems_table(problems: list[Problem]) -> pd.DataFrame:
    """The problems as a table for display and download (errors first)."""
    columns = ["severity", "file", "column", "rows", "message", "fix"]
    if not problems:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(
        {
            "severity": [p.severity for p in problems],
            "file": [p.file for p in problems],
            "column": [p.column or "" for p in problems],
            "rows": [p.rows_text() for p in problems],
            "message": [p.message for p in problems],
            "fix": [p.fix for p in problems],
        }
    )
    order = table["severity"].map({"error": 0, "warning": 1})
    return table.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def quoted(values, limit: int = 10, counts=None, total: int | None = None) -> str:
    """'a', 'b' and 3 more: a short list of values (each cut to 40 characters) for a message;
    with `counts`, each value is followed by how many rows hold it: 'a' (12). `total` is how many
    values there are when `values` holds only the first of them (as an engine sends back)."""
    values = [str(v) if len(str(v)) <= 40 else str(v)[:39] + "…" for v in values]
    suffixes = [f" ({int(n):,})" for n in counts] if counts is not None else [""] * len(values)
    shown = ", ".join(f"'{v}'{n}" for v, n in zip(values[:limit], suffixes))
    total = len(values) if total is None else total
    return shown + (f" and {total - limit} more" if total > limit else "")
