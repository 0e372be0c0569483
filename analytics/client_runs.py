"""Per-client running numbers on appointments sorted by client, without a group-by.

Once the rows are in client order each client's rows form one run, so the n-th appointment, a
running total, the previous value or the last known value are numpy operations on the run starts.
A pandas group-by would hash the (text) client ids again for every such column; on a filter
change at 100,000 clients that hashing was most of the time of the alliance and watch-list views.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def in_client_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by client, then date; equal dates keep their order in the file. Rows already in that
    order (the dashboard keeps the appointments sorted) come back as they are, not copied."""
    return frame if _sorted(frame) else frame.sort_values(["client_id", "date"], kind="stable")


def attended_in_client_order(sessions: pd.DataFrame, columns: list[str], clients: pd.Series | None = None) -> pd.DataFrame:
    """The attended appointments' `columns` (of `clients` when given), by client, then date."""
    attended = sessions["status"] == "attended"
    if clients is not None:
        attended &= sessions["client_id"].isin(clients)
    return in_client_order(sessions.loc[attended, columns])


def per_row(values: pd.Series, found: np.ndarray) -> np.ndarray:
    """`values` (one per client, in the order of the `client_ids` that `ClientRuns.positions` gave
    `found` for) on each row: what `values.reindex(row_ids).to_numpy()` gives, missing where the
    client was not found (whole numbers then become floats and booleans objects, as in the reindex)."""
    stored = values.array if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else values.to_numpy()
    return np.asarray(pd.api.extensions.take(stored, found, allow_fill=True))


def one_or_several(clients: np.ndarray, values: np.ndarray, n_clients: int) -> tuple[np.ndarray, np.ndarray]:
    """Per client (codes 0 to `n_clients` - 1): one of its value codes (-1 where it has none), and
    whether it has more than one; rows with a code of -1 are left out. Rows in any order, and no
    pair hashed: a client has several when one of its rows differs from the value it was given."""
    known = (clients >= 0) & (values >= 0)
    if not known.all():
        clients, values = clients[known], values[known]
    one = np.full(n_clients, -1, dtype=np.int64)
    one[clients] = values
    several = np.zeros(n_clients, dtype=bool)
    several[clients[values != one[clients]]] = True
    return one, several


def _sorted(frame: pd.DataFrame) -> bool:
    """Whether a stable sort by client and date would leave the rows where they are."""
    ids, dates = frame["client_id"].to_numpy(dtype=object), frame["date"].to_numpy()
    try:
        with np.errstate(invalid="ignore"):
            later = (ids[1:] > ids[:-1]) | ((ids[1:] == ids[:-1]) & (dates[1:] >= dates[:-1]))
    except TypeError:  # ids of mixed types: let the sort decide
        return False
    return bool(later.all())


class ClientRuns:
    """The runs of equal `client_id` in a table already in client order."""

    def __init__(self, client_ids):
        self.ids = np.asarray(client_ids)
        self.n = len(self.ids)
        new = np.ones(self.n, dtype=bool)
        new[1:] = self.ids[1:] != self.ids[:-1]
        self.first = np.flatnonzero(new)  # the row each run starts at
        self.run = np.cumsum(new) - 1  # per row: its run
        self.start = self.first[self.run] if self.n else np.zeros(0, dtype=np.int64)

    def positions(self, client_ids) -> np.ndarray:
        """Per row, the position of its client in `client_ids` (unique), -1 where it is not there.
        Each client is looked up once per run, not once per row as a reindex on the text ids would
        (see per_row)."""
        return pd.Index(client_ids).get_indexer(self.ids[self.first])[self.run]

    def number(self) -> np.ndarray:
        """1, 2, ... within each client (a group-by's cumcount + 1)."""
        return np.arange(self.n) - self.start + 1

    def lengths(self) -> np.ndarray:
        """Per client (in run order): how many rows it has."""
        return np.diff(np.append(self.first, self.n))

    def size(self) -> np.ndarray:
        """Per row: how many rows its client has."""
        return self.lengths()[self.run]

    def cumsum(self, values) -> np.ndarray:
        """Running total within each client."""
        total = np.cumsum(np.asarray(values, dtype=np.int64))
        before = np.concatenate([[0], total])[self.start]
        return total - before

    def totals(self, values) -> np.ndarray:
        """Per client (in run order): the sum of `values`."""
        values = np.asarray(values, dtype=np.int64)
        return np.add.reduceat(values, self.first) if self.n else np.zeros(0, dtype=np.int64)

    def shift(self, values, periods: int = 1) -> np.ndarray:
        """The client's value `periods` rows earlier (NaN on a client's first `periods` rows)."""
        values = np.asarray(values, dtype=float)
        out = np.full(self.n, np.nan)
        if periods < self.n:
            out[periods:] = values[:self.n - periods]
        out[self.number() <= periods] = np.nan
        return out

    def ffill(self, values) -> np.ndarray:
        """The client's last known (non-missing) value up to each row, NaN before the first."""
        values = np.asarray(values, dtype=float)
        known = np.where(~np.isnan(values), np.arange(self.n), -1)
        last = np.maximum.accumulate(known) if self.n else known
        out = values[np.maximum(last, 0)] if self.n else values
        return np.where(last >= self.start, out, np.nan)
