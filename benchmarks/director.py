"""Speed as a director feels it, in a real browser against a real server started as `make run` starts it.

    .venv/bin/python -m benchmarks.director                      # everything on the sample
    .venv/bin/python -m benchmarks.director --only server first changes
    .venv/bin/python -m benchmarks.director --only changes --clients 100000

Server: the app's script runs in this process without a browser (Streamlit's AppTest): the
warm-up, a visitor's Overview, the Overview under another definition and a second visitor, each
in a fresh session. This is the server's share of every figure below, apart from the browser's drawing.

First page: a fresh server (`python -m ui.serve`, which warms up on the sample before it listens);
the time from its health check answering to one visitor's Overview fully drawn (script idle, every
chart drawn, no element stale, still so 300 ms later). Targets: under 2 s. Beside it the floors:
the same measure on bare Streamlit apps holding one plotly chart, a metric, a static table or an
interactive table.

Changes: on every director page (Overview, Outcomes, Alliance and ruptures, Room, match and habits,
Watch list, Therapists), once the page is drawn, the dropout definition is changed in the sidebar
(to unilateral, and back), then a site filter is added (and removed); each is timed from the click
or key press that makes the change (choosing the option, pressing Enter; opening the list before it
is the user's own time) until the page is fully drawn again. Opening the page is timed too,
unless it is open already (the Overview, the sample's first page; an import leaves the Data page
open). With `--clients N` the session first imports a synthetic caseload of N clients on the Data
page (about 12 appointments each). Targets: under 0.5 s on the sample, under 1 s at 100,000
clients. On the sample a change of definition is drawn from what the server's warm-up computed;
adding a site filter computes its results (and shares them with every later session), removing it
is served from the cache. Beside them the floor of a change: a bare app whose one chart follows a
sidebar selectbox.

Team: a fresh server, N sessions (8 by default) open the sample at once. Per session: the Overview
script run as the browser saw it (from its connection opening to the server's last message) and the time until
fully drawn. Target: every script run within 3 s.

The browser and the server share the machine's cores. Results are printed as Markdown tables and
written to benchmarks/results/director.json, with each server's log next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

from benchmarks.host import host_line, host_speed
from benchmarks.load import (
    CHROMIUM,
    CHROMIUM_ARGS,
    STABLE_MS,
    title_js,
    cpu_seconds,
    exceptions,
    import_outcome,
    new_context,
    new_page,
    open_page,
    start_import,
    write_caseload,
)
from tests.serving import imported_js, streamlit_server
from ui import navigation

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"first_s": 2.0, "change_sample_s": 0.5, "change_large_s": 1.0, "team_run_s": 3.0}
POLL_MS = 25

# The page notes the app's script state when it changes, [state, performance.now()], every 10 ms;
# the time of the last message from the server; and, once changes are timed, of the last change to
# the page. A cached rerun can be over before a poll sees 'running' (React may draw 'running' and
# 'notRunning' in one pass): a message after the click is the evidence of the rerun then.
STATE_LOG = """
window.__states = [];
setInterval(() => {
  const app = document.querySelector("[data-testid='stApp']");
  const state = app && app.getAttribute('data-test-script-state');
  const last = window.__states[window.__states.length - 1];
  if (state && (!last || last[0] !== state)) window.__states.push([state, performance.now()]);
}, 10);
window.__opened = 0;
window.__lastMessage = 0;
window.__lastMutation = 0;
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('open', () => { window.__opened = window.__opened || performance.now(); });
    this.addEventListener('message', () => { window.__lastMessage = performance.now(); });
  }
};
// Started by the first timed change, not at load: on a first page it would itself cost time.
window.__watchMutations = () => window.__mutations || (window.__mutations = new MutationObserver(
  () => { window.__lastMutation = performance.now(); })).observe(document,
  {subtree: true, childList: true, attributes: true, characterData: true});
"""
SETTLED = """(args) => {
  const [title, since] = args;
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning'
      || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (since !== null && window.__lastMessage < since
      && !window.__states.some(([s, t]) => s === 'running' && t >= since)) return false;
  if (document.querySelector("[data-stale='true'], [data-testid='stSpinner'], [data-testid='stSkeleton']")) return false;
  const heading = [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title);
  const charts = [...document.querySelectorAll("[data-testid='stPlotlyChart']")];
  return heading && charts.every(c => c.querySelector('.main-svg'));
}"""


async def settled(page, title: str, since: float | None, timeout_s: float) -> float:
    """perf_counter when the page titled `title` was fully drawn (after a script run that started
    at or after page time `since`, when given), and still so STABLE_MS later. After a change the
    page may still have been drawing what the server sent when first seen so: then it was fully
    drawn at its last change within those STABLE_MS."""
    deadline = time.perf_counter() + timeout_s
    while True:
        await page.wait_for_function(SETTLED, arg=[title, since], polling=POLL_MS,
                                     timeout=max(1.0, deadline - time.perf_counter()) * 1000)
        seen, seen_page = time.perf_counter(), await page.evaluate("performance.now()")
        await page.wait_for_timeout(STABLE_MS)
        if await page.evaluate(SETTLED, [title, since]):
            if since is None:
                return seen
            return seen + max(0.0, (await page.evaluate("window.__lastMutation") - seen_page) / 1000)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{title} not drawn within {timeout_s:.0f} s")


async def script_run_s(page) -> float | None:
    """The first script run as the browser saw it: from its connection to the server opening to the
    server's last message (the server speaks only while a script runs; a poll of the app's state
    can miss a short run)."""
    opened, last = await page.evaluate("[window.__opened, window.__lastMessage]")
    return (last - opened) / 1000 if opened and last > opened else None


async def visit(browser, url: str, timeout_s: float):
    context = await new_context(browser, timeout_s)
    await context.add_init_script(STATE_LOG)
    page = await new_page(context)
    return context, page


# --- first page ------------------------------------------------------------------------------------

async def first_page(browser, timeout_s: float, script: Path | None = None) -> dict:
    """A fresh server, and one visitor's first page until fully drawn; with `script`, that bare
    Streamlit script is served instead of the app (see `floors`)."""
    log = RESULTS / ("director_floor.log" if script else "director_first.log")
    with streamlit_server(log, script=script) as (url, pid):
        ready = time.perf_counter()
        context, page = await visit(browser, url, timeout_s)
        await page.goto(url)
        done = await settled(page, "Overview", None, timeout_s)
        result = {"drawn_s": done - ready, "script_run_s": await script_run_s(page),
                  "server_cpu_s": cpu_seconds(pid), "exceptions": await exceptions(page)}
        await context.close()
    return result


# Bare Streamlit apps, the floors of the first page: what Streamlit and the browser take whatever
# the app does. Each element kind is a script the browser loads and compiles on a first visit (the
# plotly chart's is 4.7 MB).
_BARE = 'import streamlit as st\n\nst.title("Overview")\n'
_PLOTLY = "import plotly.graph_objects as go\n"
FLOORS = {
    "one small plotly chart": _PLOTLY + _BARE + "st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))\n",
    "a metric, no chart": _BARE + 'st.metric("Dropout rate", "22.7%")\n',
    "a static table": _BARE + 'st.table({"x": [1, 2, 3], "y": [1, 3, 2]})\n',
    "an interactive table (grid)": _BARE + 'st.dataframe({"x": [1, 2, 3], "y": [1, 3, 2]})\n',
}
# The floor of a change: a bare app whose one chart follows a sidebar selectbox.
CHANGE_FLOOR = _PLOTLY + _BARE.replace('st.title("Overview")\n', """definition = st.sidebar.selectbox("Dropout definition", ["Therapist-judged", "Unilateral"])
st.title("Overview")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3 if definition == "Unilateral" else 2, 2])))
""")


async def floors(browser, timeout_s: float) -> dict:
    """The same measure as `first_page` on each bare app of FLOORS."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, app in FLOORS.items():
            script = Path(folder) / "floor.py"
            script.write_text(app)
            out[name] = await first_page(browser, timeout_s, script)
    return out


async def change_floor(browser, timeout_s: float) -> dict:
    """The changes' measure on CHANGE_FLOOR: the definition changed and changed back."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "floor.py"
        script.write_text(CHANGE_FLOOR)
        with streamlit_server(RESULTS / "director_floor.log", script=script) as (url, _):
            context, page = await visit(browser, url, timeout_s)
            await page.goto(url)
            await settled(page, "Overview", None, timeout_s)
            result = {"definition_s": await timed(page, "Overview", lambda: choose(page, "Dropout definition", "Unilateral"), timeout_s),
                      "definition_back_s": await timed(page, "Overview", lambda: choose(page, "Dropout definition", "Therapist"), timeout_s)}
            await context.close()
    return result


# --- changes on every director page ---------------------------------------------------------------

async def choose(page, label: str, option: str):
    """Open the sidebar's selectbox `label`; returns the click on `option` that makes the change."""
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']", has_text=label).first
    await box.click()
    return lambda: page.get_by_role("option").filter(has_text=option).first.click(timeout=5000)


async def site_filter(page, site: str | None):
    """Open the sidebar's site filter; returns the click on `site` in its list that adds it, or the
    key press that clears the last chosen site (Backspace) when `site` is None."""
    expander = page.locator("[data-testid='stSidebar'] [data-testid='stExpander']", has_text="Filter clients").first
    box = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']", has_text="Site").first

    async def open_list() -> None:
        if await expander.locator("details").get_attribute("open") is None:
            await expander.locator("summary").click()
            await page.wait_for_timeout(300)  # the expander opens with an animation
        await box.locator("input").first.click()

    if site is None:
        await open_list()

        async def clear():
            await page.keyboard.press("Backspace")
            await page.keyboard.press("Escape")
        return clear
    option = page.get_by_role("option", name=site, exact=True).first
    for _ in range(5):  # a click while the expander is still opening, or a rerun redrawing it, leaves the list closed
        await open_list()
        try:
            await option.wait_for(timeout=3000)
            break
        except PlaywrightTimeout:
            await page.keyboard.press("Escape")
    else:
        raise RuntimeError(f"the site filter did not list {site}")

    async def add():
        await option.click(timeout=5000)
        await page.keyboard.press("Escape")
    return add


async def timed(page, title: str, prepare, timeout_s: float) -> float:
    """Seconds from the click or key press that makes a change (what `prepare` returns, after it
    opened the list the change is chosen from) until the page is fully drawn again."""
    for attempt in range(3):
        commit = await prepare()
        await page.evaluate("window.__watchMutations()")
        since = await page.evaluate("performance.now()")
        start = time.perf_counter()
        try:
            await commit()
        except PlaywrightTimeout:  # the list closed before the click: nothing changed, choose again
            await page.keyboard.press("Escape")
            continue
        return await settled(page, title, since, timeout_s) - start
    raise RuntimeError(f"{title}: the change could not be made")


async def changes(browser, n_clients: int | None, timeout_s: float) -> dict:
    label = "sample" if n_clients is None else f"{n_clients:,} clients"
    with tempfile.TemporaryDirectory() as tmp, \
            streamlit_server(RESULTS / f"director_changes_{n_clients or 'sample'}.log") as (url, _):
        context, page = await visit(browser, url, timeout_s)
        if n_clients is None:
            await page.goto(url)
            await settled(page, "Overview", None, timeout_s)
        else:
            files = write_caseload(n_clients, Path(tmp))
            await start_import(page, url, files, timeout_s)
            name = ", ".join(path.name for path in files.values())
            await page.wait_for_function(f"() => {imported_js(name)}", polling=200, timeout=timeout_s * 1000)
            failed = await import_outcome(page, name)
            if failed:
                raise RuntimeError(f"import of {label} failed: {failed}")
        rows = []
        for _, title in navigation.DIRECTOR_PAGES:
            print(f"changes on {label}: {title} ...", file=sys.stderr, flush=True)
            if await page.evaluate(f"() => {title_js(title)}"):  # the sample's first page: nothing to open
                opened = None
            else:  # the title tells the page apart (a run that is over before the page's state poll may go unseen)
                start = time.perf_counter()
                await open_page(page, title)
                opened = await settled(page, title, None, timeout_s) - start
            row = {"page": title, "open_s": opened}
            row["definition_s"] = await timed(page, title, lambda: choose(page, "Dropout definition", "Unilateral"), timeout_s)
            row["definition_back_s"] = await timed(page, title, lambda: choose(page, "Dropout definition", "Therapist"), timeout_s)
            row["filter_s"] = await timed(page, title, lambda: site_filter(page, "Site A"), timeout_s)
            row["filter_back_s"] = await timed(page, title, lambda: site_filter(page, None), timeout_s)
            row["exceptions"] = await exceptions(page)
            rows.append(row)
        await context.close()
    return {"data": label, "pages": rows}


# --- a team at once --------------------------------------------------------------------------------

async def team(browser, n: int, timeout_s: float) -> dict:
    with streamlit_server(RESULTS / f"director_team_{n}.log") as (url, pid):
        cpu_before = cpu_seconds(pid)
        visits = [await visit(browser, url, timeout_s) for _ in range(n)]

        async def one(page):
            start = time.perf_counter()
            await page.goto(url)
            done = await settled(page, "Overview", None, timeout_s)
            return {"drawn_s": done - start, "script_run_s": await script_run_s(page),
                    "exceptions": await exceptions(page)}

        sessions = await asyncio.gather(*(one(page) for _, page in visits))
        cpu = cpu_seconds(pid) - cpu_before
        for context, _ in visits:
            await context.close()
    runs = [s["script_run_s"] for s in sessions if s["script_run_s"] is not None]
    return {"sessions": sessions, "server_cpu_s": cpu,
            "max_script_run_s": max(runs) if runs else None, "median_drawn_s": statistics.median(s["drawn_s"] for s in sessions)}


# --- the server's own share, without a browser ----------------------------------------------------

def server_runs() -> dict:
    """Script runs of the app in this process (Streamlit's AppTest, no browser, no network): the
    warm-up `python -m ui.serve` does, then the Overview for a visitor, under another definition
    and for a second visitor. What the server spends, apart from drawing."""
    from streamlit.testing.v1 import AppTest

    from ui import serve, state

    computed: list[str] = []
    calculating = state._calculating

    def counting(name, *rest):
        computed.append(name)
        return calculating(name, *rest)

    state._calculating = counting

    def run(at) -> dict:
        computed.clear()
        start = time.perf_counter()
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].message)
        return {"s": time.perf_counter() - start, "computed": list(computed)}

    out = {"warm_up_s": serve.warm()}  # before counting: its computations fill the cache
    # Each step is a fresh headless session whose first run has the setting (in AppTest only a
    # session's first run goes through app.py): the server's work for a visitor who changed it.
    # (A filter cannot be preset this way: a session's first run starts without filters.)
    for name, settings in (("overview_s", {}), ("definition_s", {state.DEFINITION: "unilateral"}),
                           ("second_visitor_s", {})):
        visitor = AppTest.from_file(str(serve.APP), default_timeout=300)
        for key, value in settings.items():
            visitor.session_state[key] = value
        out[name] = run(visitor)
    state._calculating = calculating
    return out


# --- report ----------------------------------------------------------------------------------------

def report(results: dict) -> str:
    out = []
    if "server" in results:
        r = results["server"]
        out += ["## The server's script runs (in process, no browser)", "",
                "| warm-up | first visitor's Overview | another definition | second visitor |",
                "|---|---|---|---|",
                f"| {r['warm_up_s']:.2f} s | " + " | ".join(
                    f"{r[k]['s']:.2f} s ({len(r[k]['computed'])} computed)" for k in
                    ("overview_s", "definition_s", "second_visitor_s"))
                + " |", ""]
    if "first" in results:
        f = results["first"]
        out += ["## First page after start", "", "| Overview drawn after the server answered | script run | server CPU since start |",
                "|---|---|---|", f"| {f['drawn_s']:.2f} s (target {TARGETS['first_s']:g} s) | {_s(f['script_run_s'])} | "
                f"{f['server_cpu_s']:.1f} s |", ""]
    if "floors" in results:
        out += ["## The floors: bare Streamlit apps, same measure", "", "| the app holds | drawn after the server answered |",
                "|---|---|"]
        out += [f"| {name} | {f['drawn_s']:.2f} s |" for name, f in results["floors"].items()]
        out.append("")
    if "change_floor" in results:
        f = results["change_floor"]
        out += ["## The floor of a change: a bare app whose one chart follows the sidebar", "",
                "| definition | definition back |", "|---|---|", f"| {f['definition_s']:.2f} s | {f['definition_back_s']:.2f} s |", ""]
    for cell in results.get("changes", []):
        target = TARGETS["change_sample_s"] if cell["data"] == "sample" else TARGETS["change_large_s"]
        out += [f"## Changes on {cell['data']} (target {target:g} s)", "",
                "| page | open | definition | definition back | site filter | filter removed |", "|---|---|---|---|---|---|"]
        out += [f"| {r['page']} | {_s(r['open_s'])} | {r['definition_s']:.2f} s | {r['definition_back_s']:.2f} s | "
                f"{r['filter_s']:.2f} s | {r['filter_back_s']:.2f} s |" for r in cell["pages"]]
        out.append("")
    if "team" in results:
        t = results["team"]
        out += [f"## {len(t['sessions'])} sessions open the sample at once (target: every script run within "
                f"{TARGETS['team_run_s']:g} s)", "", "| session | script run | drawn |", "|---|---|---|"]
        out += [f"| {i + 1} | {_s(s['script_run_s'])} | {s['drawn_s']:.2f} s |" for i, s in enumerate(t["sessions"])]
        out += ["", f"Longest script run {_s(t['max_script_run_s'])}, median drawn {t['median_drawn_s']:.2f} s, "
                f"server CPU {t['server_cpu_s']:.1f} s.", ""]
    if "host" in results:
        out.append(host_line(results["host"]))
    return "\n".join(out)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


async def main(args) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"director benchmark: {', '.join(args.only)} ...", file=sys.stderr, flush=True)
            if "first" in args.only:
                results["first"] = await first_page(browser, args.timeout)
                results["floors"] = await floors(browser, args.timeout)
            if "changes" in args.only:
                results["changes"] = [await changes(browser, n, args.timeout) for n in (args.clients or [None])]
                if not args.clients:
                    results["change_floor"] = await change_floor(browser, args.timeout)
            if "team" in args.only:
                results["team"] = await team(browser, args.sessions, args.timeout)
        finally:
            await browser.close()
    return results


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=("server", "first", "changes", "team"),
                        default=["server", "first", "changes", "team"])
    parser.add_argument("--clients", type=int, nargs="*", help="run the changes on uploads of these sizes, not the sample")
    parser.add_argument("--sessions", type=int, default=8, help="sessions opening the sample at once")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for any one page")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {"host": host_speed()}
    if "server" in args.only:
        results["server"] = server_runs()
    if set(args.only) - {"server"}:
        results.update(asyncio.run(main(args)))
    (RESULTS / "director.json").write_text(json.dumps(results, indent=2))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
