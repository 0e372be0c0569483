"""Two browser sessions never see each other's data, and "forget" really drops an upload.

Each AppTest is its own session in this one process, so data kept in a module global or in a
process-wide cache (st.cache_data) would leak from the first session into the second here.
"""

from streamlit.testing.v1 import AppTest

from tests.paths import ROOT
from ui import imports, state

SCRIPT = """
import streamlit as st
from ui import state
from analytics.ingest.load import load_caseload
from tests.corpus.cases import base_tables, csv_bytes

if st.session_state.pop("load_upload", False):
    tables = base_tables(n_clients=30, seed=99)
    for table in ("sessions", "clients"):
        tables[table]["client_id"] = "UPLOAD" + tables[table]["client_id"]
    sources = {table: (f"{table}.csv", csv_bytes(tables[table])) for table in ("sessions", "clients")}
    state.set_ingest(load_caseload(sources), "mine", sources)
if st.button("Forget this data"):
    state.forget()
loaded = state.caseload()
st.write(st.session_state.get(state.DATASET))
st.write(str(loaded.clients["client_id"].iloc[0]))
st.write(str(len(state.current_episodes())))
"""


def shown(at):
    return [m.value for m in at.markdown]


def session(upload: bool) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    if upload:
        at.session_state["load_upload"] = True
    return at.run()


def test_an_upload_stays_in_its_own_session():
    mine = session(upload=True)
    assert not mine.exception, mine.exception
    assert shown(mine)[:3] == ["mine", "UPLOADC000001", "30"]
    fingerprint = mine.session_state[state.INGEST].caseload.fingerprint

    other = session(upload=False)
    assert not other.exception, other.exception
    name, first_client, _ = shown(other)
    assert name == state.SAMPLE_NAME and not first_client.startswith("UPLOAD")
    other_ingest = other.session_state[state.INGEST]
    assert other_ingest.caseload.fingerprint != fingerprint
    assert not other_ingest.caseload.clients["client_id"].astype(str).str.startswith("UPLOAD").any()
    assert all(fingerprint not in str(key) for key in other.session_state[state.CACHE])
    for store in (state._shared_store(), state._shared_shown_store()):  # the server's caches hold no upload
        assert all(fingerprint not in str(key) for key in store)


def test_sessions_on_the_sample_share_its_results():
    first, second = session(upload=False), session(upload=False)
    assert not first.exception and not second.exception
    assert first.session_state[state.INGEST] is second.session_state[state.INGEST]
    sample = first.session_state[state.INGEST].caseload.fingerprint
    assert any(sample in str(key) for key in state._shared_store())
    assert not list(first.session_state[state.CACHE]) and not list(second.session_state[state.CACHE])


def test_forget_drops_the_upload_and_its_cached_results():
    mine = session(upload=True)
    fingerprint = mine.session_state[state.INGEST].caseload.fingerprint
    assert any(fingerprint in str(key) for key in mine.session_state[state.CACHE])

    mine.button[0].click().run()
    assert not mine.exception, mine.exception
    assert shown(mine)[0] == state.SAMPLE_NAME and not shown(mine)[1].startswith("UPLOAD")
    assert mine.session_state[state.SOURCES] is None
    assert all(fingerprint not in str(key) for key in mine.session_state[state.CACHE])
    assert all(fingerprint not in str(key) for key in mine.session_state.get(state.SHOWN, []))


def test_app_code_keeps_no_process_wide_data_cache():
    """st.cache_data is shared by every session of the server: user data must never go through it."""
    files = [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]
    offenders = [f.name for f in files if "st.cache_data" in f.read_text() and f.name != "state.py"]
    state_code = (ROOT / "ui" / "state.py").read_text()
    assert "@st.cache_data" not in state_code and "st.cache_data(" not in state_code
    assert offenders == []


def _data_page(sources=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.switch_page("pages/data.py")
    if sources:
        at.session_state[imports.PENDING] = imports.ImportRequest(sources)
    return at.run()


def test_through_the_data_page_upload_other_session_and_forget_button():
    from tests.corpus.cases import base_tables, csv_bytes

    tables = base_tables(n_clients=25, seed=98)
    for table in ("sessions", "clients"):
        tables[table]["client_id"] = "UPLOAD" + tables[table]["client_id"]
    sources = {t: (f"{t}.csv", csv_bytes(tables[t])) for t in ("sessions", "clients")}
    mine = _data_page(sources)
    assert not mine.exception, mine.exception
    assert mine.session_state[state.INGEST].caseload.n_clients == 25
    metric = {m.label: m.value for m in mine.metric}
    assert metric["Clients"] == "25"

    other = _data_page()
    assert not other.exception, other.exception
    assert other.session_state[state.DATASET] == state.SAMPLE_NAME
    assert {m.label: m.value for m in other.metric}["Clients"] != "25"

    forget = next(b for b in mine.button if b.label == "Forget this data")
    forget.click().run()
    assert not mine.exception, mine.exception
    assert mine.session_state[state.DATASET] == state.SAMPLE_NAME
    assert mine.session_state[state.SOURCES] is None
    assert not any("UPLOAD" in m.value for m in mine.markdown)
