"""The team-meeting summary on the bundled sample: the numbers it states (worked out here from the
episodes, not from its own helpers), de-identified plain words, and a PDF of one or two pages on A4
and Letter from the library and the command line."""

from __future__ import annotations

import io
import re

import pypdf
import pytest

from analytics.episodes import derive_episodes
from analytics.ingest.load import load_caseload, load_sample
from analytics.output.summary import meeting_summary, summary_pdf
from analytics.practice.therapists import therapist_funnel
from analytics.practice.watch_list import watch_list
from analytics.recipe import Recipe
from analytics.synth import generate_caseload
from tests.command_line import run_cli
from tests.director_words import unreadable
from tests.paths import FIXTURES, ROOT

POINTS = {"a4": (595.92, 842.88), "letter": (612, 792)}


@pytest.fixture(scope="module")
def sample():
    caseload = load_sample().caseload
    return caseload, derive_episodes(caseload, Recipe().episodes)


@pytest.fixture(scope="module")
def summary(sample):
    caseload, episodes = sample
    return meeting_summary(caseload, Recipe(target_rate=0.2), episodes)


def test_summary_states_the_rate_against_the_benchmark(summary, sample):
    _, episodes = sample
    dropouts, ended = int((episodes["event"] == 1).sum()), int(episodes["event"].isin((1, 2)).sum())
    text = summary.text()
    assert f"{100 * dropouts / ended:.1f}% (95% CI" in text
    assert f"That is {dropouts:,} dropouts among {ended:,} ended episodes, of {len(episodes):,} clients" in text
    assert "higher than the published average of 19.7%" in text  # 22.7%, interval 20.4-25.1 excludes 19.7
    assert "the practice's target of 20.0%" in text
    headings = [h for h, _ in summary.sections]
    assert headings == ["Our dropout rate", "Over time", "How the definition moves the rate",
                        "What the practice can change", "Therapists who may need support", "Clients to check in with"]


def test_summary_counts_therapists_and_names_what_can_change(summary, sample):
    _, episodes = sample
    funnel = therapist_funnel(episodes)
    t = funnel.table
    above = int((t["outside_95"] & (t["rate"] > funnel.practice_rate)).sum())
    text = summary.text()
    assert f"{above} of {len(t)} therapists had more dropout than expected for their caseload" in text
    # the sample's true effects (sample_data/README.md): privacy and transparency lower dropout
    assert "The room: the largest link is room privacy" in text
    assert "'be transparent' (when done), with" in text


def test_summary_says_whether_the_watch_list_ranking_can_be_relied_on(summary, sample):
    caseload, episodes = sample
    accuracy = watch_list(caseload.sessions, episodes).accuracy.iloc[0]
    assert accuracy["ci_lower"] > 0.5  # the sample's ranking beats chance
    clients = dict(summary.sections)["Clients to check in with"][0]
    assert clients.endswith(f"The model's ranking is good (AUC {accuracy['auc']:.2f}, 95% CI {accuracy['ci_lower']:.2f} "
                            f"to {accuracy['ci_upper']:.2f} on ended episodes the model had not seen): use it to decide "
                            "whom to check in with, not as a verdict.")
    # 60 clients: one held-out dropout, no interval; the summary passed this over
    small = generate_caseload(n_clients=60, n_therapists=4, seed=7).caseload()
    clients = dict(meeting_summary(small).sections)["Clients to check in with"][0]
    assert clients.endswith("Too few of the ended episodes the model had not seen ended each way to judge the ranking "
                            "(AUC 0.75, no interval): do not rely on it.")


def test_summary_is_plain_and_de_identified(summary, sample):
    caseload, episodes = sample
    text = summary.text()
    assert unreadable(text) == []
    ids = set(episodes["therapist_id"].dropna()) | set(episodes["client_id"])
    assert not any(re.search(rf"\b{re.escape(i)}\b", text) for i in ids)


def test_summary_hides_a_small_practice_rate(sample):
    caseload, episodes = sample
    small = episodes.head(40)
    text = meeting_summary(caseload, Recipe(suppress_below=2000), small).text()
    assert "Too few ended episodes to show a rate" in text
    dropouts = int((small["event"] == 1).sum())
    assert f"{dropouts} dropouts" not in text


def test_summary_says_what_the_files_do_not_record():
    """An EHR export without room ratings, match attributes or habits: the summary read "The room:
    There are too few records for this part." and "The five habits: no habit shows a clear link"."""
    caseload = load_caseload({"sessions": FIXTURES / "ehr_appointments.csv",
                              "clients": FIXTURES / "ehr_clients.csv"}).caseload
    changeable = dict(meeting_summary(caseload).sections)["What the practice can change"]
    assert changeable[:3] == ["The room: no room ratings are in these files.",
                              "Therapist-client match: no match factor can be worked out from these files.",
                              "The five habits: none of them is recorded in these files."]


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_has_one_or_two_pages_of_the_summary(summary, renderer, paper):
    reader = pypdf.PdfReader(io.BytesIO(summary_pdf(summary, paper)))
    assert 1 <= len(reader.pages) <= 2
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(POINTS[paper], abs=1.5)
    printed = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    rate_sentence = " ".join(summary.sections[0][1][0].split())
    assert rate_sentence in printed
    assert unreadable(printed) == []


def test_command_line_writes_the_summary(tmp_path, renderer):
    out = tmp_path / "summary.pdf"
    files = [x for t in ("sessions", "clients", "therapists") for x in (f"--{t}", ROOT / "sample_data" / f"{t}.csv")]
    run = run_cli("summary", *files, "--out", out, "--paper", "letter")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"Wrote the meeting summary to {out} (letter paper)."
    reader = pypdf.PdfReader(out)
    assert 1 <= len(reader.pages) <= 2 and "higher than the published average of 19.7%" in reader.pages[0].extract_text()
    folder = run_cli("summary", *files, "--out", tmp_path)
    assert folder.returncode == 1 and "is a folder; give --out the name of the PDF file" in folder.stderr
