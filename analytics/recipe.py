"""The analysis recipe: every choice that changes a number, saved as JSON so an analysis can be
re-run exactly (in the app or with `python -m analytics report`).

A recipe written for output also records the data fingerprint and the package versions, so a
reader can tell whether a re-run used the same data and software.
"""

from __future__ import annotations

import functools
import json
import platform
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import metadata

import pandas as pd

from analytics.episodes import EpisodeSettings
from analytics.ingest.mapping import Mapping
from analytics.outcomes import Measure
from analytics.schema import DEFINITIONS, LANDMARK_MEASURES, TIME_SCALES
from analytics.suppression import DEFAULT_THRESHOLD

RECIPE_VERSION = 1
MISSING_COVARIATES = ("complete_case", "multiple_imputation")
FILTER_KEYS = ("sites", "therapists", "intake_from", "intake_to")
FIGURE_DEFAULTS = {"width_mm": 85.0, "height_mm": 70.0, "font_size": 8.0, "dpi": 300}
FIGURE_LIMITS = {"width_mm": (10, 500), "height_mm": (10, 500), "font_size": (4, 36), "dpi": (50, 2400)}
EPISODE_KEYS = [f.name for f in fields(EpisodeSettings)]
MEASURE_KEYS = ("name", "low", "high", "higher_is_better", "cutoff", "reliable_change")
VERSIONED_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "plotly", "kaleido", "openpyxl")


def restored_message(file_name: str, saved_on: str | None, fingerprint: str | None) -> tuple[str, str]:
    """("success" | "warning", sentence) after a recipe was restored: a warning when it was saved
    on other data, whose numbers this data cannot reproduce."""
    if saved_on and saved_on != fingerprint:
        return "warning", (f"Settings restored from {file_name}. It was saved on different data (another "
                           "fingerprint), so the numbers will differ from the original run.")
    return "success", f"Settings restored from {file_name}."


class RecipeError(ValueError):
    """A recipe key or value that cannot be used; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Recipe:
    """Every choice that changes a number. In JSON the episode settings stand as top-level keys
    (`dropout_definition`, `early_sessions`, ...), named as in `EpisodeSettings`."""

    episodes: EpisodeSettings = field(default_factory=EpisodeSettings)
    km_group: str | None = None
    entry: str | None = None
    weights: str | None = None
    rmst_tau: float | None = None
    table_one_group: str | None = None
    covariates: tuple[str, ...] = ()
    reference_levels: dict = field(default_factory=dict)
    splines: dict = field(default_factory=dict)
    missing_covariates: str = "complete_case"
    imputations: int = 20
    cluster: str | None = "therapist_id"
    strata: tuple[str, ...] = ()
    landmark_session: int = 3
    landmark_measure: str | None = None
    filters: dict = field(default_factory=lambda: dict.fromkeys(FILTER_KEYS))
    suppress_below: int = DEFAULT_THRESHOLD
    target_rate: float | None = None  # the practice's own dropout target (a proportion), drawn on the Overview
    mapping: dict | None = None
    figure: dict = field(default_factory=lambda: dict(FIGURE_DEFAULTS))
    data_fingerprint: str | None = None
    versions: dict = field(default_factory=dict)
    recipe_version: int = RECIPE_VERSION

    def __post_init__(self):
        _validate(self)

    # --- conversions ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d = asdict(self)
        d["covariates"], d["strata"] = list(self.covariates), list(self.strata)
        return {**d.pop("episodes"), **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        if not isinstance(data, dict):
            raise RecipeError("A recipe must be a JSON object of settings ({...}).")
        allowed = EPISODE_KEYS + [f.name for f in fields(cls) if f.name != "episodes"]
        unknown = [k for k in data if k not in allowed]
        if unknown:
            raise RecipeError(f"Recipe key {unknown[0]!r} is unknown; allowed keys: {', '.join(allowed)}.")
        data = dict(data)
        data["episodes"] = _episode_settings({k: data.pop(k) for k in EPISODE_KEYS if k in data})
        for key in ("covariates", "strata"):
            if key in data:
                data[key] = _string_tuple(key, data[key])
        if "filters" in data:
            data["filters"] = _filters(data["filters"])
        if "figure" in data:
            data["figure"] = _figure(data["figure"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecipeError(f"The recipe is not valid JSON ({exc}).") from None
        return cls.from_dict(data)

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    @classmethod
    def load(cls, path) -> Recipe:
        with open(path, "rb") as f:
            return cls.from_json(f.read())

    # --- what the recipe means --------------------------------------------------------------

    def filter_kwargs(self) -> dict:
        """Arguments for `episodes.filter_episodes`."""
        f = self.filters
        return {
            "sites": list(f.get("sites") or []),
            "therapists": list(f.get("therapists") or []),
            "intake_from": None if f.get("intake_from") is None else pd.Timestamp(f["intake_from"]),
            "intake_to": None if f.get("intake_to") is None else pd.Timestamp(f["intake_to"]),
        }

    def figure_kwargs(self) -> dict:
        """Arguments for `export.figure_bytes`."""
        return {**FIGURE_DEFAULTS, **self.figure}

    def for_output(self, fingerprint: str | None) -> Recipe:
        """The recipe as written next to results: with the data fingerprint and package versions."""
        return replace(self, data_fingerprint=fingerprint, versions=package_versions())


def package_versions() -> dict:
    """The versions of Python and the packages the numbers depend on (a fresh dict each call)."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict:
    """Read once per process: the packages a process runs with do not change while it runs, and
    reading their metadata took a fifth of a cached Overview run (its summary button's recipe)."""
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# --- validation -----------------------------------------------------------------------------

def _validate(r: Recipe) -> None:
    if not isinstance(r.episodes, EpisodeSettings):
        raise RecipeError("A recipe's episode settings must be an EpisodeSettings.")
    _integer("suppress_below", r.suppress_below, 0)
    if r.target_rate is not None and (isinstance(r.target_rate, bool) or not isinstance(r.target_rate, (int, float))
                                      or not 0 < r.target_rate < 1):
        raise RecipeError(f"Recipe key 'target_rate' is {r.target_rate!r}; it must be a proportion between 0 and 1 "
                          "(0.2 for 20%) or null.")
    _choice("missing_covariates", r.missing_covariates, MISSING_COVARIATES)
    _integer("imputations", r.imputations, 2)
    tau = r.rmst_tau
    if tau is not None and (isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0):
        raise RecipeError(f"Recipe key 'rmst_tau' is {tau!r}; use a positive number of sessions or days (the "
                          "horizon of the restricted mean), or null for the shortest group's last observed time.")
    _integer("landmark_session", r.landmark_session, 1)
    if r.landmark_measure is not None:
        _choice("landmark_measure", r.landmark_measure, LANDMARK_MEASURES)
    for key in ("km_group", "entry", "weights", "table_one_group", "cluster", "data_fingerprint"):
        value = getattr(r, key)
        if value is not None and not isinstance(value, str):
            raise RecipeError(f"Recipe key {key!r} must be a column name (text) or null, not {value!r}.")
    object.__setattr__(r, "covariates", _string_tuple("covariates", r.covariates))
    object.__setattr__(r, "strata", _string_tuple("strata", r.strata))
    if not isinstance(r.reference_levels, dict) or not all(isinstance(k, str) for k in r.reference_levels):
        raise RecipeError("Recipe key 'reference_levels' must map a covariate name to its reference level, "
                          'e.g. {"referral": "self"}.')
    if not isinstance(r.splines, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1 for k, v in r.splines.items()):
        raise RecipeError("Recipe key 'splines' must map a numeric covariate to the degrees of freedom of its natural "
                          'spline (a whole number of at least 1), e.g. {"age": 3}.')
    object.__setattr__(r, "filters", _filters(r.filters))
    object.__setattr__(r, "figure", _figure(r.figure))
    if r.mapping is not None:
        _mapping(r.mapping)
    if not isinstance(r.versions, dict):
        raise RecipeError("Recipe key 'versions' must be an object of package: version.")
    if r.recipe_version != RECIPE_VERSION:
        raise RecipeError(f"Recipe key 'recipe_version' is {r.recipe_version!r}; this version reads {RECIPE_VERSION}.")


def _episode_settings(values: dict) -> EpisodeSettings:
    """The episode settings from a recipe's top-level keys, each checked with a message naming it."""
    if "dropout_definition" in values:
        _choice("dropout_definition", values["dropout_definition"], DEFINITIONS)
    if "time_scale" in values:
        _choice("time_scale", values["time_scale"], TIME_SCALES)
    for key, low in (("early_sessions", 1), ("ongoing_window_days", 0)):
        if key in values:
            _integer(key, values[key], low)
    for key in ("srs_rupture_drop", "srs_rupture_cutoff", "wai_rupture_drop", "wai_rupture_cutoff"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RecipeError(f"Recipe key {key!r} is {value!r}; it must be a number"
                              + (" or null." if key.endswith("cutoff") else "."))
    if "outcome_measures" in values:
        values["outcome_measures"] = _measures(values["outcome_measures"])
    try:
        return EpisodeSettings(**values)
    except ValueError as exc:
        key = "outcome_measure" if "Unknown outcome measure" in str(exc) else "outcome_measures"
        raise RecipeError(f"Recipe key {key!r}: {exc}") from None


def _measures(value) -> tuple[Measure, ...]:
    """Measures a user registers: a list of objects with MEASURE_KEYS (label and source optional)."""
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(m, Measure) for m in value):
        return value
    if not isinstance(value, (list, tuple)):
        raise RecipeError("Recipe key 'outcome_measures' must be a list of measures, e.g. "
                          '[{"name": "bdi2", "low": 0, "high": 63, "higher_is_better": false, "cutoff": 14, '
                          '"reliable_change": 6}].')
    out = []
    for item in value:
        item = _object("outcome_measures", item, MEASURE_KEYS + ("label", "source"))
        missing = [k for k in MEASURE_KEYS if k not in item]
        if missing:
            raise RecipeError(f"Recipe key 'outcome_measures.{missing[0]}' is missing; each measure needs "
                              f"{', '.join(MEASURE_KEYS)}.")
        if not isinstance(item["name"], str) or not item["name"].isidentifier():
            raise RecipeError(f"Recipe key 'outcome_measures.name' is {item['name']!r}; use the sessions column name "
                              "(letters, digits and _).")
        if not isinstance(item["higher_is_better"], bool):
            raise RecipeError("Recipe key 'outcome_measures.higher_is_better' must be true or false.")
        for key in ("low", "high", "cutoff", "reliable_change"):
            if isinstance(item[key], bool) or not isinstance(item[key], (int, float)):
                raise RecipeError(f"Recipe key 'outcome_measures.{key}' is {item[key]!r}; it must be a number.")
        try:
            out.append(Measure(**{"label": item["name"], **item}))
        except ValueError as exc:
            raise RecipeError(f"Recipe key 'outcome_measures': {exc}") from None
    return tuple(out)


def _choice(key: str, value, allowed) -> None:
    if value not in allowed:
        raise RecipeError(f"Recipe key {key!r} is {value!r}; allowed values: {', '.join(allowed)}.")


def _integer(key: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise RecipeError(f"Recipe key {key!r} is {value!r}; it must be a whole number of at least {low}.")


def _string_tuple(key: str, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"Recipe key {key!r} must be a list of column names, not {value!r}.")
    return tuple(value)


def _object(key: str, value, allowed) -> dict:
    """A recipe key whose value is an object with some of `allowed` keys (null for none)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecipeError(f"Recipe key '{key}' must be an object with keys {', '.join(allowed)}.")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise RecipeError(f"Recipe key '{key}.{unknown[0]}' is unknown; allowed keys: {', '.join(allowed)}.")
    return value


def _filters(value) -> dict:
    value = _object("filters", value, FILTER_KEYS)
    out = dict.fromkeys(FILTER_KEYS)
    for key in ("sites", "therapists"):
        items = value.get(key)
        if items is not None and not isinstance(items, (list, tuple)):
            raise RecipeError(f"Recipe key 'filters.{key}' must be a list (empty for all), not {items!r}.")
        out[key] = list(items) if items else []
    for key in ("intake_from", "intake_to"):
        day = value.get(key)
        if day is None or day == "":
            continue
        try:
            out[key] = pd.Timestamp(day).date().isoformat()
        except (ValueError, TypeError):
            raise RecipeError(f"Recipe key 'filters.{key}' is {day!r}; use a date as YYYY-MM-DD or null.") from None
    return out


def _figure(value) -> dict:
    out = {**FIGURE_DEFAULTS, **_object("figure", value, FIGURE_DEFAULTS)}
    for key, (low, high) in FIGURE_LIMITS.items():
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise RecipeError(f"Recipe key 'figure.{key}' is {v!r}; use a number from {low} to {high}.")
    return {k: int(v) if k == "dpi" else float(v) for k, v in out.items()}


def _mapping(value) -> None:
    if not isinstance(value, dict):
        raise RecipeError("Recipe key 'mapping' must be the column mapping object saved by the app, or null.")
    try:
        Mapping.from_dict(value)
    except ValueError as exc:
        raise RecipeError(f"Recipe key 'mapping': {exc}") from None
