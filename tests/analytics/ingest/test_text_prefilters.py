"""The import judges a million distinct ids without a Python call per id: pyarrow picks the few
texts that stripping could change and the labels that could be totals, Python judges those. The
answers must be Python's own on every text, white space Python knows and pyarrow may not included."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given as for_all, settings
from hypothesis import strategies as st

from analytics.ingest.mapping import given, may_strip, to_ids
from analytics.ingest.readers import TOTAL_LABEL, _total_rows

# Python's white space includes the separators \x1c-\x1f, \x85 and \u2028; ſ is an s to re.IGNORECASE.
CHARS = " \t\n\x1c\x1f\x85\xa0\u2028\u3000aZé0-:ſ"
texts = st.lists(st.text(alphabet=CHARS, max_size=5), min_size=1, max_size=40)
WORDS = ["Total", "total", "TOTALS", "Sum", "ſum", "SUM", "Subtotal", "Grand total", "sub-total", "for", "of",
         "March", "C1", "Tot", "su m", "", " ", ":", "\x1c", "\u3000"]
labels = st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@for_all(texts)
def test_may_strip_is_true_exactly_where_python_could_strip(values):
    found = may_strip(np.array(values, dtype=object))
    expected = [v == "" or v[0].isspace() or v[-1].isspace() for v in values]
    assert found.tolist() == expected
    assert all(f for f, v in zip(found, values) if v.strip() != v or v.strip() == "")


@settings(max_examples=200, deadline=None)
@for_all(texts)
def test_given_and_ids_read_each_text_as_python_strips_it(values):
    series = pd.Series(pd.Categorical(values + [None]))
    assert given(series).tolist() == [v.strip() != "" for v in values] + [False]
    ids = to_ids(series)
    assert ids.astype(object).where(ids.notna(), None).tolist() == [v.strip() or None for v in values] + [None]


@settings(max_examples=300, deadline=None)
@for_all(labels)
def test_total_rows_are_the_labels_the_pattern_matches(values):
    frame = pd.DataFrame({"client": pd.Categorical(values), "fee": pd.Categorical(["90"] * len(values))})
    expected = [re.match(TOTAL_LABEL, v, re.IGNORECASE) is not None for v in values]
    assert _total_rows(frame).tolist() == expected


def test_a_long_s_total_is_a_total_row():
    frame = pd.DataFrame({"client": pd.Categorical(["C1", "ſum", "ſubtotal", "Summary"])})
    assert _total_rows(frame).tolist() == [False, True, True, False]


def test_a_text_pyarrow_cannot_hold_is_judged_in_python():
    series = pd.Series(pd.Categorical([" ", "Total", "x\udc80"]))  # a lone surrogate is no UTF-8
    assert given(series).tolist() == [False, True, True]
    assert _total_rows(pd.DataFrame({"client": series})).tolist() == [False, True, False]
