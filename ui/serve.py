"""Start the dashboard with the work no visitor should wait for already done.

    python -m ui.serve [streamlit run options]      # what `make run` runs

Before the server listens it runs the app headless (Streamlit's AppTest, in this process) on the
bundled sample: every director's page under each dropout definition, and each of the Overview's
sections under the default one, with the other settings at their defaults. The heavy libraries are
imported, the sample is imported (`state._sample`, once per server) and the pages' results and
charts land in the server's shared cache for the sample (`state.cached`), so the first visitor's
Overview, a change of definition on any director's page and a click on another Overview section
are drawn from memory. Nothing of anyone's upload is involved: uploads stay in their own session.
The objects made so far are then frozen out of the garbage collector's full collections.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
WARM_TIMEOUT_S = 300
_LOG = logging.getLogger(__name__)
# Logs "missing ScriptRunContext!" for every Streamlit call a headless run makes outside its script
# thread: dozens of lines on the terminal of `make run` that say nothing about the app.
_OUTSIDE_A_RUN = "streamlit.runtime.scriptrunner_utils.script_run_context"


def warm() -> float:
    """Open every director's page on the sample under each definition, and each of the Overview's
    sections under the default one; returns the seconds it took."""
    from ui import sessions, state

    start = time.perf_counter()
    with _quiet(_OUTSIDE_A_RUN):
        _warm_every_page(state._sample().caseload)
    # The headless runs have no server, so no sweeper started (start_sweeper kept None); let the server start it.
    sessions.start_sweeper.clear()
    return time.perf_counter() - start


def _warm_every_page(loaded) -> None:
    """The headless runs of `warm` on the sample's caseload `loaded`."""
    from analytics.episodes import available_definitions
    from ui import navigation, state

    # One fresh headless session per run: in AppTest only a session's first run goes through
    # app.py's navigation (later runs would run the page alone, without the sidebar).
    definitions = available_definitions(loaded) if loaded is not None else [None]
    first = _run({} if definitions[0] is None else {state.DEFINITION: definitions[0]})
    if first is not None:
        runs = [({state.OVERVIEW_SECTION: tab.label}, None) for tab in first.tabs[1:]]
        runs += [({} if definition is None else {state.DEFINITION: definition}, None if page == navigation.DEFAULT else page)
                 for definition in definitions for page, _ in navigation.DIRECTOR_PAGES
                 if (definition, page) != (definitions[0], navigation.DEFAULT)]
        for values, page in runs:
            if _run(values, page) is None:
                break


@contextmanager
def _quiet(logger_name: str):
    """Only errors from `logger_name` while the block runs (a filter: Streamlit sets its loggers'
    levels again as it configures itself)."""
    logger = logging.getLogger(logger_name)

    def errors_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    logger.addFilter(errors_only)
    try:
        yield
    finally:
        logger.removeFilter(errors_only)


def _run(values: dict, page: str | None = None):
    """One headless visit with `values` set in its session, of the default page and then of
    `page` when given (another page than the default); None when it failed."""
    from streamlit.testing.v1 import AppTest

    run = AppTest.from_file(str(APP), default_timeout=WARM_TIMEOUT_S)
    for key, value in values.items():
        run.session_state[key] = value
    run.run()
    if page is not None and not run.exception:
        run.switch_page(page).run()
    if run.exception:
        _LOG.warning("Warm-up run failed (the first visitor will do the work): %s", run.exception[0].message)
        return None
    return run


def main(argv: list[str] | None = None) -> int:
    from ui import sessions

    args = sys.argv[1:] if argv is None else argv
    sessions.one_malloc_arena()
    seconds = warm()
    # What the imports and the warm-up left lives as long as the server (its garbage is collected
    # first): out of the garbage collector's sight, a full collection, which holds up every
    # session, takes 8 ms instead of 160 ms.
    gc.collect()
    gc.freeze()
    print(f"Alliance Lens: warmed up on the sample in {seconds:.1f} s; starting the server.", flush=True)
    from streamlit.web import cli

    return cli.main(["run", str(APP), *args], prog_name="streamlit", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
