"""Figure export speed: the first figure pays for starting Chromium, every further one reuses it.

    PYTHONPATH=. .venv/bin/python benchmarks/figure_export.py [--repeat 5]

Renders the sample caseload's Kaplan-Meier figure (with its number-at-risk table) and its
cumulative-incidence figure as PNG (85 x 70 mm, 300 dpi), SVG and PDF, and prints the time of
the first render and the median of the further ones, per format.
"""

from __future__ import annotations

import argparse
import statistics
import time

from analytics.charts.survival import cif_figure, km_figure
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_sample
from analytics.output import export
from analytics.survival.curves import cumulative_incidence, kaplan_meier


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="further renders per figure and format")
    args = parser.parse_args()
    problem = export.renderer_problem()
    if problem:
        raise SystemExit(problem)

    episodes = derive_episodes(load_sample().caseload, EpisodeSettings())
    figures = {
        "km + at risk": km_figure(kaplan_meier(episodes, "referral"), at_risk=True),
        "cif": cif_figure(cumulative_incidence(episodes, "referral")),
    }
    first = _timed(lambda: export.figure_bytes(figures["km + at risk"], "png"))
    print(f"first figure (starts Chromium): {first:.2f} s\n")
    print(f"{'figure':<14}{'format':<8}{'median s':>10}{'max s':>8}")
    for name, fig in figures.items():
        for fmt in export.FORMATS:
            times = [_timed(lambda: export.figure_bytes(fig, fmt)) for _ in range(args.repeat)]
            print(f"{name:<14}{fmt:<8}{statistics.median(times):>10.3f}{max(times):>8.3f}")


if __name__ == "__main__":
    main()
