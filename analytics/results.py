"""The one protocol every analysis result follows, so a page, the report and the summary read the
same fields and say the same thing.

`table` is tidy: what the chart draws and the user downloads. `warnings` are plain sentences.
`takeaway` is the sentence a director reads. `privacy` says which columns of `table` count
clients and which values are worked out from them, so small counts are hidden the same way
wherever the table is shown. `n_used` and `n_left_out` are the episodes (or clients) the
analysis used and the ones it could not (missing values, unknown outcome).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd

from analytics.suppression import suppress_small_cells


@dataclass(frozen=True)
class Privacy:
    """Which columns of a result's table are counts of people, and the columns derived from each."""

    counts: tuple[str, ...] = ()
    linked: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def suppress(self, table: pd.DataFrame, suppress_below: int) -> pd.DataFrame:
        """`table` with small counts (and what is worked out from them) masked; see suppress_small_cells."""
        counts = [c for c in self.counts if c in table]
        linked = {k: [c for c in v if c in table] for k, v in self.linked.items() if k in table}
        return suppress_small_cells(table, counts, suppress_below, linked)


NO_COUNTS = Privacy()


@dataclass(kw_only=True)
class Reported:
    """The protocol's bookkeeping, inherited by result classes as keyword-only fields (so they
    follow each class's own fields): plain-sentence warnings and the rows used and left out."""

    warnings: list[str] = field(default_factory=list)
    n_used: int = 0
    n_left_out: int = 0


@runtime_checkable
class Result(Protocol):
    table: pd.DataFrame
    warnings: list[str]
    takeaway: str
    privacy: Privacy
    n_used: int
    n_left_out: int
