"""Give a closed session's memory back to the machine.

Streamlit keeps a disconnected session for `server.disconnectedSessionTTL` seconds (30 in
.streamlit/config.toml) so a browser that lost its connection for a moment gets its session
back. Streamlit 1.67 then holds on to closed sessions in three ways: it expires stored sessions
only lazily (when another session connects or leaves) and drops them without shutting them
down, so their uploads stay in its upload manager; its main loop keeps the last session it
served in a loop variable until the next visitor; and Python hands freed memory back to the
system only after a garbage collection. A server a team used in the morning would hold the
last upload until the next visitor. So, once per server process: a shut-down session's state
(the upload, its caseload, every cached result and the widget callbacks that reach the page's
globals) is cleared at once, and every `SWEEP_S` seconds a sweeper shuts expired sessions down
(on Streamlit's event loop, the only thread that may touch its session storage) and, whenever
sessions went away, collects garbage and asks the C allocator to return free pages. The server's
threads allocate from one arena (`one_malloc_arena`), so that request reaches all of them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import threading

import streamlit as st
from streamlit import runtime
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.state import SessionState

SWEEP_S = float(os.environ.get("ALLIANCE_LENS_SWEEP_S", "10"))
M_ARENA_MAX = -8  # mallopt's parameter for the number of arenas (glibc's malloc.h)
_LOG = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def start_sweeper() -> threading.Thread | None:
    """Start the sweeper once for this server (later calls return the same thread); none for a
    headless run (Streamlit's AppTest stands in a runtime without sessions to sweep)."""
    if not runtime.exists() or not hasattr(runtime.get_instance(), "_session_mgr"):
        return None
    _clear_state_on_shutdown()
    thread = threading.Thread(target=_loop, name="session-sweeper", daemon=True)
    thread.start()
    return thread


def _clear_state_on_shutdown() -> None:
    """Wrap AppSession.shutdown so a shut-down session keeps no user data, however long Streamlit
    keeps the session object itself."""
    original = AppSession.shutdown

    def shutdown(session: AppSession) -> None:
        original(session)
        # SessionState.clear() would keep the widgets' metadata, whose callbacks reach the page's globals
        session._session_state = SessionState()

    AppSession.shutdown = shutdown


def _loop() -> None:
    seen = _session_count()
    while True:
        threading.Event().wait(SWEEP_S)
        if not runtime.exists():  # the server (or a test's runtime) has stopped
            return
        try:
            expired = _on_event_loop(_shut_down_expired)
        except Exception:  # noqa: BLE001 - a sweeper that dies would hold memory silently: log and go on
            _LOG.exception("could not sweep disconnected sessions")
            expired = 0
        if expired is None:  # the server stopped between the check above and this sweep
            return
        now = _session_count()
        if expired or now < seen:
            release_memory()
        seen = now


def _on_event_loop(fn) -> int | None:
    """Run `fn` on Streamlit's event loop and wait for its answer; None when the loop has closed
    (the server is stopping: there is nothing left to sweep)."""
    done, answer = threading.Event(), []
    loop = runtime.get_instance()._get_async_objs().eventloop
    try:
        loop.call_soon_threadsafe(lambda: (answer.append(fn()), done.set()))
    except RuntimeError:
        if loop.is_closed():
            return None
        raise
    done.wait(30)
    return answer[0] if answer else 0


def _shut_down_expired() -> int:
    """Shut expired sessions down, and drop uploads of sessions Streamlit already let go of
    without a shutdown; returns how many went."""
    rt = runtime.get_instance()
    manager = rt._session_mgr
    cache = getattr(getattr(manager, "_session_storage", None), "_cache", None)
    if cache is None or not hasattr(cache, "expire"):
        return 0
    expired = cache.expire()
    for _, info in expired:
        info.session.shutdown()
    known = {info.session.id for info in manager.list_active_sessions()} | {info.session.id for info in manager._session_storage.list()}
    uploads = getattr(rt.uploaded_file_mgr, "file_storage", {})
    orphans = [session_id for session_id in list(uploads) if session_id not in known]
    for session_id in orphans:
        rt.uploaded_file_mgr.remove_session_files(session_id)
    return len(expired) + len(orphans)


def _session_count() -> int:
    try:
        manager = runtime.get_instance()._session_mgr
        return len(manager.list_active_sessions()) + len(manager._session_storage.list())
    except Exception:  # noqa: BLE001 - only a hint for when to collect
        return 0


def release_memory() -> None:
    """Collect garbage (sessions hold reference cycles) and return free heap pages to the system."""
    gc.collect()
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


def one_malloc_arena() -> None:
    """Let every thread allocate from the C allocator's main arena; call before any other thread starts.

    Streamlit runs each script run in a thread, and glibc gives threads arenas of their own (up to
    eight per core). `malloc_trim` returns the free pages inside every arena, but not the free
    space at the top of a thread's arena, which glibc trims only when it exceeds a threshold that
    grows to 64 MiB as large blocks come and go. So a closed session's results could stay resident
    there: a closed 40,000-client session left 24-62 MiB of its freed arrays in one thread arena
    (the server's /proc smaps; `malloc_trim` called by hand released 2 MiB of it). In the main
    arena `malloc_trim` also returns the top. The threads allocate mostly while holding Python's
    interpreter lock, so they rarely wait for the one arena: eight sessions opening the sample at
    once ran as fast with one arena as with many (`benchmarks.director --only team`).
    """
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(M_ARENA_MAX, 1)


def _libc_function(name: str):
    """The C library's function `name`, or None where there is none (not glibc)."""
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once: find_library runs `ldconfig -p` in a child process, which
    every sweep that frees memory would otherwise fork from the whole server."""
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None
