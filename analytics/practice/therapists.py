"""Therapist comparisons without a league table: a funnel plot and shrunken rates.

Denominator: a therapist's episodes with a known outcome (dropout or planned completion), as for the
practice's dropout rate and the models; ongoing episodes have no outcome yet (`clients` counts all
episodes, `known` the denominator).

- Control limits around the practice rate p0 are exact binomial limits, interpolated between the
  integer counts as in Spiegelhalter (2005, Stat Med 24:1185), so they are smooth in the number of
  clients and right for small caseloads where the normal approximation is not: 95% (z 1.96) and
  99.8% (z 3.09). A therapist outside the 99.8% limits differs by more than chance would give in
  about 1 of 500 comparisons; outside the 95% limits is expected for 1 therapist in 20 by chance.
- The shrunken rate is the empirical-Bayes (beta-binomial) estimate: (dropouts + a) / (known + a + b),
  with a, b fitted by maximum likelihood to all therapists' counts. Small caseloads are pulled most
  towards the practice rate, which is what a rate from few clients deserves.
- The raw rate's interval is Wilson's.

Privacy: one rule for the funnel, the table and the interval plot (FunnelResult.privacy, the
small-cell rule of analytics/suppression.py): a therapist whose counts are hidden is not drawn at
its place, but it still appears, by its label and its zone (within, above or below the 95% limits),
which says which way it differs without giving its rate away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analytics.practice.display import level_label
from analytics.proportions import wilson_interval
from analytics.results import Privacy
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT

LEVELS = {"95": 0.95, "998": 0.998}
ZONES = ("above", "within", "below")
FLAGS = {"above": "more dropout than expected for their caseload",
         "below": "less dropout than expected for their caseload", "within": ""}
LIMIT_POINTS = 300
MAX_PRECISION = 1e7  # a + b at which the beta prior is taken as "no variation beyond chance"


@dataclass
class FunnelResult:
    table: pd.DataFrame
    limits: pd.DataFrame
    practice_rate: float
    prior_a: float
    prior_b: float
    warnings: list[str] = field(default_factory=list)
    privacy: ClassVar[Privacy] = Privacy(
        ("clients", "known", "dropouts"),
        {"known": ("rate", "shrunk_rate", "ci_lower", "ci_upper"), "dropouts": ("rate", "shrunk_rate", "ci_lower", "ci_upper")},
    )

    @property
    def n_used(self) -> int:
        """Clients with a known outcome: the ones a rate counts."""
        return int(self.table["known"].sum())

    @property
    def n_left_out(self) -> int:
        return int(self.table["clients"].sum()) - self.n_used

    @property
    def takeaway(self) -> str:
        """How many therapists lie above and below the limits (their zones are shown for every
        therapist, hidden counts or not), against how many would by chance alone."""
        placed = int(self.table["zone"].isin(ZONES).sum())
        above, below = (int((self.table["zone"] == z).sum()) for z in ("above", "below"))
        outside998 = int(self.table["outside_998"].sum())
        return (f"Of {placed} therapists, {above} {_have(above)} {FLAGS['above']} and {below} {_have(below)} less "
                f"(outside the 95% limits; about {0.05 * placed:.1f} would be by chance alone); {outside998} "
                f"{'lies' if outside998 == 1 else 'lie'} outside the 99.8% limits (about {0.002 * placed:.1f} by chance).")

    def hidden(self, suppress_below: int) -> np.ndarray:
        """Per row of `table`: whether the therapist's counts are hidden (the one rule of `privacy`)."""
        return self.privacy.suppress(self.table, suppress_below)["suppressed"].to_numpy()

    def hidden_note(self, suppress_below: int) -> str:
        """What the funnel leaves out, and where those therapists are: their zones, by count."""
        hidden = self.hidden(suppress_below)
        if not hidden.any():
            return ""
        zones = self.table.loc[hidden, "zone"].value_counts()
        where = ", ".join(f"{int(zones[z])} {level_label(z)}" for z in ZONES if z in zones)
        return (f"{int(hidden.sum())} therapists with counts below {suppress_below} are not drawn (their place would "
                f"give their counts away); they are in the table below by zone: {where}.")


def private_effects(effects: pd.DataFrame, funnel: FunnelResult, suppress_below: int) -> pd.DataFrame:
    """The interval plot's table under the funnel's privacy rule: a therapist whose counts are hidden
    keeps its row, without its estimate and interval (they would narrow down its counts)."""
    hidden = funnel.table.loc[funnel.hidden(suppress_below), "therapist_id"]
    out = effects.copy()
    out.loc[out["therapist_id"].isin(hidden), ["effect", "ci_lower", "ci_upper"]] = np.nan
    return out


def _have(count: int) -> str:
    return "has" if count == 1 else "have"


def therapist_funnel(episodes: pd.DataFrame, cluster: str = "therapist_id") -> FunnelResult:
    """Per therapist: clients, known, dropouts, rate (Wilson interval), shrunk_rate, and whether the
    rate lies outside the 95% and 99.8% funnel limits around the practice rate; the limit curves."""
    if cluster not in episodes or "event" not in episodes:
        raise ValueError(f"The episodes table needs {cluster!r} and 'event' columns for the therapist comparison.")
    notes = []
    has_id = episodes[cluster].notna().to_numpy()
    if (~has_id).any():
        notes.append(f"{int((~has_id).sum())} episodes have no therapist and are not part of the comparison.")
    event = episodes["event"].to_numpy()[has_id]  # two columns, not a copy of the whole table
    counts = pd.DataFrame(
        {
            "therapist_id": episodes[cluster].to_numpy()[has_id],
            "clients": 1,
            "known": np.isin(event, (EVENT_DROPOUT, EVENT_COMPLETED)).astype(int),
            "dropouts": (event == EVENT_DROPOUT).astype(int),
        }
    )
    table = counts.groupby("therapist_id", sort=True)[["clients", "known", "dropouts"]].sum().reset_index()
    k = table["dropouts"].to_numpy(dtype=float)
    n = table["known"].to_numpy(dtype=float)
    total = n.sum()
    p0 = float(k.sum() / total) if total else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        table["rate"] = np.where(n > 0, k / n, np.nan)
    table["ci_lower"], table["ci_upper"] = wilson_interval(k, n)
    a, b, why = beta_binomial_prior(k[n > 0], n[n > 0])
    notes += why
    table["shrunk_rate"] = np.where(n > 0, (k + a) / (n + a + b), np.nan)
    rate = table["rate"].to_numpy()
    for name, level in LEVELS.items():
        lower, upper = funnel_limits(n, p0, level)
        table[f"outside_{name}"] = (n > 0) & ((rate < lower) | (rate > upper))
        if name == "95":
            table["zone"] = np.where(n == 0, None, np.where(rate > upper, "above", np.where(rate < lower, "below", "within")))
    table["flag"] = table["zone"].map(FLAGS)
    empty = int((n == 0).sum())
    if empty:
        notes.append(f"{empty} therapists have no client with a known outcome yet and are not placed on the funnel.")
    columns = ["therapist_id", "clients", "known", "dropouts", "rate", "shrunk_rate", "ci_lower", "ci_upper",
               "outside_95", "outside_998", "zone", "flag"]
    return FunnelResult(table[columns], limit_curves(p0, int(n.max()) if len(n) else 0), p0, a, b, notes)


def funnel_limits(n, p0: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial control limits for a proportion from n trials around p0, interpolated
    (Spiegelhalter 2005): for the quantile r of Binomial(n, p0) at probability q,
    limit = (r - alpha) / n with alpha = (F(r) - q) / (F(r) - F(r - 1))."""
    n = np.asarray(n, dtype=float)
    out = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = stats.binom.ppf(q, n, p0)
            upper_cdf = stats.binom.cdf(r, n, p0)
            alpha = (upper_cdf - q) / (upper_cdf - stats.binom.cdf(r - 1, n, p0))
            limit = np.clip((r - alpha) / n, 0, 1)
        out.append(np.where(n > 0, limit, np.nan))
    return out[0], out[1]


def limit_curves(p0: float, largest: int) -> pd.DataFrame:
    """The funnel's limit curves at every caseload size up to a little beyond the largest (beyond
    LIMIT_POINTS sizes, LIMIT_POINTS sizes spaced evenly on a log scale)."""
    top = max(int(np.ceil(largest * 1.1)), 2)
    if top <= LIMIT_POINTS:
        known = np.arange(1, top + 1)
    else:
        known = np.unique(np.round(np.geomspace(1, top, LIMIT_POINTS)).astype(int))
    curves = {"known": known, "practice_rate": np.full(len(known), p0)}
    for name, level in LEVELS.items():
        curves[f"lower_{name}"], curves[f"upper_{name}"] = funnel_limits(known, p0, level)
    return pd.DataFrame(curves)[["known", "practice_rate", "lower_95", "upper_95", "lower_998", "upper_998"]]


def beta_binomial_prior(k: np.ndarray, n: np.ndarray) -> tuple[float, float, list[str]]:
    """Beta(a, b) prior for the therapists' true rates, by maximum likelihood of the beta-binomial.
    Where therapists vary no more than chance, a + b runs to the cap and every rate shrinks to the
    practice rate (said in a warning)."""
    if len(n) == 0 or n.sum() == 0:
        return float("nan"), float("nan"), []
    p0 = k.sum() / n.sum()
    if p0 in (0.0, 1.0):
        return (MAX_PRECISION * p0, MAX_PRECISION * (1 - p0),
                ["Every therapist's rate is the same (no dropouts or only dropouts); nothing to shrink."])

    def negative(theta):
        mean, precision = special.expit(theta[0]), np.exp(theta[1])
        a, b = mean * precision, (1 - mean) * precision
        return -np.sum(special.betaln(k + a, n - k + b) - special.betaln(a, b))

    start = np.array([special.logit(p0), np.log(10.0)])
    result = optimize.minimize(negative, start, method="Nelder-Mead",
                               bounds=[(-15, 15), (np.log(0.01), np.log(MAX_PRECISION))],
                               options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 2000})
    mean, precision = float(special.expit(result.x[0])), float(np.exp(result.x[1]))
    notes = []
    if precision >= MAX_PRECISION * 0.99:
        notes.append("Dropout rates differ between therapists no more than chance would produce: every shrunken "
                     "rate equals the practice rate.")
    return mean * precision, (1 - mean) * precision, notes
