"""Model matrices: reference levels, complete cases and the columns a model cannot use."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models.design import Encodings, build_design


def _episodes():
    return pd.DataFrame(
        {
            "age": [20.0, 30.0, 40.0, 50.0, np.nan, 60.0],
            "referral": ["self", "court", "self", "family", "self", "court"],
            "site": ["A"] * 6,
            "twice_age": [40.0, 60.0, 80.0, 100.0, np.nan, 120.0],
            "marker": [1, 1, 1, 1, 1, 1],
        }
    )


def test_treatment_coding_against_the_chosen_reference_on_complete_cases():
    d = build_design(_episodes(), ["age", "referral"], {"referral": "court"})
    assert d.terms == ["age", "referral[family]", "referral[self]"]
    assert d.n_left_out == 1 and list(d.rows) == [0, 1, 2, 3, 5]
    assert d.X["referral[self]"].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert d.reference == {"referral": "court"}


def test_default_reference_is_the_most_common_level():
    assert build_design(_episodes(), ["referral"]).reference == {"referral": "self"}


def test_constant_single_level_and_collinear_columns_are_named():
    d = build_design(_episodes(), ["age", "site", "twice_age", "marker"])
    assert d.terms == ["age"]
    text = " ".join(d.warnings)
    assert "site has the same value (A)" in text
    assert "marker has the same value" in text
    assert "twice_age can be computed exactly" in text


def test_no_usable_covariate_is_said_plainly():
    d = build_design(_episodes(), ["site", "marker"])
    assert d.terms == [] and any("None of the chosen covariates" in w for w in d.warnings)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["a", "b", "c", "d", 1, "1", 2.0, True, None]), min_size=1, max_size=40),
       st.lists(st.booleans(), min_size=40, max_size=40), st.booleans())
def test_a_category_shared_between_models_is_coded_as_on_its_own_rows(values, other_known, categorical):
    """The levels, reference and 0/1 terms of a category read from an Encodings shared by several
    models are those of its own complete cases read as text: levels by frequency, ties as
    value_counts orders them (the property behind room_vs_dropout's shared case mix)."""
    column = pd.Series(values, dtype="category" if categorical else object)
    other = pd.Series(np.where(other_known[:len(values)], 1.0, np.nan))
    table = pd.DataFrame({"group": column, "other": other})
    shared = Encodings(table)
    build_design(table, ["group"], encodings=shared)  # an earlier model on other rows
    design = build_design(table, ["group", "other"], encodings=shared)
    used = column[column.notna() & other.notna()].astype(str)
    levels = used.value_counts().index.tolist()
    if len(levels) < 2:
        assert [t for t in design.terms if t.startswith("group[")] == []
        return
    assert design.reference["group"] == levels[0]
    others = sorted(levels[1:])
    for level in others:
        assert design.X[f"group[{level}]"].tolist() == (used == level).astype(float).tolist()
    assert [t for t in design.terms if t.startswith("group[")] == [f"group[{level}]" for level in others]


def test_dates_read_as_the_models_own_rows_read_them():
    """A date column's levels are written as its used rows write them: dates alone when those rows
    have no time of day, even when a left-out row has one."""
    table = pd.DataFrame({
        "seen": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-03-01 10:30"], format="ISO8601"),
        "age": [20.0, 30.0, 40.0, np.nan],
    })
    design = build_design(table, ["seen", "age"], encodings=Encodings(table))
    assert design.reference == {"seen": "2024-01-01"} and design.terms == ["seen[2024-02-01]", "age"]
