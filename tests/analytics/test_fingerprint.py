"""Work side by side in threads gives what the same work in one pass gives: the items' order, every
row once, and the fingerprint recipes store (one sha256 over the tables' row hashes)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from analytics import caseload
from analytics.caseload import fingerprint_frames, fits_in_threads, in_threads, row_blocks, row_ranges


@pytest.mark.parametrize("cores", [1, 2, 8])
@pytest.mark.parametrize("n", [0, 1, 99_999, 100_000, 250_001, 1_000_003])
def test_row_ranges_cover_every_row_once_in_order(monkeypatch, cores, n):
    monkeypatch.setattr(caseload.os, "cpu_count", lambda: cores)
    ranges = row_ranges(n)
    assert len(ranges) == max(1, min(cores, n // 100_000))
    assert np.array_equal(np.concatenate([np.arange(n)[r] for r in ranges]), np.arange(n))


@pytest.mark.parametrize("n", [0, 1, 131_071, 131_072, 131_073, 1_000_003])
def test_row_blocks_cover_every_row_once_in_order(n):
    blocks = row_blocks(n)
    assert len(blocks) == -(-n // 131_072)
    assert np.array_equal(np.concatenate([np.arange(n)[b] for b in blocks] or [np.arange(0)]), np.arange(n))


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_in_threads_keeps_the_items_order(monkeypatch, cores):
    monkeypatch.setattr(caseload.os, "cpu_count", lambda: cores)
    assert in_threads(lambda x: x * x, range(7)) == [0, 1, 4, 9, 16, 25, 36]
    assert in_threads(len, []) == []


def test_fits_in_threads_hold_blas_to_one_thread_whichever_thread_fits():
    """Each session's script runs in a thread of its own: a limit that only the first thread to set
    one could set (threadpoolctl's rule while that thread holds it) left later sessions' fits at two
    BLAS threads."""
    import threading

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    seen = {"main": fits_in_threads(lambda _: blas_threads(), [0, 1])}
    for session in ("a session", "the next session"):
        runner = threading.Thread(target=lambda: seen.update({session: fits_in_threads(lambda _: blas_threads(), [0])}))
        runner.start()
        runner.join(10)
    assert before  # numpy's BLAS was found
    one = [1] * len(before)
    assert seen == {"main": [one, one], "a session": [one], "the next session": [one]}
    assert blas_threads() == before


def test_the_fingerprint_in_row_blocks_is_the_one_pass_fingerprint():
    rng = np.random.default_rng(7)
    n = 350_001  # three blocks of rows
    sessions = pd.DataFrame({
        "client_id": pd.Categorical(rng.choice([f"C{i}" for i in range(5000)], n)),
        "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        "srs": np.where(rng.random(n) < 0.3, np.nan, rng.normal(35, 4, n)),
        # categories hashed once for every block: missing rows, unused and date categories, none at all
        "status": pd.Categorical(rng.choice(["attended", "no_show", None], n), categories=["attended", "no_show", "unused"]),
        "week": pd.Categorical(pd.Timestamp("2024-01-01") + pd.to_timedelta(7 * rng.integers(0, 50, n), unit="D")),
        "nothing": pd.Categorical([None] * n, categories=[]),
        "text": rng.choice(np.array(["a", "b", None], dtype=object), n),
    })
    clients = pd.DataFrame({"client_id": [f"C{i}" for i in range(5000)], "age": rng.integers(18, 80, 5000)})
    assert len(row_blocks(len(sessions))) == 3
    digest = hashlib.sha256()  # the algorithm recipes were written with: one pass over each table
    for frame in (sessions, clients, None):
        if frame is None:
            digest.update(b"<none>")
            continue
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    assert fingerprint_frames(sessions, clients, None) == digest.hexdigest()[:16]
