"""Dropout against planned completion as a binary outcome: design matrices shared by every model
(`design`), the outcome and its warnings (`outcome`), logistic regression and GEE clustered by
therapist (`regression`), the random-intercept model for the therapists' share of variance
(`random_intercept`), and Table 1 of the clients' baseline characteristics (`table_one`)."""

from analytics.models.design import Design, Encodings, build_design, is_categorical
from analytics.models.random_intercept import (
    RandomInterceptResult,
    fit_random_intercept,
)
from analytics.models.regression import (
    GEEResult,
    LogisticResult,
    comparison_table,
    fit_gee,
    fit_logistic,
    odds_ratio_sentences,
)
from analytics.models.table_one import TableOneResult
