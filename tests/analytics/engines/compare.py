"""Equality of an engine's episodes with the in-memory path's: the same columns in the same order,
counts, events, labels and dates exactly equal, floating means to 1e-12 relative (an engine sums
in another order than numpy, so only the last bits may differ)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from analytics.engines.report import _canonical_types


def collected(engine, view: str) -> pd.DataFrame:
    return _canonical_types(engine.collect(view).sort_values("client_id", kind="stable").reset_index(drop=True))


def assert_same_episodes(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs)
    for column in theirs.columns:
        a, b = ours[column], theirs[column]
        if pd.api.types.is_datetime64_any_dtype(b):
            assert (pd.to_datetime(a).astype("datetime64[ns]").to_numpy() == b.to_numpy()).sum() + \
                (a.isna().to_numpy() & b.isna().to_numpy()).sum() == len(b), column
        elif pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-12, atol=0, equal_nan=True,
                                       err_msg=column)
            if pd.api.types.is_integer_dtype(b):
                assert pd.api.types.is_integer_dtype(a), column
        else:
            left = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in a.tolist()]
            right = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in b.tolist()]
            assert left == right, column


def assert_same_table(ours: bytes, theirs: bytes) -> None:
    """Two CSV files of a report bundle hold the same table (floats to 1e-12 relative)."""
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(ours)), pd.read_csv(io.BytesIO(theirs)),
                                  check_exact=False, rtol=1e-12)
