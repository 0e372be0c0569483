"""The one place CSS (and the script it needs) enters the page: a print stylesheet, so a page
printed for a meeting shows its content only (no sidebar, buttons or chart toolbars) with every
chart scaled to the width of the paper."""

import streamlit as st

# Streamlit's own data-testid selectors (as its browser tests use them).
_PRINT_CSS = """
<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stDownloadButton"], [data-testid="stButton"],
  [data-testid="stElementToolbar"], [data-testid="stStatusWidget"], .modebar-container { display: none !important; }
  [data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 0 1rem !important; }
  [data-testid="stPlotlyChart"] { break-inside: avoid; overflow: hidden; }
}
</style>
"""

# A chart is drawn at the width of the screen; before printing, each is scaled down to the width it
# has on paper (and back afterwards), so nothing is cut at the right edge.
_PRINT_SCRIPT = """
<script>
(() => {
  if (window.__allianceLensPrint) return;
  window.__allianceLensPrint = true;
  const charts = () => document.querySelectorAll('[data-testid="stPlotlyChart"] .svg-container');
  window.addEventListener("beforeprint", () => charts().forEach((chart) => {
    const room = chart.parentElement.closest('[data-testid="stPlotlyChart"]').clientWidth;
    const scale = Math.min(1, room / chart.offsetWidth);
    chart.style.transformOrigin = "0 0";
    chart.style.transform = `scale(${scale})`;
    chart.parentElement.style.height = `${chart.offsetHeight * scale}px`;
  }));
  window.addEventListener("afterprint", () => charts().forEach((chart) => {
    chart.style.transform = "";
    chart.parentElement.style.height = "";
  }));
})();
</script>
"""


def apply() -> None:
    """Add the print stylesheet and its chart-scaling script to this run's page."""
    st.html(_PRINT_CSS + _PRINT_SCRIPT, unsafe_allow_javascript=True)
