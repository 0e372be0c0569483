"""Figure and table export: file validity, exact physical sizes, one shared browser, and
spreadsheet-formula neutralization checked cell by cell.

Figure tests need Chromium. Under CI=true a missing Chromium FAILS them (the CI image must have
it); on a developer machine without Chromium they are skipped.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import xml.etree.ElementTree as ET

import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics.charts.theme import INTERACTIVE, PALETTE, apply_publication_theme, apply_theme
from analytics.output import export


@pytest.fixture
def fig():
    return apply_theme(go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="a"), layout_title_text="Hello"))


# --- figures -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "width_mm, height_mm, dpi, pixels",
    [
        (85, 70, 300, (1004, 827)),     # 85/25.4*300 = 1003.94, 70/25.4*300 = 826.77
        (175, 120, 600, (4134, 2835)),  # 4133.86, 2834.65
        (90, 60, 150, (531, 354)),      # 531.50 -> 531 (round half to even), 354.33
        (100, 80, 96, (378, 302)),      # 377.95, 302.36
    ],
)
def test_png_pixel_size_and_dpi(renderer, fig, width_mm, height_mm, dpi, pixels):
    data = export.figure_bytes(fig, "png", width_mm=width_mm, height_mm=height_mm, dpi=dpi)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert export.png_size(data) == pixels
    ppm = round(dpi / 0.0254)
    pos = data.find(b"pHYs")
    assert pos > 0 and data[pos + 4:pos + 13] == ppm.to_bytes(4, "big") * 2 + b"\x01"
    assert export.png_dpi(data) == pytest.approx(dpi, abs=0.02)  # whole pixels per metre


def test_svg_is_valid_xml_sized_in_mm_with_print_fonts(renderer, fig):
    data = export.figure_bytes(fig, "svg", width_mm=85, height_mm=70, font_size=9)
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == "85mm" and root.get("height") == "70mm"
    text = data.decode()
    assert "Hello" in text
    # 9 pt at 96 CSS px per inch is 12 px; the title is 10% larger
    assert set(re.findall(r"font-size: ?([\d.]+)px", text)) == {"12", "13.2"}


def test_pdf_page_is_the_requested_size(renderer, fig):
    data = export.figure_bytes(fig, "pdf", width_mm=85, height_mm=70)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    box = re.search(rb"MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    width_pt, height_pt = float(box.group(1)), float(box.group(2))
    assert width_pt == pytest.approx(85 / 25.4 * 72, abs=0.5)   # 240.94 pt
    assert height_pt == pytest.approx(70 / 25.4 * 72, abs=0.5)  # 198.43 pt


def test_one_browser_serves_every_figure(renderer, fig):
    export.figure_bytes(fig, "png")
    first = export._RENDERER._kaleido
    export.figure_bytes(fig, "svg")
    export.figure_bytes(fig, "pdf")
    assert first is not None and export._RENDERER._kaleido is first


def test_concurrent_sessions_share_the_renderer_safely(renderer, fig):
    sizes = [(60 + 5 * i, 50 + 5 * i) for i in range(6)]
    results: dict[int, bytes] = {}

    def work(i):
        results[i] = export.figure_bytes(fig, "png", width_mm=sizes[i][0], height_mm=sizes[i][1], dpi=100)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (w, h) in enumerate(sizes):
        assert export.png_size(results[i]) == (round(w / 25.4 * 100), round(h / 25.4 * 100))


def test_missing_browser_gives_one_line_error(monkeypatch, fig):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    assert export.renderer_problem() is not None
    with pytest.raises(export.RendererUnavailable) as err:
        export._Renderer().render(export.publication_figure(fig), {"format": "png"})
    assert "\n" not in str(err.value) and "Chromium" in str(err.value)


def test_unknown_format_and_bad_size_are_refused(fig):
    with pytest.raises(ValueError, match="png, svg, pdf"):
        export.figure_bytes(fig, "gif")
    with pytest.raises(ValueError, match="positive"):
        export.figure_bytes(fig, "png", width_mm=0)


def test_publication_theme_is_print_sized_and_leaves_screen_figure_alone(fig):
    pub = export.publication_figure(fig, width_mm=175, height_mm=100, font_size=8)
    assert pub.layout.width == pytest.approx(175 / 25.4 * 96)
    assert pub.layout.height == pytest.approx(100 / 25.4 * 96)
    assert pub.layout.font.size == pytest.approx(8 * 96 / 72)
    assert pub.layout.template.layout.xaxis.showgrid is False
    assert fig.layout.width is None and fig.layout.font.size is None  # the screen figure is untouched


def test_a_screen_figure_has_the_interactive_theme(fig):
    """Figures start with the interactive template (plotly's default once the theme is imported);
    apply_theme no longer assigns it."""
    template = fig.layout.template
    assert template.layout.colorway == tuple(PALETTE) and template.layout.yaxis.gridcolor == "#EEEEEE"
    assert fig.to_plotly_json()["layout"]["template"] == INTERACTIVE.to_plotly_json()


def test_publication_theme_keeps_a_charts_own_axis_choices():
    fig = go.Figure(go.Scatter(x=[1], y=[1]))
    fig.update_yaxes(showline=False, ticks="")
    pub = apply_publication_theme(apply_theme(fig))
    assert pub.layout.yaxis.showline is False and pub.layout.yaxis.ticks == ""


def test_palette_is_okabe_ito():
    assert PALETTE[:7] == ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]


def test_browser_side_svg_camera_config():
    assert export.PLOTLY_CONFIG["toImageButtonOptions"]["format"] == "svg"


# --- tables -----------------------------------------------------------------------------------

@pytest.fixture
def risky():
    return pd.DataFrame({
        "=cmd": ["=1+1", "+SUM(A1)", "-2+3", "@x", "\tq", "\rr", "ok", None],
        "number": [-1, 2, -3, 4, 5, 6, 7, 8],
        "mixed": [-2.5, "x", "=A1", 3, None, "a-b", "'quoted", "-"],
    })


def test_csv_neutralizes_text_only(risky):
    rows = list(csv.reader(io.StringIO(export.table_csv_bytes(risky).decode("utf-8"), newline="")))
    assert rows[0] == ["'=cmd", "number", "mixed"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@x", "'\tq", "'\rr", "ok", ""]
    assert [r[1] for r in rows[1:]] == ["-1", "2", "-3", "4", "5", "6", "7", "8"]
    assert [r[2] for r in rows[1:]] == ["-2.5", "x", "'=A1", "3", "", "a-b", "'quoted", "'-"]


def test_xlsx_cells_are_text_or_numbers_never_formulas(risky):
    book = openpyxl.load_workbook(io.BytesIO(export.table_xlsx_bytes(risky)))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("'=cmd", "number", "mixed")
    # (XML stores a carriage return as a line feed, so that cell reads back as "'\nr")
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@x", "'\tq", "'\nr", "ok", None]
    assert [r[1] for r in rows[1:]] == [-1, 2, -3, 4, 5, 6, 7, 8]
    assert [r[2] for r in rows[1:]] == [-2.5, "x", "'=A1", 3, None, "a-b", "'quoted", "'-"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_drops_characters_excel_cannot_hold():
    book = openpyxl.load_workbook(io.BytesIO(export.table_xlsx_bytes(pd.DataFrame({"a": ["x\x01y"]}))))
    assert book.active["A2"].value == "xy"


def test_a_crashed_browser_is_replaced(renderer, fig):
    export.figure_bytes(fig, "png")
    crashed = export._RENDERER._kaleido
    crashed.subprocess.kill()  # the Chromium this process started
    crashed.subprocess.wait()
    data = export.figure_bytes(fig, "png", dpi=100)
    assert export.png_size(data) == (round(85 / 25.4 * 100), round(70 / 25.4 * 100))
    assert export._RENDERER._kaleido is not crashed


def test_long_axis_titles_wrap_to_the_print_width():
    title = "Odds of dropout relative to an average therapist (95% CI, log scale)"
    fig = go.Figure(go.Scatter(x=[1], y=[1]), layout_xaxis_title_text=title)
    narrow = export.publication_figure(fig, width_mm=85, font_size=8)
    assert narrow.layout.xaxis.title.text.replace("<br>", " ") == title
    assert all(len(line) <= 38 for line in narrow.layout.xaxis.title.text.split("<br>"))
    assert export.publication_figure(fig, width_mm=175, font_size=8).layout.xaxis.title.text == title


def test_an_idle_browser_closes_and_reopens_on_demand(renderer, fig):
    """The browser (about 400 MB) is given back after the idle time; the next figure opens it again."""
    idle = export._Renderer(idle_s=0.5)
    spec = export.publication_figure(fig)
    opts = {"format": "svg", "width": 300, "height": 200, "scale": 1}
    first = idle.render(spec, opts)
    process = idle._kaleido.subprocess if hasattr(idle._kaleido, "subprocess") else None
    assert idle.is_open
    deadline = threading.Event()
    for _ in range(40):
        if not idle.is_open:
            break
        deadline.wait(0.25)
    assert not idle.is_open, "the browser stayed open after its idle time"
    if process is not None:
        assert process.poll() is not None, "the Chromium process outlived the close"
    assert idle.render(spec, opts)[:4] == first[:4]
    assert idle.is_open
    idle.close()
