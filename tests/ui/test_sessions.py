"""The session sweeper stops quietly with the server: pressing Ctrl-C on `make run` must not print
a traceback because the sweeper woke up after Streamlit's event loop had closed."""

from __future__ import annotations

import asyncio
import logging
import threading
from types import SimpleNamespace

from ui import sessions


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
