"""The canonical caseload: the three tables every analysis starts from, their fingerprint and the
therapists' anonymous labels."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from typing import Callable, Iterable, TypeVar

import numpy as np
import pandas as pd
from pandas.core.util.hashing import combine_hash_arrays  # how hash_pandas_object joins a row's columns
from threadpoolctl import threadpool_limits

from analytics.schema import letters

LABEL_SALT = "alliance-lens"
T = TypeVar("T")
R = TypeVar("R")


def fingerprint_frames(*frames: pd.DataFrame | None) -> str:
    """A short content hash of the tables; caches and recipes key on it instead of hashing data again."""
    digest = hashlib.sha256()
    for frame in frames:
        if frame is None:
            digest.update(b"<none>")
            continue
        digest.update(",".join(map(str, frame.columns)).encode())
        # a row's hash depends on that row alone, so blocks of rows are hashed side by side: the same
        # bytes in the same order
        columns = [_column_hash(frame.iloc[:, i]) for i in range(frame.shape[1])]
        for hashed in in_threads(lambda rows: combine_hash_arrays((h(rows) for h in columns), len(columns)),
                                 row_blocks(len(frame))):
            digest.update(hashed.tobytes())
    return digest.hexdigest()[:16]


def _column_hash(series: pd.Series) -> Callable[[slice], np.ndarray]:
    """The hash `pd.util.hash_pandas_object` gives each row of `series`, for a range of rows. A
    categorical's categories are hashed once, not once per range (a million client ids, 0.4 s each
    time), and each row takes its category's hash; a missing row (code -1) takes the last entry,
    pandas' mark for a missing value."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = pd.Series(series.cat.categories, copy=False)
        hashes = np.append(pd.util.hash_pandas_object(categories, index=False, categorize=False).to_numpy(),
                           np.iinfo(np.uint64).max)
        codes = series.cat.codes.to_numpy()
        return lambda rows: hashes[codes[rows]]
    return lambda rows: pd.util.hash_pandas_object(series.iloc[rows], index=False).to_numpy()


def in_threads(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(item) for item in items] side by side in threads, in the items' order: numpy's loops,
    pandas' hashing and pyarrow's kernels let go of the interpreter lock, so at a million clients
    the fingerprint's row ranges, a reader's columns and a table's column checks no longer wait for
    one another."""
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(fn, items))


def fits_in_threads(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`in_threads` for model fits, with numpy's BLAS on one thread meanwhile: each fit's matrix
    products would otherwise start BLAS threads of their own, and on two cores the fits' threads and
    BLAS's wait for one another (Room's five Cox models at 100,000 clients: 0.47-0.52 s in threads
    with BLAS on two threads, 0.38-0.43 s with one, 0.51-0.60 s one after the other). BLAS's thread
    count is process-wide: threadpoolctl lets the first session that limits it hold it until its fits
    are done, and another session's limit meanwhile changes nothing. Either count gives the same
    numbers (tested: models side by side equal the models one after the other with BLAS on two)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return in_threads(fn, items)


def row_blocks(n: int, size: int = 1 << 17) -> list[slice]:
    """`n` rows cut into blocks of `size` rows, for work that makes temporaries of every row it
    handles: a block's temporaries take memory freed by the block before, where fresh memory costs
    more than the work in it on a virtual machine (the fingerprint of 1M clients' 12 million
    appointments: 1.66 s in one range per core, 0.82 s in blocks of 131,072 rows)."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def row_ranges(n: int, minimum: int = 100_000) -> list[slice]:
    """`n` rows cut into one range per core (one range below `minimum` rows, where threads cost more
    than they save)."""
    parts = max(1, min(os.cpu_count() or 1, n // minimum))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass(frozen=True)
class Caseload:
    """Canonical sessions, clients and therapists tables (any may be None, not both sessions and clients).

    `export_date` is the date the export was taken; the latest date in the data unless given.
    `booked` holds the appointments booked but not yet held that the export carried (client_id,
    therapist_id, date; None when it had none): never sessions, so no episode or statistic uses
    them, nor the fingerprint (a cache keyed on it passes `booked` itself); the watch list reads each
    client's next booked appointment from them.
    `categorical` holds the importer's categoricals of the id and status columns, {table: (the
    table they describe, {column: pd.Categorical})}: their codes number each distinct id already,
    so per-client work need not hash a million ids again (see `categorical_of`).
    """

    sessions: pd.DataFrame | None = None
    clients: pd.DataFrame | None = None
    therapists: pd.DataFrame | None = None
    export_date: pd.Timestamp | None = None
    fingerprint: str = field(default="")
    booked: pd.DataFrame | None = None
    categorical: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if self.sessions is None and self.clients is None:
            raise ValueError("A caseload needs a sessions table or a clients table.")
        if self.export_date is None:
            object.__setattr__(self, "export_date", _latest_date(self.sessions, self.clients))
        if not self.fingerprint:
            object.__setattr__(
                self, "fingerprint", fingerprint_frames(self.sessions, self.clients, self.therapists)
            )

    @cached_property  # the sidebar shows it on every rerun; the tables never change
    def n_clients(self) -> int:
        ids = [_distinct(self, t, "client_id") for t in ("clients", "sessions") if getattr(self, t) is not None]
        return len(set().union(*ids))

    @cached_property
    def therapist_labels(self) -> dict:
        """One anonymous label per therapist of the whole caseload, so a filter or a page showing
        fewer therapists never relabels one (see anonymous_labels)."""
        ids = [_distinct(self, t, "therapist_id") for t in ("therapists", "clients", "sessions")
               if getattr(self, t) is not None and "therapist_id" in getattr(self, t)]
        return anonymous_labels(chain.from_iterable(ids))

    def categorical_of(self, table: str, column: str) -> pd.Categorical | None:
        """`table`'s `column` as the importer's categorical (the same values, row for row); None when
        there is none, or when the table held is not the one it was made for (a caseload copied with
        another table)."""
        frame, columns = self.categorical.get(table, (None, {}))
        return columns.get(column) if frame is not None and frame is getattr(self, table) else None

    @property
    def n_sessions(self) -> int:
        return 0 if self.sessions is None else len(self.sessions)


def _distinct(caseload: Caseload, table: str, column: str) -> list:
    """A column's distinct ids, missing left out, in no particular order: from each table on its own
    (from the importer's categorical when there is one), not from the tables joined (which makes
    text of every row)."""
    categorical = caseload.categorical_of(table, column)
    if categorical is None:
        return getattr(caseload, table)[column].dropna().unique().tolist()
    codes = categorical.codes
    present = np.bincount(codes[codes >= 0], minlength=len(categorical.categories)) > 0
    return categorical.categories[present].tolist()


def anonymous_labels(ids, salt: str = LABEL_SALT) -> dict:
    """Stable labels "Therapist A", "Therapist B", ... ("AA" after "Z"), assigned in the order of a
    salted hash of each id: the same ids always get the same labels, and the order says nothing about
    ids, caseload sizes or rates."""
    unique = list(dict.fromkeys(i for i in ids if not pd.isna(i)))
    order = sorted(unique, key=lambda i: hashlib.sha256(f"{salt}\x00{i}".encode()).hexdigest())
    return {i: f"Therapist {letters(rank)}" for rank, i in enumerate(order)}


def label_order(label: str) -> tuple[int, str]:
    """Sort key listing labels as the letters run: A ... Z, AA, AB (never by a therapist's rate)."""
    return len(str(label)), str(label)


def _latest_date(sessions: pd.DataFrame | None, clients: pd.DataFrame | None) -> pd.Timestamp | None:
    candidates = []
    if sessions is not None and "date" in sessions and len(sessions):
        candidates.append(sessions["date"].max())
    if clients is not None and "intake_date" in clients and clients["intake_date"].notna().any():
        candidates.append(clients["intake_date"].max())
    candidates = [c for c in candidates if pd.notna(c)]
    return max(candidates) if candidates else None
