"""Load on the real dashboard server: several people at once, and one large import next to a visitor.

    .venv/bin/python -m benchmarks.load                                   # everything below
    .venv/bin/python -m benchmarks.load --sizes sample --sessions 1 --no-contention
    .venv/bin/python -m benchmarks.load --sizes 100000 --sessions 4 --no-contention
    .venv/bin/python -m benchmarks.load --sizes --contention --appointments 4000000

Concurrent sessions. For each caseload size (`sample` = the bundled sample; a number = a synthetic
caseload of that many clients, about 12 appointments each, uploaded as CSV) and each number N of
sessions, a fresh `streamlit run app.py` (after one warm-up visit, released before the sessions come) gets N Chromium sessions at once. On the sample each opens the Overview; on an upload each
opens the Data page, uploads the three files, imports them, then opens the Overview. Measured:
per session the time until the page is fully drawn (the script idle, a Plotly chart drawn, and
still so 300 ms later; the time is when that state was first seen) and, for uploads, the import
(upload, import, Data page redrawn) and the Overview after it; the server's CPU time (server and
every child process, the import workers included) in total and per session; the server's memory
(resident memory of the server and its children) before (after one warm-up visit has loaded what
every session shares, the libraries and the bundled sample, and been released), at its peak (sampled every 0.2 s), and
after the sessions close (every second for 75 s: the value 60 s after closing, and when it came
back within 10% of its rise). Closed sessions are kept for `disconnectedSessionTTL` (30 s) and
then released by the sweeper in ui/sessions.py, so the memory should fall within about a minute.

Contention. On a fresh server, one session's Overview on the sample is timed on the idle server
(three fresh sessions, median); then session A imports a caseload of `--appointments` appointments
(4 million by default) and, once its import is running, session B opens the sample Overview three
times in fresh sessions. The issue's target is B's median under load at most 1.5 times the idle one.

The browser runs on the same machine as the server, so both share its cores. Results are printed
as Markdown tables and written to benchmarks/results/load.json, with each server's log next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.async_api import async_playwright

from tests.serving import EXCEPTION, ServerFailed, imported_js, process_tree, rss_bytes, streamlit_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TABLES = ("sessions", "clients", "therapists")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1600}
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
STABLE_MS = 300  # a drawn page must still be drawn this much later (a rerun can start right after one ends)
POLL_MS = 100  # checking every animation frame would itself keep the browser busy
PEAK_EVERY_S, AFTER_EVERY_S, AFTER_FOR_S, AFTER_AT_S = 0.2, 1.0, 75, 60
RETURNED = 0.10  # memory is "back" within this share of its rise above the idle server
WARM_RELEASE_S = 50  # a closed session is kept 30 s (disconnectedSessionTTL), then swept within 10 s

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning'][data-test-connection-state='CONNECTED']"
HEADLINE = "[data-testid='stMetric']"


def title_js(title: str) -> str:
    return f"[...document.querySelectorAll('h1')].some(h => h.textContent.trim() === {json.dumps(title)})"


# The Overview's first view is its headline and first section, with no chart (docs/scale.md).
OVERVIEW_DRAWN = f"{title_js('Overview')} && !!document.querySelector({json.dumps(HEADLINE)})"
DATA_DRAWN = title_js("Data")


# --- the server and its process tree ---------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system time of the process tree, including children that have exited and been
    waited for (the import workers), which the kernel adds to their parent's cutime/cstime."""
    return _cpu(process_tree(pid))


def browser_cpu_seconds(server_pid: int) -> float:
    """CPU time of this benchmark's other children (Playwright's driver and Chromium): on one
    machine the browser competes with the server for the same cores."""
    return _cpu(set(process_tree(os.getpid())) - set(process_tree(server_pid)) - {os.getpid()})


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all processes, from /proc/stat): what is left after
    the server and the browser is other work on the machine, which slows the figures down."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICKS


def _cpu(pids) -> float:
    ticks = 0
    for member in pids:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / TICKS


def log_problems(log: Path) -> list[str]:
    """Tracebacks and error lines in a server log (each with the lines that follow it)."""
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if "Traceback" in line or " ERROR " in line or line.startswith("ERROR"):
            found.append("\n".join(lines[i:i + 25]))
    return found


class PeakSampler:
    """Samples the server tree's memory in a thread while sessions run (the event loop drives the browser)."""

    def __init__(self, pid: int):
        self.pid, self.peak = pid, rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(PEAK_EVERY_S):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


async def after_close(pid: int, before: int, peak: int) -> dict:
    """Memory every second for AFTER_FOR_S seconds after the sessions closed."""
    series, start = [], time.monotonic()
    for step in range(int(AFTER_FOR_S / AFTER_EVERY_S) + 1):
        await asyncio.sleep(max(0.0, start + step * AFTER_EVERY_S - time.monotonic()))
        series.append((round(time.monotonic() - start, 1), rss_bytes(pid)))
    limit = before + RETURNED * max(0, peak - before)
    back = next((t for t, rss in series if rss <= limit), None)
    at = min(series, key=lambda point: abs(point[0] - AFTER_AT_S))[1]
    return {"at_60s": at, "returned_after_s": back, "series": series}


# --- browser sessions ----------------------------------------------------------------------------

async def drawn(page, condition: str, timeout_s: float) -> float:
    """Wait until the script is idle and `condition` (JS) holds, and both still hold STABLE_MS later;
    returns the perf_counter at which that state was first seen."""
    js = f"() => !!document.querySelector({json.dumps(IDLE)}) && ({condition})"
    deadline = time.perf_counter() + timeout_s
    while True:
        remaining = max(1.0, deadline - time.perf_counter())
        await page.wait_for_function(js, timeout=remaining * 1000, polling=POLL_MS)
        seen = time.perf_counter()
        await page.wait_for_timeout(STABLE_MS)
        if await page.evaluate(js):
            return seen
        if time.perf_counter() > deadline:
            raise TimeoutError(f"page not drawn within {timeout_s:.0f} s")


async def exceptions(page) -> list[str]:
    errors = page.locator(EXCEPTION)
    return [(await errors.nth(i).inner_text())[:300] for i in range(await errors.count())]


async def open_page(page, title: str) -> None:
    """Click a page in the sidebar menu, unfolding the menu first if it is folded."""
    more = page.locator("[data-testid='stSidebarNavViewButton']")
    if await more.count() and "more" in (await more.first.inner_text()).lower():
        await more.first.click()
    await page.locator("[data-testid='stSidebarNavLink']", has_text=title).first.click()


async def new_context(browser, timeout_s: float):
    """A fresh browser session; Playwright's 30 s default for a click is too short here (the Import
    button stays disabled until every upload is in, which takes longer with 8 uploads at once)."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_s * 1000)
    return context


async def visit_sample(context, url: str, timeout_s: float) -> dict:
    """Open the app (the Overview of the bundled sample) and time it until fully drawn."""
    page = await new_page(context)
    start = time.perf_counter()
    await page.goto(url)
    done = await drawn(page, OVERVIEW_DRAWN, timeout_s)
    return {"drawn_s": done - start, "exceptions": await exceptions(page)}


async def start_import(page, url: str, files: dict[str, Path], timeout_s: float) -> float:
    """Open the app, go to the Data page, choose the files and press Import; returns when the
    files were chosen (the uploads start then; pressing the button waits for them)."""
    await page.goto(url)
    await drawn(page, OVERVIEW_DRAWN, timeout_s)
    await open_page(page, "Data")
    await drawn(page, DATA_DRAWN, timeout_s)
    uploaders = page.locator("[data-testid='stFileUploader']")
    # The expander is open until data was imported. Ask its <details>, not whether the uploaders are
    # visible: on a busy browser they are not yet while it opens, and a click would then close it
    # (the files go into hidden inputs and the Import button stays disabled for good).
    expander = page.locator("[data-testid='stExpander']", has_text="Load your own files").first
    if await expander.locator("details").get_attribute("open") is None:
        await expander.locator("summary").click()
    start = time.perf_counter()
    for table, path in files.items():
        uploader = uploaders.filter(has_text=table.capitalize()).first
        await uploader.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
        # A chosen file counts as uploading (and holds the Import button) only once the server has
        # answered the uploader over the websocket; until its name shows, a click on a busy server
        # sends the form without it ("No file was chosen").
        await uploader.get_by_text(path.name).first.wait_for()
    await page.locator("button", has_text="Import these files").first.click()
    return start


async def import_outcome(page, name: str) -> str | None:
    """None when `name` became the dataset, else what went wrong."""
    sidebar = await page.locator("[data-testid='stSidebar'] [data-testid='stMarkdown']").first.inner_text()
    if sidebar.startswith(name):
        return None
    alerts = page.locator("[data-testid='stAlert']", has_text=re.compile("could not be imported|No file was chosen"))
    return (await alerts.first.inner_text())[:300] if await alerts.count() else f"dataset is still {sidebar[:80]!r}"


async def visit_upload(context, url: str, files: dict[str, Path], timeout_s: float) -> dict:
    """Import the files on the Data page, then open the Overview; times each and the whole visit."""
    page = await new_page(context)
    start = time.perf_counter()
    chosen = await start_import(page, url, files, timeout_s)
    name = ", ".join(path.name for path in files.values())
    imported = await drawn(page, imported_js(name), timeout_s)
    failed = await import_outcome(page, name)
    found = await exceptions(page)
    if failed:
        return {"error": failed, "exceptions": found}
    await open_page(page, "Overview")
    clicked = time.perf_counter()
    done = await drawn(page, OVERVIEW_DRAWN, timeout_s)
    return {"drawn_s": done - start, "import_s": imported - chosen, "overview_s": done - clicked,
            "exceptions": found + await exceptions(page)}


_failures = 0


async def guarded(visit, context, *args) -> dict:
    """A visit's result, or its error with what its page showed (one failed session must not
    hide the others' figures); a screenshot of the page goes to benchmarks/results/."""
    try:
        return await visit(context, *args)
    except Exception as exc:  # noqa: BLE001 - reported in the results
        global _failures
        _failures += 1
        failure = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        try:
            failure["page"] = await page_state(context.pages[-1], RESULTS / f"load_failure_{_failures}.png")
        except Exception as unseen:  # noqa: BLE001 - the page may be gone
            failure["page"] = f"not readable: {unseen}"
        return failure


async def page_state(page, screenshot: Path) -> dict:
    app = page.locator("[data-testid='stApp']")
    await page.screenshot(path=str(screenshot), full_page=True, timeout=60_000)
    return {"url": page.url, "script": await app.get_attribute("data-test-script-state"),
            "connection": await app.get_attribute("data-test-connection-state"),
            "sidebar": (await page.locator("[data-testid='stSidebar'] [data-testid='stMarkdown']").first.inner_text())[:100],
            "alerts": [text[:200] for text in await page.locator("[data-testid='stAlert']").all_inner_texts()],
            "uploaders": [text.replace("\n", " | ")[:200] for text in await page.locator("[data-testid='stFileUploader']").all_inner_texts()],
            "websocket_closes": page.closes, "screenshot": str(screenshot.relative_to(ROOT))}


async def new_page(context):
    """A tab that notes when its websocket closed (a dropped connection explains a stalled session)."""
    page = await context.new_page()
    page.closes, start = [], time.perf_counter()
    page.on("websocket", lambda ws: ws.on("close", lambda _: page.closes.append(round(time.perf_counter() - start, 1))))
    return page


# --- the two modes -------------------------------------------------------------------------------

def write_caseload(n_clients: int, folder: Path) -> dict[str, Path]:
    """A synthetic caseload as the three CSV files a practice would upload."""
    from analytics.synth import generate_caseload

    synthetic = generate_caseload(n_clients=n_clients, n_therapists=max(30, n_clients // 100), n_sites=5, seed=7)
    files = {table: folder / f"{table}.csv" for table in TABLES}
    for table, path in files.items():
        getattr(synthetic, table).to_csv(path, index=False)
    return files


def appointments_per_client() -> float:
    from analytics.synth import generate_caseload

    return len(generate_caseload(n_clients=10_000, n_therapists=100, n_sites=5, seed=7).sessions) / 10_000


async def run_cell(browser, size: str, n: int, files: dict[str, Path] | None, timeout_s: float) -> dict:
    """N sessions at once on a fresh server; memory and CPU of the server around them."""
    log = RESULTS / f"load_server_{size}_{n}.log"
    with streamlit_server(log) as (url, pid):
        cold = rss_bytes(pid)
        # One visit first loads what every session shares (the libraries, the bundled sample); its
        # session is released before the measured sessions come, so "before" is the server's floor.
        warm = await new_context(browser, timeout_s)
        await guarded(visit_sample, warm, url, timeout_s)
        await warm.close()
        await asyncio.sleep(WARM_RELEASE_S)
        before, cpu_before, browser_before = rss_bytes(pid), cpu_seconds(pid), browser_cpu_seconds(pid)
        busy_before = machine_busy_seconds()
        contexts = [await new_context(browser, timeout_s) for _ in range(n)]
        start = time.perf_counter()
        with PeakSampler(pid) as sampler:
            if files is None:
                visits = [guarded(visit_sample, c, url, timeout_s) for c in contexts]
            else:
                visits = [guarded(visit_upload, c, url, files, timeout_s) for c in contexts]
            sessions = await asyncio.gather(*visits)
        wall = time.perf_counter() - start
        cpu, browser_cpu = cpu_seconds(pid) - cpu_before, browser_cpu_seconds(pid) - browser_before
        other_cpu = machine_busy_seconds() - busy_before - cpu - browser_cpu
        for context in contexts:
            await context.close()
        after = await after_close(pid, before, sampler.peak)
    return {"size": size, "sessions": n, "wall_s": wall, "per_session": sessions, "cpu_s": cpu, "cpu_per_session_s": cpu / n,
            "browser_cpu_s": browser_cpu, "other_cpu_s": other_cpu,
            "memory_cold": cold, "memory_before": before, "memory_peak": sampler.peak, "memory_60s_after_close": after["at_60s"],
            "memory_returned_after_s": after["returned_after_s"], "memory_after_close_series": after["series"],
            "server_log": str(log.relative_to(ROOT)), "server_log_problems": log_problems(log)}


async def _seen_at(awaitable) -> float:
    await awaitable
    return time.perf_counter()


async def run_contention(browser, files: dict[str, Path], appointments: int, timeout_s: float, runs: int = 3) -> dict:
    """Idle baseline of a sample Overview (median of `runs` fresh sessions), then the same while
    session A imports a large caseload; each run notes what A was doing when it ended."""
    log = RESULTS / "load_server_contention.log"
    name = ", ".join(path.name for path in files.values())

    async def timed_visit(url: str) -> dict:
        context = await new_context(browser, timeout_s)
        try:
            return await guarded(visit_sample, context, url, timeout_s)
        finally:
            await context.close()

    def cpu_now() -> tuple[float, float, float]:
        return cpu_seconds(pid), browser_cpu_seconds(pid), machine_busy_seconds()

    def cpu_since(start: tuple[float, float, float]) -> dict:
        server_s, browser_s, busy_s = (b - a for a, b in zip(start, cpu_now()))
        return {"server_s": server_s, "browser_s": browser_s, "other_s": busy_s - server_s - browser_s}

    with streamlit_server(log) as (url, pid):
        start = cpu_now()
        idle = [await timed_visit(url) for _ in range(runs)]
        idle_cpu = cpu_since(start)
        with PeakSampler(pid) as sampler:
            context_a = await new_context(browser, timeout_s)
            page_a = await new_page(context_a)
            chosen = await start_import(page_a, url, files, timeout_s)
            await page_a.get_by_text(f"Importing {name}").first.wait_for(state="visible", timeout=timeout_s * 1000)
            started = time.perf_counter()
            worker_done = asyncio.create_task(_seen_at(
                page_a.get_by_text(f"Imported {name}").first.wait_for(state="visible", timeout=timeout_s * 1000)))
            a_done = asyncio.create_task(drawn(page_a, imported_js(name), timeout_s))
            loaded, start = [], cpu_now()
            for _ in range(runs):
                visit = await timed_visit(url)
                visit["a_at_end"] = ("done" if a_done.done() else "importing (worker)" if not worker_done.done()
                                     else "drawing the Data page")
                loaded.append(visit)
            loaded_cpu = cpu_since(start)
            a_end = await a_done
            if worker_done.done() and not worker_done.exception():
                worker_end = worker_done.result()
            else:
                worker_done.cancel()
                worker_end = None
            a_error = await import_outcome(page_a, name)
            a_exceptions = await exceptions(page_a)
            await context_a.close()
    idle_s = [v["drawn_s"] for v in idle if "drawn_s" in v]
    loaded_s = [v["drawn_s"] for v in loaded if "drawn_s" in v]
    idle_median = statistics.median(idle_s) if idle_s else None
    loaded_median = statistics.median(loaded_s) if loaded_s else None
    return {"appointments": appointments, "idle": idle, "loaded": loaded, "idle_cpu": idle_cpu, "loaded_cpu": loaded_cpu,
            "idle_median_s": idle_median,
            "loaded_median_s": loaded_median,
            "ratio": loaded_median / idle_median if idle_median and loaded_median else None,
            "a_upload_s": started - chosen, "a_worker_s": None if worker_end is None else worker_end - started,
            "a_import_s": a_end - chosen, "a_error": a_error, "a_exceptions": a_exceptions,
            "memory_peak": sampler.peak, "server_log": str(log.relative_to(ROOT)), "server_log_problems": log_problems(log)}


# --- reporting -----------------------------------------------------------------------------------

def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "-"


def _mib(value: int) -> str:
    return f"{value / MIB:,.0f}"


def load_table(cells: list[dict]) -> str:
    lines = ["| caseload | sessions | until drawn, median / max (s) | import, median / max (s) | Overview after import, "
             "median / max (s) | server CPU (s) | CPU per session (s) | browser CPU (s) | other CPU on the machine (s) | memory before (MiB) | peak (MiB) | "
             "60 s after close (MiB) | rise given back at 60 s | back within 10% after | failed sessions |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cells:
        ok = [s for s in c["per_session"] if "error" not in s]
        size = "sample (1,500 clients)" if c["size"] == "sample" else f"{int(c['size']):,} clients"
        back = (f"not within {AFTER_FOR_S} s" if c["memory_returned_after_s"] is None
                else f"{c['memory_returned_after_s']:.0f} s")
        rise = c["memory_peak"] - c["memory_before"]
        given_back = f"{(c['memory_peak'] - c['memory_60s_after_close']) / rise:.0%}" if rise > 0 else "-"
        lines.append(
            f"| {size} | {c['sessions']} | {_spread([s['drawn_s'] for s in ok])} | "
            f"{_spread([s['import_s'] for s in ok if 'import_s' in s])} | "
            f"{_spread([s['overview_s'] for s in ok if 'overview_s' in s])} | {c['cpu_s']:.1f} | "
            f"{c['cpu_per_session_s']:.1f} | {c['browser_cpu_s']:.1f} | {c['other_cpu_s']:.1f} | {_mib(c['memory_before'])} | {_mib(c['memory_peak'])} | "
            f"{_mib(c['memory_60s_after_close'])} | {given_back} | {back} | {len(c['per_session']) - len(ok)} |")
    return "\n".join(lines)


def contention_table(c: dict) -> str:
    def runs(visits):
        return ", ".join(f"{v['drawn_s']:.1f}" + (f" ({v['a_at_end']})" if "a_at_end" in v else "")
                         if "drawn_s" in v else f"failed: {v['error']}" for v in visits)

    def seconds(value):
        return "-" if value is None else f"{value:.1f} s"

    ratio = "-" if c["ratio"] is None else f"{c['ratio']:.2f} (target <= 1.5: {'met' if c['ratio'] <= 1.5 else 'missed'})"
    rows = [("Overview on the idle server, median", seconds(c["idle_median_s"]), runs(c["idle"])),
            (f"Overview while another session imports {c['appointments']:,} appointments, median",
             seconds(c["loaded_median_s"]), runs(c["loaded"])),
            ("ratio", ratio, ""),
            ("A: upload (files chosen to import running)", seconds(c["a_upload_s"]), ""),
            ("A: import in the worker (running to done)", seconds(c["a_worker_s"]), ""),
            ("A: files chosen to Data page drawn", seconds(c["a_import_s"]), c["a_error"] or ""),
            ("server memory peak", f"{_mib(c['memory_peak'])} MiB", "")]
    for phase in ("idle", "loaded"):
        cpu = c[f"{phase}_cpu"]
        rows.append((f"CPU during the {phase} runs: server (with A's worker) / browser / other work on the machine",
                     f"{cpu['server_s']:.1f} / {cpu['browser_s']:.1f} / {cpu['other_s']:.1f} s", ""))
    lines = ["| measure | value | runs (s) |", "|---|---:|---|"]
    lines += [f"| {label} | {value} | {note} |" for label, value, note in rows]
    return "\n".join(lines)


def _problems(results: dict) -> list[str]:
    """Exceptions shown in a page and tracebacks in a server log, for the summary."""
    found = []
    for part in results.get("load", []) + ([results["contention"]] if "contention" in results else []):
        visits = part.get("per_session", []) + part.get("idle", []) + part.get("loaded", [])
        for visit in visits:
            found += [f"{part['server_log']}: page exception: {text}" for text in visit.get("exceptions", [])]
            if "error" in visit:
                found.append(f"{part['server_log']}: session failed: {visit['error']}\n"
                             f"page: {json.dumps(visit.get('page'), default=str)}")
        found += [f"{part['server_log']}: page exception (session A): {text}" for text in part.get("a_exceptions", [])]
        found += [f"{part['server_log']}:\n{text}" for text in part["server_log_problems"]]
    if "contention_error" in results:
        found.append(f"contention run failed: {results['contention_error']}")
    return found


# --- main ----------------------------------------------------------------------------------------

async def run(args) -> dict:
    # A SIGTERM cancels the run like Ctrl-C does, so the servers and the browser are still ended.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "load": []}
    with tempfile.TemporaryDirectory(prefix="alliance_load_") as tmp:
        await _run(args, results, Path(tmp))
    return results


async def _run(args, results: dict, folder: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for size in args.sizes:
                files = None
                if size != "sample":
                    (folder / size).mkdir()
                    files = write_caseload(int(size), folder / size)
                for n in args.sessions:
                    print(f"{size}, {n} session(s) ...", flush=True)
                    results["load"].append(await run_cell(browser, size, n, files, args.settle_timeout))
                    save(results)  # an interrupted run keeps the cells it finished
            if args.contention:
                n_clients = round(args.appointments / appointments_per_client())
                print(f"contention: writing {n_clients:,} clients (~{args.appointments:,} appointments) ...", flush=True)
                (folder / "contention").mkdir()
                files = write_caseload(n_clients, folder / "contention")
                try:
                    results["contention"] = await run_contention(browser, files, args.appointments, args.settle_timeout)
                except Exception as exc:  # noqa: BLE001 - session A's import did not go through: say so
                    results["contention_error"] = f"{type(exc).__name__}: {str(exc)[:1000]}"
                else:
                    results["contention"]["clients"] = n_clients
        finally:
            await browser.close()


def save(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(results, indent=1, default=str))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=["sample", "100000"],
                        help="'sample' and/or numbers of synthetic clients (none: contention only)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8], help="concurrent sessions per size")
    parser.add_argument("--contention", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the large-import contention test (default: on)")
    parser.add_argument("--appointments", type=int, default=4_000_000, help="size of session A's import")
    parser.add_argument("--settle-timeout", type=float, default=600, help="seconds to wait for any one page")
    args = parser.parse_args(argv)
    for size in args.sizes:
        if size != "sample" and not size.isdigit():
            parser.error(f"--sizes: {size!r} is neither 'sample' nor a number of clients")
    try:
        results = asyncio.run(run(args))
    except ServerFailed as failed:
        print(failed, file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the finished cells are in benchmarks/results/load.json", file=sys.stderr)
        return 130
    save(results)
    if results["load"]:
        print("\n" + load_table(results["load"]))
    if "contention" in results:
        print("\n" + contention_table(results["contention"]))
    problems = _problems(results)
    for problem in problems:
        print(f"\nPROBLEM {problem}", file=sys.stderr)
    print(f"\nwritten to {(RESULTS / 'load.json').relative_to(ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
