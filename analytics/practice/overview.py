"""The director's overview: headline figures, how the dropout definition moves the rate, and dropout
by intake month and by the practice's own groupings (site, modality, referral, telehealth)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, available_definitions, derive_episodes
from analytics.practice.display import period_label, sentence_label
from analytics.proportions import (
    RATE_COUNTS,
    RATE_LINKED,
    RATE_PRIVACY,
    add_rate,
    chi_square_p,
    dropout_rates,
    known_counts,
    median_interval,
    percent,
    wilson_interval,
    yes_no,
)
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.schema import DEFINITION_LABELS, EVENT_COMPLETED, EVENT_DROPOUT
from analytics.suppression import suppress_small_cells

# Swift & Greenberg (2012), meta-analysis of 669 studies.
BENCHMARK = {"rate": 0.197, "ci_lower": 0.187, "ci_upper": 0.207, "source": "Swift & Greenberg (2012), 669 studies"}
BENCHMARK_CAVEAT = (
    "The published figure pools studies that defined dropout in different ways, "
    "so it is a rough yardstick, not a target."
)
DENOMINATOR_NOTE = ("Share of ended episodes (dropped out or completed); ongoing, transferred and other "
                    "episodes have no outcome and are not counted.")
BREAKDOWN_COLUMNS = ("site", "modality", "referral", "telehealth")
# Plain names for the levels of 0/1 groupings (after yes/no).
LEVEL_NAMES = {"telehealth": {"yes": "telehealth", "no": "in person"}}

AGREEMENT_COUNTS = ["compared", "both_dropout", "both_not", "disagree", "only_a", "only_b"]
AGREEMENT_PRIVACY = Privacy(tuple(AGREEMENT_COUNTS), {"disagree": ("agreement", "agreement_ci_lower", "agreement_ci_upper"),
                                               "compared": ("agreement", "agreement_ci_lower", "agreement_ci_upper")})


@dataclass
class Headline:
    """The overview's headline figures and the table behind them (one row per figure)."""

    clients: int
    sessions: int
    known: int
    dropouts: int
    rate: float
    ci_lower: float
    ci_upper: float
    median_sessions: float
    median_ci_lower: float
    median_ci_upper: float
    table: pd.DataFrame
    takeaway: str
    warnings: list[str] = field(default_factory=list)
    hidden: bool = False  # the rate and its counts are withheld (see for_display)
    privacy: ClassVar[Privacy] = NO_COUNTS  # one figure a row: for_display hides the private rows

    @property
    def n_used(self) -> int:
        return self.known

    @property
    def n_left_out(self) -> int:
        return self.clients - self.known

    def for_display(self, suppress_below: int) -> Headline:
        """The headline a director may see: when the ended episodes or the dropouts are fewer than
        `suppress_below`, the rate, its interval and both counts are withheld, and the takeaway says why."""
        counts = pd.DataFrame({"value": [self.known, self.dropouts]})
        if not suppress_small_cells(counts, ["value"], suppress_below)["suppressed"].any():
            return self
        table = self.table.copy()
        private = table["figure"].isin(["known outcomes", "dropouts", "dropout rate"])
        table.loc[private, ["value", "ci_lower", "ci_upper"]] = None
        table.loc[private, "note"] = f"hidden: fewer than {suppress_below}"
        return replace(self, table=table, rate=np.nan, ci_lower=np.nan, ci_upper=np.nan, hidden=True,
                       takeaway="Too few ended episodes to show a rate without revealing small numbers.")


@dataclass
class RateResult(Reported):
    """Dropout rate per level of one column (or per intake month), with a homogeneity test."""

    column: str
    table: pd.DataFrame
    p_value: float
    takeaway: str
    privacy: ClassVar[Privacy] = replace(RATE_PRIVACY, counts=RATE_PRIVACY.counts + ("ongoing",))


@dataclass
class SensitivityResult(Reported):
    """The rate under each available definition, and how often each pair of definitions agrees."""

    table: pd.DataFrame
    agreement: pd.DataFrame
    takeaway: str
    agreement_takeaway: str = ""
    privacy: ClassVar[Privacy] = RATE_PRIVACY


def definition_label(definition: str, settings: EpisodeSettings) -> str:
    if definition == "early":
        return f"Early (fewer than {settings.early_sessions} sessions attended)"
    if definition == "unilateral":
        return f"Unilateral (missed last appointment, over {settings.ongoing_window_days} days ago)"
    if definition == "unilateral_unimproved" and settings.outcome_measure:
        return f"Unilateral before reliable improvement on {settings.measures()[settings.outcome_measure].label}"
    return DEFINITION_LABELS[definition]


def headline(episodes: pd.DataFrame, sessions: pd.DataFrame | None = None) -> Headline:
    """Clients, appointments, the dropout rate (known outcomes) and the median sessions attended by
    clients whose episode has ended, each with its 95% interval where it has one."""
    event = episodes["event"].to_numpy()
    known_mask = np.isin(event, (EVENT_DROPOUT, EVENT_COMPLETED))
    clients, known, dropouts = len(episodes), int(known_mask.sum()), int((event == EVENT_DROPOUT).sum())
    if "sessions_scheduled" in episodes:
        n_sessions = int(episodes["sessions_scheduled"].sum())
    elif sessions is not None:
        n_sessions = int(sessions["client_id"].isin(episodes["client_id"]).sum())
    else:
        n_sessions = 0
    rate = dropouts / known if known else np.nan
    lower, upper = (float(v) for v in wilson_interval(dropouts, known))
    warnings = []
    if "sessions_attended" in episodes:
        median, m_lower, m_upper = median_interval(episodes.loc[known_mask, "sessions_attended"])
    else:
        median = m_lower = m_upper = np.nan
        warnings.append("Sessions attended are unknown without an appointment history (a sessions file).")
    if known == 0:
        warnings.append("No episode has a known outcome yet, so no dropout rate can be computed.")
    table = pd.DataFrame(
        [
            ("clients", clients, np.nan, np.nan, "client episodes after the filters"),
            ("appointments", n_sessions, np.nan, np.nan, "scheduled appointments of these clients"),
            ("known outcomes", known, np.nan, np.nan, "episodes that ended in dropout or completion"),
            ("dropouts", dropouts, np.nan, np.nan, "episodes that ended in dropout"),
            ("dropout rate", rate, lower, upper, DENOMINATOR_NOTE),
            ("median sessions attended", median, m_lower, m_upper, "clients whose episode has ended"),
            ("published benchmark", BENCHMARK["rate"], BENCHMARK["ci_lower"], BENCHMARK["ci_upper"], BENCHMARK["source"]),
        ],
        columns=["figure", "value", "ci_lower", "ci_upper", "note"],
    )
    return Headline(
        clients, n_sessions, known, dropouts, rate, lower, upper, median, m_lower, m_upper,
        table, _headline_takeaway(rate, lower, upper, known), warnings,
    )


def benchmark_comparison(lower: float, upper: float) -> str:
    """"higher than", "lower than" or "in line with" the published rate: in line only when the
    practice's 95% interval contains it (an interval wholly above or below it is a real difference)."""
    if lower > BENCHMARK["rate"]:
        return "higher than"
    if upper < BENCHMARK["rate"]:
        return "lower than"
    return "in line with"


def rate_text(rate: float, lower: float, upper: float) -> str:
    """The dropout rate as every output states it (dashboard, summary, methods): one decimal, its interval."""
    return f"{percent(rate, 1)} (95% CI {percent(lower, 1)} to {percent(upper, 1)})"


def _headline_takeaway(rate: float, lower: float, upper: float, known: int) -> str:
    if not known:
        return "No episode has ended yet, so the dropout rate is not known."
    return (
        f"{rate_text(rate, lower, upper)} of clients whose therapy has ended (dropped out or completed) "
        f"dropped out: {benchmark_comparison(lower, upper)} the published average of {percent(BENCHMARK['rate'], 1)}."
    )


def definition_outcomes(caseload: Caseload, settings: EpisodeSettings) -> dict[str, pd.Series]:
    """Each client's `event` under every definition the data support (the costly part of the
    comparison: derived once per dataset and settings, then filtered as the sidebar changes)."""
    return {
        definition: derive_episodes(caseload, replace(settings, dropout_definition=definition)).set_index("client_id")["event"]
        for definition in available_definitions(caseload, settings)
    }


def definition_sensitivity(
    caseload: Caseload, settings: EpisodeSettings, client_ids=None, suppress_below: int = 11,
    outcomes: dict[str, pd.Series] | None = None,
) -> SensitivityResult:
    """Compare the episodes under every definition the data support.

    `client_ids` restricts the comparison to the clients the sidebar's filters keep; `outcomes`
    (from `definition_outcomes`) saves deriving the episodes again. The agreement table counts,
    for each pair, the clients whose outcome is known under both definitions.
    """
    outcomes = definition_outcomes(caseload, settings) if outcomes is None else outcomes
    definitions = list(outcomes)
    if client_ids is not None:
        outcomes = {d: event.loc[event.index.isin(client_ids)] for d, event in outcomes.items()}
    rows = []
    for definition, event in outcomes.items():
        rows.append(
            {
                "definition": definition,
                "label": definition_label(definition, settings),
                "clients": len(event),
                "known": int(event.isin((EVENT_DROPOUT, EVENT_COMPLETED)).sum()),
                "dropouts": int((event == EVENT_DROPOUT).sum()),
            }
        )
    rates = add_rate(pd.DataFrame(rows, columns=["definition", "label"] + RATE_COUNTS))
    agreement = _pairwise_agreement(outcomes, settings)
    warnings = [] if len(definitions) > 1 else [
        "Only one dropout definition is possible with these data: the other definitions need "
        + ("the appointment history (a sessions file)." if "unilateral" not in definitions
           else "a `termination` column (the therapist's judgement of how the episode ended).")
    ]
    clients = len(next(iter(outcomes.values()))) if outcomes else 0
    return SensitivityResult(rates, agreement, _sensitivity_takeaway(rates, suppress_below),
                             _agreement_takeaway(agreement, suppress_below), warnings=warnings, n_used=clients)


def _agreement_takeaway(agreement: pd.DataFrame, suppress_below: int) -> str:
    """How often the first pair of definitions classes clients the same way (unless that reveals a small count)."""
    if agreement.empty:
        return ""
    if suppress_small_cells(agreement.head(1), AGREEMENT_COUNTS, suppress_below)["suppressed"].iloc[0]:
        return "Each bar shows how many clients two definitions class the same way."
    first = agreement.iloc[0]
    return (f"{percent(first['agreement'])} of the clients with a known outcome under both the "
            f"{first['definition_a'].lower()} and the {first['definition_b'].lower()} definitions are classed the same way.")


def _pairwise_agreement(outcomes: dict[str, pd.Series], settings: EpisodeSettings) -> pd.DataFrame:
    names = list(outcomes)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pair = pd.concat([outcomes[a].rename("a"), outcomes[b].rename("b")], axis=1, join="inner")
            both_known = pair.isin((EVENT_DROPOUT, EVENT_COMPLETED)).all(axis=1)
            pair = pair.loc[both_known]
            drop_a, drop_b = pair["a"] == EVENT_DROPOUT, pair["b"] == EVENT_DROPOUT
            rows.append(
                {
                    "definition_a": definition_label(a, settings),
                    "definition_b": definition_label(b, settings),
                    "compared": len(pair),
                    "both_dropout": int((drop_a & drop_b).sum()),
                    "both_not": int((~drop_a & ~drop_b).sum()),
                    "disagree": int((drop_a != drop_b).sum()),
                    "only_a": int((drop_a & ~drop_b).sum()),
                    "only_b": int((~drop_a & drop_b).sum()),
                }
            )
    columns = ["definition_a", "definition_b", "compared", "both_dropout", "both_not", "disagree", "only_a", "only_b"]
    table = pd.DataFrame(rows, columns=columns)
    agree = table["both_dropout"] + table["both_not"]
    table["agreement"] = np.where(table["compared"] > 0, agree / table["compared"].where(table["compared"] > 0), np.nan)
    table["agreement_ci_lower"], table["agreement_ci_upper"] = wilson_interval(agree, table["compared"])
    return table




def _sensitivity_takeaway(rates: pd.DataFrame, suppress_below: int) -> str:
    shown = suppress_small_cells(rates, RATE_COUNTS, suppress_below, RATE_LINKED).dropna(subset=["rate"])
    if shown.empty:
        return "Too few episodes have ended to compare the dropout definitions."
    if len(shown) == 1:
        row = shown.iloc[0]
        return f"Only one definition can be computed here: {row['label']}, {percent(row['rate'])}."
    low, high = shown.loc[shown["rate"].idxmin()], shown.loc[shown["rate"].idxmax()]
    return (
        f"The definition moves the dropout rate from {percent(low['rate'])} ({_flat(low['label'])}) "
        f"to {percent(high['rate'])} ({_flat(high['label'])}): say which one you use when you quote a rate."
    )


def _flat(label: str) -> str:
    """A definition label for use inside parentheses: "Early (fewer than 4 ...)" -> "early, fewer than 4 ..."."""
    return label.lower().replace(" (", ", ").replace(")", "")


def breakdown_columns(episodes: pd.DataFrame) -> list[str]:
    """The groupings the overview can show: those present with at least two known levels."""
    return [c for c in BREAKDOWN_COLUMNS if c in episodes and episodes[c].nunique(dropna=True) >= 2]


def breakdown_heading(column: str) -> str:
    """The heading of a breakdown ("By site", "By telehealth"), in the display dictionary's words."""
    return f"By {sentence_label(column)}"


def breakdown_absent_note(shown: list[str]) -> str | None:
    """Which breakdowns are left out, in words, because their column is missing or has one value
    (`shown`: breakdown_columns)."""
    absent = [sentence_label(c) for c in BREAKDOWN_COLUMNS if c not in shown]
    return f"Not shown (no column with at least two values): {', '.join(absent)}." if absent else None


def dropout_by(episodes: pd.DataFrame, column: str, suppress_below: int = 11) -> RateResult:
    """Dropout rate per level of `column` (numbers with many values are cut into quartiles)."""
    if column not in episodes:
        raise ValueError(f"There is no {column!r} column in the episodes; map one in the data step to see this view.")
    data = episodes
    values = episodes[column]
    if values.dropna().isin((0, 1)).all() and (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        data = episodes.assign(**{column: yes_no(values).replace(LEVEL_NAMES.get(column, {}))})
    elif pd.api.types.is_numeric_dtype(values) and values.nunique() > 8:
        data = episodes.assign(**{column: pd.qcut(values, 4, duplicates="drop").astype(str).where(values.notna())})
    table = dropout_rates(data, column)
    warnings = []
    if (table[column] == "unknown").any():
        n_unknown = int(table.loc[table[column] == "unknown", "clients"].sum())
        warnings.append(f"{n_unknown} clients have no {column} recorded; they are shown as 'unknown'.")
    tested = table.loc[table[column] != "unknown"]
    p = chi_square_p(tested)
    return RateResult(column, table, p, _group_takeaway(table, column, p, suppress_below), warnings=warnings,
                      **known_counts(episodes))


def p_text(p: float) -> str:
    """A p value as a reader sees it: "p < 0.001", "p = 0.043"."""
    if not np.isfinite(p):
        return "no test possible"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _group_takeaway(table: pd.DataFrame, column: str, p: float, suppress_below: int) -> str:
    name = column.replace("_", " ")
    shown = suppress_small_cells(table, RATE_COUNTS, suppress_below, RATE_LINKED)
    shown = shown.loc[(shown[column] != "unknown") & shown["rate"].notna()]
    if len(shown) < 2:
        return f"Too few clients per {name} group to compare dropout rates without revealing small numbers."
    low, high = shown.loc[shown["rate"].idxmin()], shown.loc[shown["rate"].idxmax()]
    evidence = (
        "a difference larger than chance would easily produce" if p < 0.05
        else "a difference that could well be chance"
    )
    return (
        f"By {name}, dropout ranges from {percent(low['rate'])} ({low[column]}) to "
        f"{percent(high['rate'])} ({high[column]}): {evidence} ({p_text(p)})."
    )


def dropout_by_intake_month(episodes: pd.DataFrame, suppress_below: int = 11, period: str = "auto") -> RateResult:
    """Dropout rate by month (or quarter) of intake, with the number of clients still ongoing.

    `period="auto"` uses quarters when a typical month has fewer dropouts than the privacy threshold
    (monthly points would mostly be hidden). Recent periods carry a warning: dropouts happen early and
    completions late, so among clients who started recently the ended episodes are mostly dropouts.
    """
    if "intake_date" not in episodes or episodes["intake_date"].isna().all():
        raise ValueError("Intake dates are unknown: map an intake date column or load the appointment history.")
    if period not in ("auto", "month", "quarter"):
        raise ValueError("period must be 'auto', 'month' or 'quarter'.")
    intake = pd.to_datetime(episodes["intake_date"])
    if period == "auto":
        monthly = episodes["event"].eq(EVENT_DROPOUT).groupby(intake.dt.to_period("M")).sum()
        period = "quarter" if suppress_below > 1 and len(monthly) and monthly.median() < suppress_below else "month"
    freq = "M" if period == "month" else "Q"
    table = dropout_rates(episodes.assign(intake_period=intake.dt.to_period(freq).dt.to_timestamp()), "intake_period")
    table = table.loc[table["intake_period"] != "unknown"].reset_index(drop=True)
    # a month or quarter, not its first day: the table reads "Q1 2024" as the takeaway does
    table["intake_period"] = pd.to_datetime(table["intake_period"]).dt.to_period(freq)
    table["ongoing"] = table["clients"] - table["known"]
    warnings = []
    provisional = table.loc[table["ongoing"] / table["clients"] > 0.5, "intake_period"]
    if len(provisional):
        warnings.append(
            f"In {len(provisional)} intake {period}(s) from {period_label(provisional.min())} most clients are still in "
            "therapy; their rates count mostly early endings, which are more often dropouts, so read them as provisional."
        )
    settled = (table["ongoing"] / table["clients"]) <= 0.5
    p = chi_square_p(table.loc[settled])
    shown = suppress_small_cells(table, RATE_COUNTS, suppress_below, RATE_LINKED).dropna(subset=["rate"])
    shown = shown.loc[settled.reindex(shown.index)]
    if len(shown) >= 2:
        first, last = shown.iloc[0], shown.iloc[-1]
        takeaway = (
            f"Dropout was {percent(first['rate'])} for clients who started in {period_label(first['intake_period'])} and "
            f"{percent(last['rate'])} for those who started in {period_label(last['intake_period'])}; "
            + (f"differences between {period}s are larger than chance." if p < 0.05
               else f"differences between {period}s are within what chance produces.")
        )
    else:
        takeaway = f"Too few {period}s with enough ended episodes to show a trend."
    return RateResult(period, table, p, takeaway, warnings=warnings, **known_counts(episodes))


def incidence_takeaway(cif_table: pd.DataFrame, unit: str = "session") -> str:
    """When dropout happens, from the overall cumulative incidence table (analytics.survival): the
    time by which half of the dropouts seen had happened, and where dropout and completion stand at the end."""
    if cif_table.empty or cif_table["cif_dropout"].iloc[-1] <= 0:
        return "No dropouts yet, so there is no timing to show."
    final = cif_table.iloc[-1]
    half = cif_table.loc[cif_table["cif_dropout"] >= 0.5 * final["cif_dropout"], "time"].iloc[0]
    return (
        f"Half of the dropouts seen so far happened by {unit} {half:g}; by {unit} {final['time']:g}, "
        f"{percent(final['cif_dropout'])} of clients had dropped out and {percent(final['cif_completed'])} had completed."
    )
