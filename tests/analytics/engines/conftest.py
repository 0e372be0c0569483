"""One local Spark session for every engine test (a Java start takes seconds; three modules each
started their own). Under CI=true a missing Java or pyspark fails the suite (.ci/run installs Java);
elsewhere the tests that ask for Spark are skipped with the reason."""

from __future__ import annotations

import os
import shutil

import pytest

from analytics.engines import open_engine


def _spark_or_reason() -> str | None:
    if shutil.which("java") is None:
        return "Java is not installed (Debian: apt-get install openjdk-17-jre-headless)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="session")
def spark_session():
    """Started when a test first asks for Spark, stopped when the suite ends."""
    reason = _spark_or_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark tests cannot run under CI: {reason}.")
        pytest.skip(reason)
    engine = open_engine("spark", master="local[2]")
    yield engine.spark
    engine.close()
