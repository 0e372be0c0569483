"""Model matrices: reference levels, complete cases and the columns a model cannot use."""

import numpy as np
import pandas as pd

from analytics.models.design import build_design


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
