"""No page changes the episodes it is given. Without a filter the filtered episodes are the cached
episodes themselves (analytics.episodes.filter_episodes hands the table over uncopied), so a page
writing into its table would change what every later page and session reads."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_caseload
from analytics.recipe import EPISODE_KEYS
from tests.paths import APP, SAMPLE_DIR
from ui import imports, navigation, state
from ui.imports import ImportRequest

SOURCES = {t: str(SAMPLE_DIR / f"{t}.csv") for t in ("sessions", "clients", "therapists")}
SECTIONS = {  # each page's sections (tabs), all opened: only the open one computes
    "pages/overview.py": (state.OVERVIEW_SECTION, ("This month and quarter", "Over time", "By group",
                                                   "How the definition changes the rate", "Who left improved",
                                                   "When dropout happens")),
    "pages/outcomes.py": ("outcomes_section", ("Reliable change and recovery by ending", "How much clients changed",
                                               "Over the course of therapy")),
    "pages/alliance.py": ("alliance_section", ("Over the course of therapy", "Ruptures",
                                               "Dropout risk by alliance level")),
    "pages/room_match.py": ("room_match_section", ("The room", "Therapist-client match", "Five habits")),
}


def test_every_page_leaves_the_cached_episodes_as_they_were_derived():
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.session_state[imports.PENDING] = ImportRequest(SOURCES)  # an upload: this session's own cache
    at.switch_page("pages/data.py").run()
    visited = 0
    for page in (file for pages in navigation.SECTIONS.values() for file, _ in pages):
        key, sections = SECTIONS.get(page, (None, (None,)))
        for section in sections:
            if key is not None:
                at.session_state[key] = section
            at.switch_page(page).run()
            assert not at.exception, (page, section, at.exception)
            visited += 1
    assert visited == 21  # 15 sections of four pages, and six pages without sections

    entries = at.session_state[state.CACHE]._entries
    (cached,) = [result for key, (_, result) in entries.items() if key[0] == "episodes"]
    episodes, problem = cached
    assert problem is None
    (filtered,) = [result for key, (_, result) in entries.items() if key[0] == "filtered_episodes"]
    assert filtered is episodes  # nothing filtered: the same table, not a copy
    settings = EpisodeSettings(**{key: at.session_state[key] for key in EPISODE_KEYS if key in at.session_state})
    pd.testing.assert_frame_equal(episodes, derive_episodes(load_caseload(SOURCES).caseload, settings))
