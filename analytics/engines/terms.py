"""Model terms inside an engine: the same treatment coding, complete cases and checks as
analytics/models/design.py, with the rows left where they are.

A category's levels and counts, each term's mean, range and 0/1-ness, and the centred
cross-product matrix come back as aggregates; the kept terms are materialized once as a table of
centred columns `_x0.._x{p-1}`, which every Newton step of a model then reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analytics.engines.engine import Engine, whole
from analytics.models.design import categorical_levels, left_out_warning, missing_outcome_warning, usable_terms


def quoted(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def number(x: float) -> str:
    """A float as an SQL literal both dialects read as the same double (scientific notation is a
    DOUBLE in DuckDB and Spark; a plain decimal would be a DECIMAL)."""
    return f"CAST({float(x):.17e} AS DOUBLE)"


def text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def column(j: int) -> str:
    return f"_x{j}"


@dataclass
class EngineDesign:
    """The rows a model uses, inside the engine: `table` has the centred terms `_x0..` (original
    value = column + `center`) and the model's own columns under the names the caller gave."""

    table: str
    terms: list[str]
    center: np.ndarray
    n_used: int
    n_left_out: int
    n_total: int
    reference: dict[str, str] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def p(self) -> int:
        return len(self.terms)


def in_memory_only(**asked) -> list[str]:
    """The model features among `asked` that are fitted only in memory (natural splines, delayed
    entry, case weights), named for a message."""
    named = {"splines": "natural splines (splines)", "entry": "delayed entry (entry)",
             "weights": "case weights (weights)"}
    return [named[k] for k, v in asked.items() if v]


def refuse_in_memory_only(model: str, **asked) -> None:
    """Model features fitted only in memory, refused by name so an engine fit never quietly leaves
    them out."""
    given = in_memory_only(**asked)
    if given:
        raise ValueError(f"The {model} inside an engine has no {' or '.join(given)}; fit it in memory on the "
                         f"collected episodes (engine.collect) or leave {'them' if len(given) > 1 else 'it'} out.")


def build_design(engine: Engine, table: str, covariates: list[str], reference_levels: dict[str, str] | None,
                 keep: dict[str, str], valid: str = "TRUE", outcomes: dict[str, str] | None = None) -> EngineDesign:
    """Treatment-coded terms of `covariates` on the rows of `table` where every covariate and every
    `keep` expression is known and `valid` holds; `keep` maps an output column to its SQL expression
    (duration, event, cluster, stratum). `outcomes` maps each of the model's other episode columns
    (not a covariate) to the SQL condition under which it is usable, so rows left out for them are
    counted apart from rows missing a covariate. Same terms, reference levels and warnings as
    analytics.models.design.build_design."""
    reference_levels = dict(reference_levels or {})
    covariates = list(dict.fromkeys(covariates))
    present = set(engine.columns(table))
    missing = [c for c in covariates if c not in present]
    if missing:
        raise ValueError(f"These columns are not in the episodes table: {', '.join(missing)}.")
    complete = " AND ".join([f"{quoted(c)} IS NOT NULL" for c in covariates]
                            + [f"({e}) IS NOT NULL" for e in keep.values()] + [f"({valid})"])
    unusable = [f"NOT COALESCE({condition}, FALSE)" for condition in (outcomes or {}).values()]
    counts = engine.collect(
        f"SELECT COUNT(*) AS n, SUM(CASE WHEN {complete} THEN 1 ELSE 0 END) AS used, "
        f"SUM(CASE WHEN {' OR '.join(unusable) or 'FALSE'} THEN 1 ELSE 0 END) AS no_outcome"
        + "".join(f", SUM(CASE WHEN {u} THEN 1 ELSE 0 END) AS o{j}" for j, u in enumerate(unusable)) + f" FROM {table}")
    n_total, n_used = int(counts.at[0, "n"]), whole(counts.at[0, "used"])
    n_no_outcome = whole(counts.at[0, "no_outcome"])
    empty = [name for j, name in enumerate(outcomes or {}) if whole(counts.at[0, f"o{j}"])]
    warnings = [missing_outcome_warning(n_no_outcome, n_total, empty)] if n_no_outcome else []
    if n_total - n_used - n_no_outcome:
        warnings.append(left_out_warning(n_total - n_used - n_no_outcome, n_total))
    numeric = _numeric(engine, table, covariates)
    names, expressions, reference = [], [], {}
    for name in covariates:
        if numeric[name]:
            names.append(name)
            expressions.append(f"CAST({quoted(name)} AS DOUBLE)")
            continue
        value = f"CAST({quoted(name)} AS VARCHAR)"
        levels = engine.collect(f"SELECT {value} AS level, COUNT(*) AS n FROM {table} WHERE {complete} "
                                "GROUP BY 1 ORDER BY n DESC, level")["level"].tolist()
        ref, others, warning = categorical_levels(levels, name, reference_levels)
        reference[name] = ref
        if warning:
            warnings.append(warning)
        names += [f"{name}[{level}]" for level in others]
        expressions += [f"CASE WHEN {value} = {text(level)} THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END" for level in others]
    raw = engine.view(f"SELECT {', '.join([f'{e} AS {quoted(k)}' for k, e in keep.items()] + [f'{e} AS {column(j)}' for j, e in enumerate(expressions)])} "
                      f"FROM {table} WHERE {complete}")
    center, kept, markers = _screen(engine, raw, names, warnings)
    if covariates and not kept:
        warnings.append("None of the chosen covariates can enter the model; choose others or check the data.")
    terms = [names[j] for j in kept]
    columns = [f"{quoted(k)}" for k in keep] + [f"{column(j)} - {number(center[j])} AS {column(i)}" for i, j in enumerate(kept)]
    used = engine.materialize(f"SELECT {', '.join(columns)} FROM {raw}")
    return EngineDesign(used, terms, center[kept], n_used, n_total - n_used, n_total, reference,
                        [names[j] for j in markers if j in kept], warnings)


NUMERIC_TYPES = {"tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
                 "ubigint", "uhugeint", "float", "real", "double", "long", "short", "byte"}


def _numeric(engine: Engine, table: str, columns: list[str]) -> dict[str, bool]:
    """Whether each column is a number in the engine (DuckDB's or Spark's type names): numbers,
    including 0/1 markers, enter a model as themselves; text and booleans as categories, as
    analytics.models.design.is_categorical decides in memory."""
    if not columns:
        return {}
    kind = engine.types(table, columns)
    if not kind:  # no rows: nothing to fit, every column reads as a number
        return dict.fromkeys(columns, True)
    return {c: kind[c] in NUMERIC_TYPES or kind[c].startswith("decimal") for c in columns}


def _screen(engine: Engine, raw: str, names: list[str], warnings: list[str]) -> tuple[np.ndarray, list[int], list[int]]:
    """Each term's mean; which terms a model can use (not constant, not collinear: the rule of
    analytics.models.design.usable_terms on the centred cross-products); which are 0/1 markers."""
    p = len(names)
    if p == 0:
        return np.zeros(0), [], []
    parts = []
    for j in range(p):
        x = column(j)
        parts += [f"AVG({x}) AS m{j}", f"MIN({x}) AS lo{j}", f"MAX({x}) AS hi{j}",
                  f"SUM(CASE WHEN ROUND({x}, 9) IN (0, 1) THEN 0 ELSE 1 END) AS other{j}"]
    first = engine.collect(f"SELECT COUNT(*) AS n, {', '.join(parts)} FROM {raw}").iloc[0]
    if not first["n"]:  # no episode to fit: every term kept, as in memory, and the model says why
        return np.zeros(p), list(range(p)), []
    center = np.array([float(first[f"m{j}"]) for j in range(p)])
    constant = np.array([first[f"lo{j}"] == first[f"hi{j}"] for j in range(p)])
    markers = [j for j in range(p) if int(first[f"other{j}"]) == 0]
    centred = [f"({column(j)} - {number(center[j])})" for j in range(p)]
    pairs = [(j, k) for j in range(p) for k in range(j, p)]
    sums = engine.collect(f"SELECT {', '.join(f'SUM({centred[j]} * {centred[k]}) AS g{j}_{k}' for j, k in pairs)} FROM {raw}").iloc[0]
    gram = np.zeros((p, p))
    for j, k in pairs:
        gram[j, k] = gram[k, j] = float(sums[f"g{j}_{k}"])
    kept, _, why = usable_terms(names, constant, gram)
    warnings += why
    return center, kept, markers
