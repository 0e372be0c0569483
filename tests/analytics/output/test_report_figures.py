"""The bundle's figure files at network scale: a band of therapists keeps the page height, and a
figure the browser cannot print is named in a warning while every other file is still made (a
1-million-client report once stopped at 'Printing failed' on a 50-metre-tall interval plot)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.caseload import anonymous_labels
from analytics.charts.regression import LABELLED_ROWS, caterpillar_figure
from analytics.output import export
from analytics.output.report import MM_PER_PT, Section, _print_height, _render_figures
from analytics.recipe import Recipe


def _therapists(n: int) -> pd.DataFrame:
    effect = np.linspace(-1, 1, n)
    return pd.DataFrame({"therapist_id": [f"T{i}" for i in range(n)], "effect": effect,
                         "ci_lower": effect - 0.5, "ci_upper": effect + 0.5})


def test_a_band_of_a_networks_therapists_keeps_the_page_height_and_labelled_rows_grow():
    band = _therapists(10_000)  # 1,000,000 clients, one therapist per 100
    assert _print_height(caterpillar_figure(band, anonymous_labels(band["therapist_id"])), 70, 8) == 70
    named = _therapists(LABELLED_ROWS)
    height = _print_height(caterpillar_figure(named, anonymous_labels(named["therapist_id"])), 70, 8)
    assert height == pytest.approx(LABELLED_ROWS * 8 * MM_PER_PT * 1.8 + 25)  # 329 mm: one line per therapist


def test_a_figure_that_cannot_be_printed_is_named_and_the_others_are_made(monkeypatch):
    def figure_bytes(fig, fmt, **size):
        if fig.layout.title.text == "too large":
            raise RuntimeError("DevtoolsProtocolError: Printing failed\nmore detail")
        return fmt.encode()

    monkeypatch.setattr(export, "figure_bytes", figure_bytes)
    good, bad = _therapists(5), _therapists(5)
    sections = [Section("therapists", "Therapists", figures={
        "good": caterpillar_figure(good, anonymous_labels(good["therapist_id"])),
        "bad": caterpillar_figure(bad, anonymous_labels(bad["therapist_id"])).update_layout(title="too large")})]
    files: dict[str, bytes] = {}
    warnings = _render_figures(sections, Recipe(), files)
    assert sorted(files) == [f"figures/good.{fmt}" for fmt in sorted(export.FORMATS)]
    assert warnings == [f"figures/bad.{fmt} was not made (DevtoolsProtocolError: Printing failed); the figure is "
                        "in report.html." for fmt in export.FORMATS]
