"""Figures and tables as files: journal-sized PNG/SVG/PDF and spreadsheet-safe CSV/XLSX.

Figures (and the meeting summary's PDF, `html_pdf_bytes`) are rendered by kaleido in ONE headless Chromium, kept open between figures (opening a
browser takes seconds; a figure in an open one takes a fraction of a second) and closed after
`BROWSER_IDLE_S` without a figure, since it holds about 400 MB in ten processes; the next figure
opens it again. The browser runs on its own event-loop thread; a lock serializes renders because
Streamlit runs each session in a thread.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import io
import logging
import os
import re
import shutil
import struct
import textwrap
import threading
import zlib

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import apply_publication_theme

FORMATS = ("png", "svg", "pdf")
MM_PER_INCH = 25.4
CSS_DPI = 96  # plotly/Chromium lay out in CSS pixels, 96 per inch
AVERAGE_CHAR_EM = 0.55  # mean width of an Arial character, in font sizes
RENDER_TIMEOUT_S = 60
BROWSER_IDLE_S = 120
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# st.plotly_chart(fig, config=PLOTLY_CONFIG): the camera button saves an SVG drawn by the
# browser itself, which works even where no server-side Chromium is installed.
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg", "filename": "figure"}}


_NO_BROWSER = "Figure files need Chromium on the server (apt install chromium), which is not installed."


class RendererUnavailable(RuntimeError):
    """No Chromium to render figures with (the message is one line a user can act on)."""


def publication_figure(fig: go.Figure, width_mm: float = 85, height_mm: float = 70, font_size: float = 8) -> go.Figure:
    """A copy of `fig` in the print theme, laid out at its physical size (font size in points)."""
    out = apply_publication_theme(fig, font_size)
    width = _css_px(width_mm)
    out.update_layout(width=width, height=_css_px(height_mm), autosize=False)
    out.for_each_xaxis(lambda axis: axis.update(title_text=_wrapped(axis.title.text, width, font_size)))
    return out


def figure_bytes(fig: go.Figure, fmt: str, width_mm: float = 85, height_mm: float = 70,
                 font_size: float = 8, dpi: int = 300) -> bytes:
    """The figure as a PNG, SVG or PDF file at a physical size (single column ~85 mm, double ~175 mm).

    A PNG is exactly round(mm / 25.4 * dpi) pixels each way and records its DPI; an SVG and a PDF
    carry their size in millimetres / points.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if min(width_mm, height_mm) <= 0 or font_size <= 0 or dpi <= 0:
        raise ValueError("Figure width, height, font size and DPI must be positive.")
    pub = publication_figure(fig, width_mm, height_mm, font_size)
    if fmt == "png":
        scale = dpi / CSS_DPI
        px_w, px_h = _px(width_mm, dpi), _px(height_mm, dpi)
        # a quarter pixel of slack: the canvas size is the product floored, and must be px_w, px_h
        opts = {"format": "png", "width": (px_w + 0.25) / scale, "height": (px_h + 0.25) / scale, "scale": scale}
        return _set_png_dpi(_RENDERER.render(pub, opts), dpi)
    opts = {"format": fmt, "width": _css_px(width_mm), "height": _css_px(height_mm), "scale": 1}
    data = _RENDERER.render(pub, opts)
    return _svg_in_mm(data, width_mm, height_mm) if fmt == "svg" else data


def renderer_problem() -> str | None:
    """None when figures can be rendered on the server, else the one-line reason (no Chromium)."""
    return None if _find_browser() is not None else _NO_BROWSER


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    return struct.unpack(">II", data[16:24])


def png_dpi(data: bytes) -> float | None:
    """DPI recorded in a PNG's pHYs chunk, or None."""
    pos = data.find(b"pHYs")
    if pos < 0:
        return None
    ppm_x, _, unit = struct.unpack(">IIB", data[pos + 4:pos + 13])
    return ppm_x * 0.0254 if unit == 1 else None


# --- tables -------------------------------------------------------------------------------

_FORMULA_START = r"^[=+\-@\t\r]"
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralize(df: pd.DataFrame) -> pd.DataFrame:
    """A copy where text cells (and headers) a spreadsheet would run as a formula start with a quote.

    Only text is touched: a negative number is a number, not a formula.
    """
    out = df.copy()
    out.columns = [_neutral_text(c) if isinstance(c, str) else c for c in out.columns]
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
                or isinstance(s.dtype, pd.CategoricalDtype)):
            continue
        s = s.astype(object)
        is_text = s.map(type).eq(str)
        risky = is_text & s.where(is_text, "").str.contains(_FORMULA_START, regex=True)
        out[col] = s.where(~risky, "'" + s.where(risky, "").astype(str))
    return out


def table_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV of the table, formula-safe, without the index.

    Rows end in CRLF (RFC 4180), which also makes the csv writer quote a field holding a bare CR.
    """
    return neutralize(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def table_xlsx_bytes(df: pd.DataFrame, sheet: str = "data") -> bytes:
    """An Excel workbook of the table, formula-safe (a quoted text cell stays text)."""
    out = neutralize(df)
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]):
            is_text = out[col].map(type).eq(str)
            out[col] = out[col].where(~is_text, out[col].where(is_text, "").str.replace(_ILLEGAL_XLSX, "", regex=True))
        elif isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet, index=False)
    return buffer.getvalue()


# --- the renderer ---------------------------------------------------------------------------

def _neutral_text(text: str) -> str:
    return "'" + text if re.match(_FORMULA_START, text) else text


def _wrapped(text: str | None, width_px: float, font_size_pt: float) -> str | None:
    """An axis title too long for the figure's width, broken into lines at spaces (plotly never wraps)."""
    if not text or "<br>" in text:
        return text
    per_line = max(10, int(0.7 * width_px / (AVERAGE_CHAR_EM * font_size_pt * CSS_DPI / 72)))
    return "<br>".join(textwrap.wrap(text, per_line)) if len(text) > per_line else text


def _css_px(mm: float) -> float:
    return mm / MM_PER_INCH * CSS_DPI


def _px(mm: float, dpi: float) -> int:
    return int(round(mm / MM_PER_INCH * dpi))


def _set_png_dpi(data: bytes, dpi: float) -> bytes:
    """Insert (or replace) the pHYs chunk so image editors and journals read the right DPI."""
    ppm = int(round(dpi / 0.0254))
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    pos = data.find(b"pHYs")
    if pos >= 0:
        return data[:pos - 4] + chunk + data[pos + 13 + 4:]
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def _svg_in_mm(data: bytes, width_mm: float, height_mm: float) -> bytes:
    """Give the root <svg> a physical size; its viewBox keeps the drawing's coordinates."""
    head, sep, rest = data.partition(b">")
    head = re.sub(rb'\swidth="[^"]*"', f' width="{width_mm:g}mm"'.encode(), head, count=1)
    head = re.sub(rb'\sheight="[^"]*"', f' height="{height_mm:g}mm"'.encode(), head, count=1)
    return head + sep + rest


def _find_browser() -> str | None:
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _Renderer:
    """One kaleido browser on a private event-loop thread, opened on first use and closed when idle."""

    def __init__(self, idle_s: float = BROWSER_IDLE_S):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kaleido = None
        self._idle_s = idle_s
        self._idle_timer: threading.Timer | None = None

    @property
    def is_open(self) -> bool:
        return self._kaleido is not None

    def render(self, fig: go.Figure, opts: dict) -> bytes:
        spec = fig.to_dict()
        return self._with_browser(lambda browser: browser.calc_fig(spec, opts=opts))

    def print_pdf(self, html: str) -> bytes:
        """`html` printed to PDF by the open browser (paper size from the page's CSS @page rule),
        in a tab of its own that is closed afterwards; nothing is written to disk."""
        return self._with_browser(lambda browser: _print_pdf(browser, html))

    def _with_browser(self, work) -> bytes:
        """Run the coroutine `work(browser)` in the open browser (opened if needed)."""
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._ensure_open()
            try:
                return self._run(work(self._kaleido))
            except (ValueError, TypeError, AttributeError):
                raise  # a bad figure or page, not a bad browser
            except Exception:
                # a crashed browser is reopened once; a second failure is reported
                self._close()
                self._ensure_open()
                return self._run(work(self._kaleido))
            finally:
                self._idle_timer = threading.Timer(self._idle_s, self.close)
                self._idle_timer.daemon = True
                self._idle_timer.start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(RENDER_TIMEOUT_S)

    def _ensure_open(self) -> None:
        if self._kaleido is not None:
            return
        path = _find_browser()
        if path is None:
            raise RendererUnavailable(_NO_BROWSER)
        import kaleido  # imported here: the app starts without paying for it

        # choreographer logs a full traceback for each harmless unparsable DevTools message it skips
        logging.getLogger("choreographer.channels.pipe").setLevel(logging.CRITICAL)

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="figure-renderer", daemon=True).start()

        async def start():
            k = kaleido.Kaleido(n=1, timeout=RENDER_TIMEOUT_S, mathjax=False, path=path)
            await k.open()
            return k

        try:
            self._kaleido = self._run(start())
        except Exception as exc:  # noqa: BLE001 - any start-up failure means no renderer
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RendererUnavailable(f"Chromium at {path} did not start: {reason}") from exc
        # registered after the browser made its temporary profile, so (exit handlers run last-in
        # first-out) the browser is closed before that folder is removed
        atexit.unregister(self.close)
        atexit.register(self.close)

    def close(self) -> None:
        """Close the browser (when idle, and at interpreter exit so no Chromium outlives the process)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._kaleido is not None:
            try:
                self._run(self._kaleido.close())
            except Exception:  # noqa: BLE001 - closing a dead browser may fail; it is gone either way
                pass
        self._kaleido = None


async def _print_pdf(browser, html: str) -> bytes:
    """Chrome DevTools: a blank tab, the page set as its document, Page.printToPDF."""
    tab = await browser.create_tab("about:blank")
    try:
        frame = (await tab.send_command("Page.getFrameTree"))["result"]["frameTree"]["frame"]["id"]
        await tab.send_command("Page.setDocumentContent", params={"frameId": frame, "html": html})
        printed = await tab.send_command("Page.printToPDF", params={
            "preferCSSPageSize": True, "printBackground": True, "displayHeaderFooter": False})
        if "error" in printed:
            raise RuntimeError(f"Chromium could not print the page: {printed['error'].get('message', printed['error'])}")
        return base64.b64decode(printed["result"]["data"])
    finally:
        await browser.close_tab(tab.target_id)


def html_pdf_bytes(html: str) -> bytes:
    """A self-contained HTML page (no external files) as PDF, printed by the figure renderer's Chromium."""
    return _RENDERER.print_pdf(html)


_RENDERER = _Renderer()
