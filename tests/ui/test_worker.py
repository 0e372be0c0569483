"""The import worker: a child process whose stages, answer and failures reach the server."""

from __future__ import annotations

import os

import pytest

from analytics.ingest.load import load_caseload
from tests.paths import SAMPLE_DIR
from ui import worker

SAMPLE = str(SAMPLE_DIR / "sessions.csv")


def _fails(progress):
    progress(0.5, "half way")
    raise ValueError("a specific reason")


def _dies(progress):
    progress(0.1, "starting")
    os._exit(3)


def test_an_import_in_the_worker_equals_one_in_process_and_reports_its_stages():
    heard = []
    result = worker.run(load_caseload, {"sources": {"sessions": SAMPLE}}, lambda f, s: heard.append((f, s)))
    here = load_caseload({"sessions": SAMPLE})
    assert result.caseload.fingerprint == here.caseload.fingerprint
    assert [s for _, s in heard] == ["Reading sessions.csv", "Looking for direct identifiers",
                                     "Matching columns and values to the canonical tables", "Checking sessions.csv",
                                     "Building the caseload"]
    assert [f for f, _ in heard] == sorted(f for f, _ in heard) and heard[0][0] == 0.0


def test_an_exception_in_the_worker_is_raised_in_the_server():
    heard = []
    with pytest.raises(ValueError, match="a specific reason"):
        worker.run(_fails, {}, lambda f, s: heard.append(s))
    assert heard == ["half way"]


def test_a_worker_that_dies_is_reported_not_waited_for():
    with pytest.raises(worker.WorkerFailed, match="exit code 3"):
        worker.run(_dies, {}, lambda f, s: None)
