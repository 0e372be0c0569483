"""Fixtures shared by the output tests."""

import os

import pytest

from analytics.output import export


@pytest.fixture(scope="module")
def renderer():
    """Chromium for figures and the summary's PDF: required on CI, skipped elsewhere without it."""
    problem = export.renderer_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to render figures: {problem}")
        pytest.skip(problem)
