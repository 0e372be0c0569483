"""The session sweeper stops quietly with the server: pressing Ctrl-C on `make run` must not print
a traceback because the sweeper woke up after Streamlit's event loop had closed. And the server's
threads share one C allocator arena, whose free memory `malloc_trim` can give back."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

from ui import sessions

ROOT = Path(__file__).resolve().parents[2]


def _runtime_with(loop):
    return SimpleNamespace(_get_async_objs=lambda: SimpleNamespace(eventloop=loop))


def test_a_closed_event_loop_ends_the_sweeper_without_a_traceback(monkeypatch, caplog):
    loop = asyncio.new_event_loop()
    loop.close()
    monkeypatch.setattr(sessions.runtime, "exists", lambda: True)
    monkeypatch.setattr(sessions.runtime, "get_instance", lambda: _runtime_with(loop))
    monkeypatch.setattr(sessions, "SWEEP_S", 0.0)
    monkeypatch.setattr(sessions, "_session_count", lambda: 0)
    assert sessions._on_event_loop(lambda: 1) is None
    with caplog.at_level(logging.ERROR, logger=sessions.__name__):
        sessions._loop()  # returns: a sweeper still looping would never get here
    assert caplog.records == []


def test_an_open_event_loop_runs_the_sweep_and_gives_its_answer(monkeypatch):
    loop = asyncio.new_event_loop()
    monkeypatch.setattr(sessions.runtime, "get_instance", lambda: _runtime_with(loop))
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        assert sessions._on_event_loop(lambda: 3) == 3
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()


THREADS_ALLOCATE = """
import sys, threading
import numpy as np
from ui import sessions
if sys.argv[1] == "one arena":
    sessions.one_malloc_arena()
together = threading.Barrier(4)
def allocate():
    kept = np.ones(10_000)  # 80 kB: from the thread's arena, below the size glibc maps on its own
    together.wait()  # all four alive at once, so none inherits another's arena
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
sessions._libc_function("malloc_stats")()  # one "Arena N:" paragraph per arena, on stderr
"""


def test_after_one_malloc_arena_every_thread_allocates_from_the_main_arena():
    """A thread's own arena keeps a closed session's freed memory resident (see one_malloc_arena)."""
    def arenas(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", THREADS_ALLOCATE, mode], capture_output=True, text=True,
                              cwd=ROOT, check=True)
        return done.stderr.count("Arena ")

    assert arenas("default") == 5  # the main arena and one for each thread
    assert arenas("one arena") == 1


def test_a_headless_run_starts_no_sweeper(monkeypatch):
    """`python -m ui.serve` warms up in AppTest, whose stand-in runtime has no sessions: a sweeper
    started there would be a second one once the server starts its own."""
    from unittest.mock import MagicMock

    from streamlit.runtime import Runtime

    monkeypatch.setattr(Runtime, "_instance", MagicMock(spec=Runtime))
    sessions.start_sweeper.clear()
    try:
        assert sessions.start_sweeper() is None
    finally:
        sessions.start_sweeper.clear()
