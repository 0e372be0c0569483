"""Model matrices shared by every regression: dummies with chosen reference levels, complete cases,
and plain warnings for columns a model cannot use (constant or collinear)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.models.splines import NaturalSpline


@dataclass
class Design:
    """The model terms for the rows a model can use, and what was left out and why."""

    X: pd.DataFrame
    rows: pd.Index
    n_left_out: int
    terms: list[str]
    reference: dict[str, str] = field(default_factory=dict)
    columns_dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    splines: dict[str, NaturalSpline] = field(default_factory=dict)


def is_categorical(series: pd.Series) -> bool:
    """Text, categories and booleans are categorical; numbers, including 0/1 markers, are numeric."""
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def levels_by_frequency(values: pd.Series) -> list[str]:
    """A categorical column's levels as text, most common first (the default reference level)."""
    return values.dropna().astype(str).value_counts().index.tolist()


def build_design(
    episodes: pd.DataFrame,
    covariates: list[str] | tuple[str, ...],
    reference_levels: dict[str, str] | None = None,
    extra_columns: list[str] | tuple[str, ...] = (),
    encodings: Encodings | None = None,
    splines: dict[str, int] | None = None,
) -> Design:
    """Treatment-coded terms (`name[level]`) against the chosen reference level (default: the most
    common level), on complete cases of the covariates and `extra_columns` (e.g. duration, cluster).
    `encodings` lets several models of one table share the work on its columns. `splines` maps a
    numeric covariate to the degrees of freedom of its natural spline (`name[ns1]`, ...; R's
    `ns(name, df)`)."""
    reference_levels = dict(reference_levels or {})
    splines = dict(splines or {})
    missing = [c for c in list(covariates) + list(extra_columns) if c not in episodes]
    if missing:
        raise ValueError(f"These columns are not in the episodes table: {', '.join(missing)}.")
    for name in splines:
        if name not in covariates or is_categorical(episodes[name]):
            raise ValueError(f"A natural spline needs a numeric covariate of the model; {name!r} is "
                             f"{'not one of the covariates' if name not in covariates else 'not numeric'}.")
    needed = list(dict.fromkeys(list(covariates) + list(extra_columns)))
    table = encodings if encodings is not None and encodings.table is episodes else Encodings(episodes)
    given = {c: table.known(c) for c in needed}
    complete = np.logical_and.reduce([given[c] for c in needed]) if needed else np.ones(len(episodes), bool)
    rows = np.flatnonzero(complete)  # positions: only the columns used are read, the table can be wide
    warnings: list[str] = []
    n_left_out = int((~complete).sum())
    outcome = [c for c in extra_columns if c not in covariates]
    no_outcome = ~np.logical_and.reduce([given[c] for c in outcome]) if outcome else np.zeros(len(episodes), bool)
    if no_outcome.any():
        empty = [c for c in outcome if not given[c].all()]
        warnings.append(missing_outcome_warning(int(no_outcome.sum()), len(episodes), empty))
    if (~complete & ~no_outcome).any():
        warnings.append(left_out_warning(int((~complete & ~no_outcome).sum()), len(episodes)))
    terms, blocks, reference, bases = [], [], {}, {}
    for name in covariates:
        if name in splines:
            values = episodes[name].to_numpy(dtype=float, na_value=np.nan)[rows]
            bases[name] = NaturalSpline.from_data(values, splines[name])
            found = Terms(bases[name].term_names(name), bases[name].basis(values))
        else:
            found = table.terms(name, rows, reference_levels)
        terms += found.names
        blocks.append(found.values)
        if found.reference is not None:
            reference[name] = found.reference
        if found.warning:
            warnings.append(found.warning)
    index = episodes.index[rows]
    X = pd.DataFrame(np.hstack(blocks) if blocks else np.empty((len(rows), 0)), index=index, columns=terms)
    X, dropped, why = _usable_columns(X)
    warnings += why
    if list(covariates) and X.shape[1] == 0:
        warnings.append("None of the chosen covariates can enter the model; choose others or check the data.")
    return Design(X, index, n_left_out, list(X.columns), reference, dropped, warnings, bases)


@dataclass
class Terms:
    """One covariate as model terms: names, values (rows x terms), reference level and a warning."""

    names: list[str]
    values: np.ndarray
    reference: str | None = None
    warning: str | None = None


class Encodings:
    """The columns of one table as models read them, worked out once for every model fitted on it
    (one model per factor with the same case mix, each on its own complete cases): which rows are
    known, and a category's text as integer codes. A model then takes its rows' share of each."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self._known: dict[str, np.ndarray] = {}
        self._text: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def read(self, names: list[str]) -> Encodings:
        """Work out the columns' encodings now, before models fitted side by side in threads would
        each work them out at once."""
        for name in names:
            self.known(name)
            column = self.table[name]
            if is_categorical(column) and not _is_time(column):
                self.text_codes(name)
        return self

    def known(self, name: str) -> np.ndarray:
        if name not in self._known:
            self._known[name] = self.table[name].notna().to_numpy()
        return self._known[name]

    def text_codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the code of the column's value as text, and the texts by code. The text is
        coded, not the value: a model's levels are text, and values equal in Python can read
        differently (True and 1) or alike (1 and "1")."""
        if name not in self._text:
            codes, texts = pd.factorize(self.table[name].astype(str))
            self._text[name] = (codes, np.asarray(texts, dtype=object))
        return self._text[name]

    def terms(self, name: str, rows: np.ndarray, reference_levels: dict) -> Terms:
        """A number as itself; a category as one 0/1 term per level other than the reference, the
        levels counted on `rows` (positions of the table) as `levels_by_frequency` counts them."""
        column = self.table[name]
        if not is_categorical(column):
            return Terms([name], column.to_numpy(dtype=float, na_value=np.nan)[rows][:, None])
        if _is_time(column):
            # how a date reads depends on the dates read with it (with a time of day or without): on these rows
            mine, texts = pd.factorize(column.iloc[rows].astype(str))
            texts = np.asarray(texts, dtype=object)
        else:
            codes, texts = self.text_codes(name)
            mine = codes[rows]
        seen = pd.unique(mine)  # in order of first appearance, as value_counts lists them before sorting
        counts = pd.Series(np.bincount(mine, minlength=len(texts))[seen], index=pd.Index(texts[seen], dtype=object))
        ref, others, warning = categorical_levels(counts.sort_values(ascending=False).index.tolist(), name, reference_levels)
        position = pd.Index(others, dtype=object).get_indexer(texts)[mine]
        return Terms([f"{name}[{level}]" for level in others], (position[:, None] == np.arange(len(others))).astype(float),
                     ref, warning)


def _is_time(column: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column)


def left_out_warning(n_left_out: int, n_total: int) -> str:
    return f"{n_left_out:,} of {n_total:,} episodes were left out because a chosen covariate is missing for them."


def missing_outcome_warning(n_left_out: int, n_total: int, columns: list[str]) -> str:
    return f"{n_left_out:,} of {n_total:,} episodes were left out because their {' or '.join(columns)} is missing."


def categorical_levels(levels: list[str], name: str, reference_levels: dict) -> tuple[str, list[str], str | None]:
    """From a category's levels (most common first): the reference level, the levels that get a
    term (sorted), and a warning when there is only one level."""
    ref = str(reference_levels.get(name, levels[0] if levels else ""))
    if levels and ref not in levels:
        raise ValueError(
            f"Reference level {ref!r} of {name!r} does not occur in the data; choose one of "
            f"{', '.join(map(str, levels[:10]))}."
        )
    warning = (f"{name} has the same value ({ref}) for every episode used, so it was left out of the model."
               if len(levels) < 2 else None)
    return ref, sorted(level for level in levels if level != ref), warning


def _usable_columns(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Drop constant columns, then each column that is a linear combination of the ones before it,
    judged on the centred cross-product matrix (one pass over the rows, then p x p algebra)."""
    if X.empty or X.shape[1] == 0:
        return X, [], []
    values = X.to_numpy(dtype=float)
    is_constant = np.nanmax(values, axis=0) == np.nanmin(values, axis=0)
    centred = values - values.mean(axis=0)
    kept, dropped, warnings = usable_terms(list(X.columns), is_constant, centred.T @ centred)
    return (X if len(kept) == X.shape[1] else X.iloc[:, kept]), dropped, warnings


def usable_terms(names: list[str], is_constant: np.ndarray, gram: np.ndarray) -> tuple[list[int], list[str], list[str]]:
    """Which terms a model can use, from per-term constancy and the centred cross-product matrix
    (computed in memory or by an engine): the kept positions, the dropped names and why."""
    constant = [n for n, c in zip(names, is_constant) if c]
    warnings = [f"{c} has the same value for every episode used, so it was left out of the model." for c in constant]
    kept: list[int] = []
    collinear: list[str] = []
    for j, name in enumerate(names):
        if is_constant[j]:
            continue
        if kept:
            b = gram[kept, j]
            residual = gram[j, j] - b @ np.linalg.solve(gram[np.ix_(kept, kept)], b)
        else:
            residual = gram[j, j]
        if residual > 1e-8 * gram[j, j]:
            kept.append(j)
        else:
            collinear.append(name)
    if collinear:
        warnings.append(
            f"{', '.join(collinear)} can be computed exactly from other covariates (collinear), so "
            f"{'it was' if len(collinear) == 1 else 'they were'} left out; drop or merge one of them."
        )
    return kept, constant + collinear, warnings


def group_labels(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """String labels for a grouping column and their order (category order, else sorted values).

    Labels are what users read: a 0/1 marker becomes "no"/"yes", whole-number floats lose ".0".
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = list(values.cat.categories)
    else:
        levels = sorted(values.dropna().unique().tolist(), key=lambda v: (isinstance(v, str), v))
    yes_no = _is_yes_no(levels)
    names = [("yes" if v else "no") if yes_no else _label(v) for v in levels]
    mapping = dict(zip(levels, names))
    return values.map(mapping).astype(object), names


def _is_yes_no(levels: list) -> bool:
    return bool(levels) and all(
        isinstance(v, (bool, np.bool_, int, np.integer, float, np.floating)) and v in (0, 1) for v in levels
    )


def _label(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
