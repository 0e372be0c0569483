"""The team-meeting summary: one or two printed pages a director hands out, in plain words.

It reads the same results as the dashboard pages (their takeaways, with small counts suppressed),
names no therapist and no client, and is printed to PDF by the Chromium the figure export already
uses. `python -m analytics summary` and the Overview's button both call `meeting_summary` and
`summary_pdf`, so the two give the same document.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.caseload import Caseload
from analytics.episodes import derive_episodes, filter_episodes
from analytics.output.export import html_pdf_bytes
from analytics.practice import overview, periods, room_match, therapists, watch_list
from analytics.proportions import percent
from analytics.recipe import Recipe

PAPERS = {"a4": "A4", "letter": "letter"}
CAUSE_CAVEAT = ("These are links in this practice's own data, adjusted for case mix; they show where a change "
                "is worth trying, not proof that it will work.")


@dataclass
class Summary:
    """The summary's words: a title line, then (heading, paragraphs) sections, then notes."""

    title: str
    subtitle: str
    sections: list[tuple[str, list[str]]]
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Everything the summary says, as plain text (what the PDF prints)."""
        parts = [self.title, self.subtitle]
        for heading, paragraphs in self.sections:
            parts += [heading, *paragraphs]
        return "\n\n".join(parts + self.notes)

    def html(self, paper: str = "a4") -> str:
        """A self-contained page (no scripts, no external files) laid out for `paper`."""
        if paper not in PAPERS:
            raise ValueError(f"Unknown paper size {paper!r}; use one of {', '.join(PAPERS)}.")
        e = html_lib.escape
        body = [f"<h1>{e(self.title)}</h1>", f"<p class='sub'>{e(self.subtitle)}</p>"]
        for heading, paragraphs in self.sections:
            body.append(f"<h2>{e(heading)}</h2>" + "".join(f"<p>{e(p)}</p>" for p in paragraphs))
        body.append("<footer>" + "".join(f"<p>{e(n)}</p>" for n in self.notes) + "</footer>")
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(self.title)}</title>"
                f"<style>@page {{ size: {PAPERS[paper]}; margin: 16mm 18mm; }} {_CSS}</style></head>"
                f"<body>{''.join(body)}</body></html>")


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; line-height: 1.4; color: #111; }
h1 { font-size: 16pt; margin: 0 0 2pt; }
h2 { font-size: 11.5pt; margin: 12pt 0 3pt; border-bottom: 0.6pt solid #999; break-after: avoid; }
p { margin: 0 0 5pt; }
p.sub { color: #444; margin-bottom: 8pt; }
footer { margin-top: 12pt; font-size: 8.5pt; color: #444; }
"""


def meeting_summary(caseload: Caseload, recipe: Recipe = Recipe(), episodes: pd.DataFrame | None = None) -> Summary:
    """Compose the summary of `caseload` under `recipe` (definition, filters, privacy threshold,
    target). `episodes` saves deriving them again when the caller has them (the dashboard)."""
    if episodes is None:
        episodes = filter_episodes(derive_episodes(caseload, recipe.episodes), **recipe.filter_kwargs())
    below = recipe.suppress_below
    sessions = caseload.sessions
    if sessions is not None:
        sessions = sessions.loc[sessions["client_id"].isin(episodes["client_id"])]
    settings = recipe.episodes
    h = overview.headline(episodes).for_display(below)
    rate = [h.takeaway, f"Dropout here means: {overview.definition_label(settings.dropout_definition, settings)}. "
            f"{overview.DENOMINATOR_NOTE}"]
    if not h.hidden:
        rate.append(f"That is {h.dropouts:,} dropouts among {h.known:,} ended episodes, of {h.clients:,} clients "
                    f"in all. {overview.BENCHMARK_CAVEAT}")
    sections = [
        ("Our dropout rate", rate),
        ("Over time", _guarded(lambda: _over_time(episodes, recipe))),
        ("How the definition moves the rate", _guarded(lambda: [overview.definition_sensitivity(
            caseload, settings, client_ids=episodes["client_id"], suppress_below=below).takeaway])),
        ("What the practice can change", _guarded(lambda: _changeable(episodes, below))),
        ("Therapists who may need support", _guarded(lambda: _support(episodes, recipe.cluster or "therapist_id"))),
        ("Clients to check in with", _guarded(lambda: _watch(sessions, episodes, below))),
    ]
    export = "" if caseload.export_date is None else f", data up to {pd.Timestamp(caseload.export_date):%d %B %Y}"
    notes = [f"De-identified: no client or therapist is named, and counts of fewer than {below} clients are "
             "hidden." if below > 1 else "De-identified: no client or therapist is named.",
             "Made with Alliance Lens from the practice's own records; the dashboard shows every number here "
             "with its table and chart."]
    return Summary("Dropout: summary for the team meeting", f"{len(episodes):,} client episodes{export}.",
                   sections, notes)


def summary_pdf(summary: Summary, paper: str = "a4") -> bytes:
    """The summary printed to PDF on A4 or Letter (needs Chromium, as figure export does)."""
    return html_pdf_bytes(summary.html(paper))


def _guarded(compose) -> list[str]:
    """A section's paragraphs, or the plain reason the data cannot give it."""
    try:
        return compose()
    except ValueError as exc:
        return [_reason(exc)]


def _reason(exc: ValueError) -> str:
    """An analysis' own message, unless it quotes a number (which may be a small count)."""
    message = str(exc)
    return "There are too few records for this part." if re.search(r"\d", message) else message


def _over_time(episodes: pd.DataFrame, recipe: Recipe) -> list[str]:
    out = [periods.period_comparison(episodes, recipe.suppress_below, recipe.target_rate).takeaway]
    if "intake_date" in episodes and episodes["intake_date"].notna().any():
        out.append(overview.dropout_by_intake_month(episodes, recipe.suppress_below).takeaway)
    return out


def _changeable(episodes: pd.DataFrame, suppress_below: int) -> list[str]:
    """For the room, the match and the five habits: the largest clear link with dropout (95%
    interval of the adjusted hazard ratio not containing 1, at least `suppress_below` dropouts)."""
    families = [("The room", room_match.room_vs_dropout, "room rating", " (per point higher rating)",
                 room_match.rating_columns, "no room ratings are in these files."),
                ("Therapist-client match", room_match.match_vs_dropout, "match factor", "",
                 room_match.match_columns, "no match factor can be worked out from these files."),
                ("The five habits", None, "habit", " (when done)",
                 room_match.habit_columns, "none of them is recorded in these files.")]
    out = []
    for name, build, what, unit, recorded, absent in families:
        if not recorded(episodes):
            out.append(f"{name}: {absent}")
            continue
        try:
            if build is None:
                table = room_match.habits_scorecard(episodes, suppress_below=suppress_below).table
                rows = table.loc[table["found"]].assign(label=lambda t: "'" + t["habit"].str.lower() + "'")
            else:
                rows = build(episodes).hazard
        except ValueError as exc:
            out.append(f"{name}: {_reason(exc)}")
            continue
        clear = rows.loc[np.isfinite(rows["hr"]) & ((rows["hr_ci_upper"] < 1) | (rows["hr_ci_lower"] > 1))
                         & (rows["events"] >= suppress_below)]
        if clear.empty:
            out.append(f"{name}: no {what} shows a clear link with dropout once case mix is taken into account.")
            continue
        r = clear.loc[np.log(clear["hr"]).abs().idxmax()]
        size = f"{percent(1 - r['hr'])} less" if r["hr"] < 1 else f"{percent(r['hr'] - 1)} more"
        others = f"; {len(clear) - 1} more {what}(s) show a clear link too" if len(clear) > 1 else ""
        out.append(f"{name}: the largest link is {r['label']}{unit}, with {size} dropout at any point in therapy "
                   f"(hazard ratio {r['hr']:.2f}, 95% CI {r['hr_ci_lower']:.2f} to {r['hr_ci_upper']:.2f}){others}.")
    return out + [CAUSE_CAVEAT]


def _support(episodes: pd.DataFrame, cluster: str) -> list[str]:
    funnel = therapists.therapist_funnel(episodes, cluster)
    zone = funnel.table["zone"]  # the Therapists page's zones: every therapist has one, hidden counts or not
    placed = int(zone.isin(therapists.ZONES).sum())
    above, below = (int((zone == z).sum()) for z in ("above", "below"))
    return [f"{above} of {placed} therapists had more dropout than expected for their caseload (above the 95% "
            f"limits of the funnel plot; about {0.025 * placed:.1f} would be by chance alone), and {below} had less. "
            "No one is named here: the Therapists page is for a supportive one-to-one conversation, not a ranking."]


def _watch(sessions: pd.DataFrame | None, episodes: pd.DataFrame, suppress_below: int) -> list[str]:
    result = watch_list.watch_list(sessions, episodes)
    table = result.table
    high = int((table["risk"] >= 0.5).sum())
    high_text = f"fewer than {suppress_below}" if 0 < high < suppress_below else f"{high:,}"
    return [f"{len(table):,} clients are in therapy now; {high_text} of them have an estimated dropout risk of 50% or "
            "more. The Watch list page names them, with the reasons, for the therapists concerned. "
            + watch_list.ranking_reading(result.accuracy)]
