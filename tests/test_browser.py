"""The dashboard in a real browser: upload an EHR-like export, map it, visit every page, download a
figure and the report bundle, and check that nothing was fetched from outside this machine.

Chromium is /usr/bin/chromium. Without it the test is skipped on a workstation and fails under
CI=true, so a CI image that lost its browser cannot pass silently. Screenshots of every page go
to tests/artifacts/ (not committed).
"""

from __future__ import annotations

import os
import re
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from analytics.schema import DEFINITION_LABELS, DEFINITIONS
from tests.corpus.cases import base_tables, csv_bytes
from tests.director_words import unreadable
from tests.serving import ServerFailed, imported_js, rss_bytes, streamlit_server
from ui import navigation

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
SERVER_LOG = ARTIFACTS / "server.log"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
RUN_TIMEOUT_MS = 180_000
EXPORT_CLIENTS = 240
# A closed tab's session is kept this long for a reconnect, then swept (short here, 30 s and 10 s in production).
SESSION_TTL_S, SWEEP_S = 3, 1
# Pages that must draw at least one chart on the uploaded export (SRS ratings, no outcome measure),
# and the pages that must instead say what the export lacks.
# The Overview's first view holds no chart (docs/scale.md): its sections draw them, each tab opened below.
CHART_PAGES = {"alliance", "room_match", "survival", "drivers", "therapists"}
NEEDS_MORE = {"outcomes"}


def app_pages() -> list[tuple[str, str]]:
    """(file, title) of every page in the app's menu, in menu order."""
    return [page for pages in navigation.SECTIONS.values() for page in pages]


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}; the real-browser test cannot run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ServerURL(str):
    """The server's address, which also knows the server's process id (to read its memory)."""

    pid: int


@pytest.fixture(scope="module")
def server():
    """`streamlit run app.py` on a free port, with short session clean-up times."""
    try:
        with streamlit_server(SERVER_LOG, "--server.disconnectedSessionTTL", str(SESSION_TTL_S),
                              env={"ALLIANCE_LENS_SWEEP_S": str(SWEEP_S)}) as (url, pid):
            served = ServerURL(url)
            served.pid = pid
            yield served
    except ServerFailed as failed:
        pytest.fail(str(failed))


@pytest.fixture(scope="module")
def session(chromium, server, tmp_path_factory):
    """One browser tab for the whole walk-through; every request it makes is recorded, outside ones blocked."""
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 2400})
    outside: list[str] = []

    def guard(route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.goto(server)
    settle(page)
    yield {"page": page, "outside": outside, "downloads": tmp_path_factory.mktemp("downloads"), "url": server,
           "sessions_rows": len(base_tables(n_clients=EXPORT_CLIENTS, seed=5)["sessions"])}
    context.close()


def settle(page, timeout: int = RUN_TIMEOUT_MS) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_timeout(400)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def no_exception(page, where: str) -> None:
    errors = page.locator("[data-testid='stException']")
    if errors.count():
        log = SERVER_LOG.read_text()[-3000:] if SERVER_LOG.exists() else ""
        raise AssertionError(f"{where}: exception shown: {errors.first.inner_text()[:300]}\nserver log:\n{log}")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page, title: str) -> None:
    """Click a page in the sidebar menu (same session: the upload stays)."""
    more = page.locator("[data-testid='stSidebarNavViewButton']")
    if more.count() and "more" in more.first.inner_text().lower():
        more.first.click()
    page.locator("[data-testid='stSidebarNavLink']", has_text=title).first.click()
    settle(page)


def export_files(folder: Path) -> dict[str, Path]:
    """An EHR-like export: appointment list with EHR column names and statuses, a client list with
    room ratings and a name column (a direct identifier to resolve), and a therapist list."""
    tables = base_tables(n_clients=EXPORT_CLIENTS, seed=5)
    sessions = tables["sessions"].rename(columns={
        "client_id": "Client ID", "therapist_id": "Clinician", "date": "Appt Date",
        "status": "Appointment Status", "srs": "SRS Total"})
    sessions["Appt Date"] = sessions["Appt Date"].str.replace(r"(\d{4})-(\d{2})-(\d{2})", r"\2/\3/\1", regex=True)
    sessions["Appointment Status"] = sessions["Appointment Status"].map(
        {"attended": "Show", "no_show": "No Show", "cancelled": "Canceled"})
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"sessions": folder / "appointments.csv", "clients": folder / "clients.csv",
             "therapists": folder / "therapists.csv"}
    paths["therapists"].write_bytes(csv_bytes(tables["therapists"]))
    rng = np.random.default_rng(5)
    clients = tables["clients"].assign(env_comfort=rng.integers(1, 6, EXPORT_CLIENTS),
                                       env_privacy=rng.integers(1, 6, EXPORT_CLIENTS))
    paths["sessions"].write_bytes(csv_bytes(sessions))
    names = [f"{first} {last}" for first, last in zip(
        ["James", "Mary", "Omar", "Priya", "Linda", "David"] * EXPORT_CLIENTS,
        ["Smith", "Patel", "Nguyen", "Garcia", "Brown"] * EXPORT_CLIENTS)][:EXPORT_CLIENTS]
    paths["clients"].write_bytes(csv_bytes(clients.assign(**{"Client Name": names})))
    return paths


# --- the walk-through (tests run in file order and share one tab) -------------------------------

def test_app_loads_without_error(session):
    page = session["page"]
    assert page.locator("[data-testid='stSidebarNav']").count() == 1
    no_exception(page, "start")
    screenshot(page, "00_start")


def _metric(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']", has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_upload_an_export_resolve_the_identifier_and_apply_the_mapping(session, tmp_path_factory):
    page = session["page"]
    paths = export_files(tmp_path_factory.mktemp("export"))
    open_page(page, "Data")
    uploaders = page.locator("[data-testid='stFileUploader']")
    for label, path in (("Sessions", paths["sessions"]), ("Clients", paths["clients"]), ("Therapists", paths["therapists"])):
        uploader = uploaders.filter(has_text=label).first
        uploader.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
        settle(page)
    page.locator("button", has_text="Import these files").first.click()
    settle(page)
    no_exception(page, "import")
    assert "appointments.csv" in page.locator("[data-testid='stMarkdown']", has_text="Current data").first.inner_text()

    # The client list carries names: analysis waits until the column is dropped.
    question = page.locator("[data-testid='stRadio']", has_text="Client Name").first
    question.wait_for(state="visible", timeout=30_000)
    assert page.locator("[data-testid='stMetric']", has_text="Clients").count() == 0
    question.get_by_text("Drop the column").click()
    settle(page)
    page.locator("button", has_text="Apply mapping and choices").first.click()
    settle(page)
    no_exception(page, "mapping")
    assert _metric(page, "Clients") == f"{EXPORT_CLIENTS:,}"
    assert _metric(page, "Sessions") == f"{session['sessions_rows']:,}"
    screenshot(page, "00_data_uploaded")


def _appears(page, selector: str, timeout: int = 30_000) -> bool:
    """Whether an element matching `selector` is in the page within `timeout` ms."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(selector).first.wait_for(state="attached", timeout=timeout)
    except PlaywrightTimeout:
        return False
    return True


def test_every_page_renders_with_charts(session):
    page = session["page"]
    missing_charts, silent = [], []
    for number, (file, title) in enumerate(app_pages(), start=1):
        open_page(page, title)
        no_exception(page, title)
        # the script may have finished before the browser has put a chart's element in the page
        if Path(file).stem in NEEDS_MORE and not _appears(page, "[data-testid='stPlotlyChart'], [data-testid='stAlert']"):
            silent.append(title)
        if Path(file).stem in CHART_PAGES and not _appears(page, "[data-testid='stPlotlyChart'] .js-plotly-plot .main-svg"):
            missing_charts.append(title)
        screenshot(page, f"{number:02d}_{Path(file).stem}")
    assert not missing_charts, f"pages without a chart: {missing_charts}"
    assert not silent, f"pages that neither draw nor say what the data lack: {silent}"


def _download(page, label: str, folder: Path) -> Path:
    button = page.locator("[data-testid='stDownloadButton'] button", has_text=label).first
    button.wait_for(state="visible", timeout=60_000)
    with page.expect_download(timeout=RUN_TIMEOUT_MS) as info:
        button.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_a_figure_downloads_as_png(session):
    page = session["page"]
    open_page(page, next(t for f, t in app_pages() if Path(f).stem == "alliance"))
    path = _download(page, "Figure PNG", session["downloads"])
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, f"{path.name}: not a PNG ({len(data)} bytes)"
    no_exception(page, "figure download")


def test_the_report_bundle_downloads_as_a_self_contained_zip(session):
    page = session["page"]
    title = next(t for f, t in app_pages() if Path(f).stem == "export")
    open_page(page, title)
    page.locator("button", has_text="Build report bundle").first.click()
    settle(page)
    no_exception(page, "report bundle")
    path = _download(page, "Download alliance_lens_report.zip", session["downloads"])
    with zipfile.ZipFile(path) as bundle:
        names = bundle.namelist()
        html = bundle.read(next(n for n in names if n.endswith("report.html"))).decode()
    assert any(n.endswith(".csv") for n in names) and any(n.endswith("recipe.json") for n in names), names
    outside = re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["\']?(https?://(?!localhost)[^"\' >]+)', html)
    outside += re.findall(r'@import\s+url\(["\']?(https?://[^"\')]+)', html)
    assert outside == [], f"report.html loads from outside: {outside[:5]}"
    screenshot(page, "99_report_bundle")


def test_forget_this_data_brings_the_sample_back(session):
    page = session["page"]
    open_page(page, "Data")
    page.locator("button", has_text="Forget this data").first.click()
    settle(page)
    no_exception(page, "forget")
    current = page.locator("[data-testid='stMarkdown']", has_text="Current data").first.inner_text()
    assert "appointments.csv" not in current and "Sample" in current


def test_no_request_left_the_machine(session):
    assert session["outside"] == [], f"requests to outside hosts: {sorted(set(session['outside']))[:20]}"


# --- imports under every definition (a fresh session each) --------------------------------------

SAMPLE_DIR = ROOT / "sample_data"
FILE_SETS = {"appointments only": ("sessions",), "clients only": ("clients",),
             "all three": ("sessions", "clients", "therapists")}
SUPPORTED = {"appointments only": {"unilateral", "early", "unilateral_unimproved"}, "clients only": {"therapist_judged"},
             "all three": set(DEFINITIONS)}


def _choose_definition(page, definition: str) -> None:
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']", has_text="Dropout definition").first
    box.click()
    page.get_by_role("option", name=DEFINITION_LABELS[definition]).first.click()
    settle(page)


def _sidebar_dataset(page) -> str:
    return page.locator("[data-testid='stSidebar'] [data-testid='stMarkdown']").first.inner_text()


def _imported(page, name: str) -> None:
    """Wait until the import of `name` is over: the sidebar names it, or the page shows why not (the
    import runs in a worker, so the script can be idle before it ends)."""
    page.wait_for_function(f"() => {imported_js(name)}", timeout=RUN_TIMEOUT_MS)


@pytest.mark.parametrize("definition", DEFINITIONS)
@pytest.mark.parametrize("files", FILE_SETS)
def test_an_import_under_any_definition_draws_every_definition_without_error(chromium, server, files, definition):
    """An appointments-only import under the therapist-judged definition crashed the Data page
    (the import changed the definition after the sidebar drew it). AppTest reproduces that crash
    too; this test adds what only a browser does: three files picked one after the other and the
    button pressed at once (the form waits for every upload), and the page as a person sees it."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1600})
    try:
        page = context.new_page()
        page.goto(server)
        settle(page)
        _choose_definition(page, definition)
        open_page(page, "Data")
        uploaders = page.locator("[data-testid='stFileUploader']")
        for table in FILE_SETS[files]:
            uploader = uploaders.filter(has_text=table.capitalize()).first
            uploader.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(SAMPLE_DIR / f"{table}.csv"))
            # Until the server has answered the uploader its name is not shown, and a click on Import
            # would send the form without it ("No file was chosen"), as benchmarks/load.py knows.
            uploader.get_by_text(f"{table}.csv").first.wait_for(timeout=RUN_TIMEOUT_MS)
        name = ", ".join(f"{t}.csv" for t in FILE_SETS[files])
        page.locator("button", has_text="Import these files").first.click()
        _imported(page, name)
        settle(page)
        no_exception(page, f"import of {files} under {definition}")
        alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
        assert _sidebar_dataset(page).startswith(name), (_sidebar_dataset(page), alerts)
        received = page.locator("[data-testid='stTable']").first.inner_text()
        for table in FILE_SETS[files]:
            assert f"{table}.csv" in received, received
        open_page(page, "Overview")
        no_exception(page, f"Overview after importing {files}")
        box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']", has_text="Dropout definition").first
        drawn = []
        for other in DEFINITIONS:
            box.click()
            option = page.get_by_role("option", name=DEFINITION_LABELS[other])
            if option.count() == 0:  # not offered for these files
                page.keyboard.press("Escape")
                continue
            option.first.click()
            settle(page)
            no_exception(page, f"{files}, then {other}")
            assert _sidebar_dataset(page).startswith(name)
            drawn.append(other)
        assert drawn == [d for d in DEFINITIONS if d in SUPPORTED[files]]
    finally:
        context.close()



# --- a closed session gives its memory back -------------------------------------------------------

def test_a_closed_session_gives_its_upload_and_results_back(chromium, server, tmp_path):
    """Streamlit drops a disconnected session only lazily and without shutting it down, so a big
    upload used to stay in memory until other visitors came and went (ui/sessions.py sweeps it)."""
    from analytics.synth import generate_caseload

    path = tmp_path / "sessions.csv"
    generate_caseload(n_clients=40_000, n_therapists=200, seed=3).sessions.to_csv(path, index=False)
    # A first visit loads what every session shares (libraries, the sample): not the upload's memory.
    first = chromium.new_context()
    warm = first.new_page()
    warm.goto(server)
    settle(warm)
    open_page(warm, "Data")
    first.close()
    time.sleep(SESSION_TTL_S + 3 * SWEEP_S)
    # The server's own memory: the figure tests' export leaves kaleido's Chromium (ten processes
    # below the server) to close on its idle timer, about when this test starts (CI once saw the
    # server's tree shrink by 901 MiB during the upload).
    before = rss_bytes(server.pid, descendants=False)
    context = chromium.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.goto(server)
    settle(page)
    open_page(page, "Data")
    page.locator("[data-testid='stFileUploader']").filter(has_text="Sessions").first.locator(
        "[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    page.locator("button", has_text="Import these files").first.click()
    _imported(page, "sessions.csv")
    settle(page)
    no_exception(page, "big import")
    assert _sidebar_dataset(page).startswith("sessions.csv")
    loaded = rss_bytes(server.pid, descendants=False)
    grown = loaded - before
    assert grown > 100 * 2**20, f"the upload should hold memory while the tab is open (grew {grown / 2**20:.0f} MiB)"
    context.close()
    deadline = time.monotonic() + SESSION_TTL_S + 10 * SWEEP_S + 20
    while time.monotonic() < deadline and rss_bytes(server.pid, descendants=False) > before + grown / 3:
        time.sleep(1)
    after = rss_bytes(server.pid, descendants=False)
    assert after <= before + grown / 3, (
        f"memory not given back: {before / 2**20:.0f} MiB before, {loaded / 2**20:.0f} with the upload, "
        f"{after / 2**20:.0f} after the tab closed")


# --- what a director reads, on the bundled sample (a fresh tab) -----------------------------------



def director_pages() -> list[str]:
    """The titles of the director's pages."""
    return [title for _, title in navigation.DIRECTOR_PAGES]


def _shown_text(page) -> str:
    """The page's visible text, table cells included, without the icon names Material icons are drawn from."""
    text = page.locator("[data-testid='stMain']").inner_text()
    for icon in set(page.locator("[data-testid='stIconMaterial']").all_inner_texts()):
        text = text.replace(icon, "")
    return text


def _open_expanders(page) -> None:
    """Unfold the page's notes and tables folded away (model notes, rates by site), which a director
    opens too; the researchers' model tables keep a statistician's names and stay folded."""
    folded = page.locator("[data-testid='stMain'] [data-testid='stExpander'] details:not([open])",
                          has_not_text="For researchers")
    for _ in range(folded.count()):
        folded.first.locator("summary").click()
        settle(page)


def _labels_in_download(page, key: str, folder: Path, column: str) -> "dict":
    import pandas as pd

    button = page.locator(f".st-key-{key} button").first
    with page.expect_download(timeout=RUN_TIMEOUT_MS) as info:
        button.click()
    path = folder / f"{key}_{time.monotonic_ns()}.csv"
    info.value.save_as(path)
    table = pd.read_csv(path, dtype=str)
    return dict(zip(table[column], table["Therapist"]))


@pytest.fixture(scope="module")
def sample_tab(chromium, server, tmp_path_factory):
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    page.goto(server)
    settle(page)
    yield page, tmp_path_factory.mktemp("director")
    context.close()


def test_director_pages_show_no_none_nan_or_raw_column_name(sample_tab):
    page, _ = sample_tab
    found = {}
    read = []
    for title in director_pages():
        open_page(page, title)
        tabs = page.locator("[data-testid='stMain'] [role='tab']")
        for i in range(max(1, tabs.count())):  # only the open section of a page is drawn: open each
            if tabs.count():
                tabs.nth(i).click()
                settle(page)
            where = f"{title}, {tabs.nth(i).inner_text()}" if tabs.count() else title
            no_exception(page, where)
            read.append(where)
            _open_expanders(page)
            text = _shown_text(page)
            bad = unreadable(text)
            if bad:
                found[where] = bad[:10]
    assert found == {}, f"raw names or missing values shown: {found}"
    assert "Overview, When dropout happens" in read and "Room, match and habits, Five habits" in read, read
    assert "Alliance and ruptures, Dropout risk by alliance level" in read and "Outcomes, Over the course of therapy" in read, read


def test_a_therapist_keeps_its_label_across_pages_and_a_filter(chromium, server, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from analytics.episodes import derive_episodes
    from analytics.ingest import load_sample

    context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 2400})
    page, folder = context.new_page(), tmp_path
    page.goto(server)
    settle(page)
    caseload = load_sample().caseload
    labels = caseload.therapist_labels
    episodes = derive_episodes(caseload)
    therapist_of = dict(zip(episodes["client_id"], episodes["therapist_id"]))

    open_page(page, "Watch list")
    watch = _labels_in_download(page, "dl_watch_list_csv", folder, "Client")
    assert watch and all(label == labels[therapist_of[client]] for client, label in watch.items())
    open_page(page, "Therapists")
    clients = _labels_in_download(page, "dl_therapist_rates_csv", folder, "Therapist")
    assert set(clients) == set(labels.values())

    site = sorted(episodes["site"].dropna().unique())[0]
    filters = page.locator("[data-testid='stSidebar'] [data-testid='stExpander']", has_text="Filter clients").first
    box = filters.locator("[data-testid='stMultiSelect']", has_text="Site").first
    option = page.get_by_role("option", name=site, exact=True).first
    for _ in range(5):  # a click while the expander opens, or while a rerun redraws it, leaves the list closed
        if filters.locator("details").get_attribute("open") is None:
            filters.locator("summary").click()
            page.wait_for_timeout(300)  # the expander opens with an animation
        try:
            box.locator("input").first.click(timeout=5000)
            option.click(timeout=3000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            settle(page)
    else:
        raise AssertionError(f"the site filter did not offer {site}")
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)  # the choice starts a rerun
    settle(page)
    no_exception(page, "site filter")
    open_page(page, "Watch list")
    filtered = _labels_in_download(page, "dl_watch_list_csv", folder, "Client")
    assert filtered and len(filtered) < len(watch)
    assert all(label == labels[therapist_of[client]] for client, label in filtered.items())
    context.close()


def test_a_printed_page_leaves_out_the_sidebar_and_buttons_and_fits_its_charts(sample_tab):
    page, _ = sample_tab
    open_page(page, "Watch list")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 2400})  # A4 at 96 px per inch
    try:
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        page.wait_for_timeout(300)
        assert not page.locator("[data-testid='stSidebar']").is_visible()
        assert not page.locator("[data-testid='stDownloadButton']").first.is_visible()
        edges = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .svg-container')]
                                   .map(c => c.getBoundingClientRect().right)""")
        assert edges and max(edges) <= 794, f"charts reach past the paper: {edges}"
    finally:
        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1400, "height": 2400})
