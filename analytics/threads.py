"""Work spread over the machine's cores in threads: numpy's array loops, pandas' hashing and
pyarrow's kernels let go of the interpreter lock, so independent columns or row ranges of a large
table are processed side by side (at a million clients each such step was one core's work)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def mapped(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(item) for item in items], in threads, in the items' order."""
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def row_ranges(n: int, minimum: int = 100_000) -> list[slice]:
    """`n` rows cut into one range per core (one range below `minimum` rows, where threads cost more
    than they save)."""
    parts = max(1, min(os.cpu_count() or 1, n // minimum))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
