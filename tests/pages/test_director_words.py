"""Every director page and section on small exports a director uploads, where models fail for want of
data (not only the sample the browser test reads): nothing shown in prose, tables, metrics or chart text is a raw name or a missing value.
A column name a message asks the user to add is written as code (`goals_agreed`) and is left out."""

import json
import re

import pytest

from analytics.ingest.load import load_caseload
from analytics.synth import generate_caseload
from tests.director_words import unreadable
from tests.harness import open_page, shown_table
from tests.paths import FIXTURES
from ui import navigation, state

SECTION_KEYS = {"pages/overview.py": state.OVERVIEW_SECTION, "pages/outcomes.py": "outcomes_section",
                "pages/alliance.py": "alliance_section", "pages/room_match.py": "room_match_section"}
CASELOADS = {
    "EHR appointments and clients": lambda: load_caseload({"sessions": FIXTURES / "ehr_appointments.csv",
                                                           "clients": FIXTURES / "ehr_clients.csv"}).caseload,
    "EHR appointments only": lambda: load_caseload({"sessions": FIXTURES / "ehr_appointments.csv"}).caseload,
    # too few held-out dropouts for the watch list's interval
    "a practice of 60 clients": lambda: generate_caseload(n_clients=60, n_therapists=4, seed=7).caseload(),
}
ASKED_FOR = re.compile(r"`[^`]*`")
TEXT = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text")


def _shown(node, out: list[str]) -> None:
    """The words of every element under `node` a director reads; the researchers' model tables
    (folded under "For researchers") keep a statistician's names and are left out."""
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            if not (getattr(child, "type", "") == "expandable" and "For researchers" in str(getattr(child, "label", ""))):
                _shown(child, out)
        return
    kind = getattr(node, "type", "")
    if kind in ("table", "dataframe"):
        table = shown_table(node)
        out += [" ".join(map(str, table.columns)), " ".join(table.astype(str).to_numpy().ravel())]
    elif kind == "plotly_chart":
        spec = json.loads(node.proto.spec)
        layout = spec.get("layout", {})
        out += [str(part["title"]) for part in layout.values() if isinstance(part, dict) and "title" in part]
        out += [str(note.get("text", "")) for note in layout.get("annotations", [])]
        out += [f"{trace.get('name', '')} {trace.get('hovertemplate', '')}" for trace in spec.get("data", [])]
    elif kind == "metric":
        out.append(f"{node.label} {node.value}")
    elif kind in TEXT:
        out.append(node.value)
    if getattr(node, "label", None):
        out.append(str(node.label))


@pytest.fixture(scope="module", params=list(CASELOADS))
def caseload(request):
    return request.param, CASELOADS[request.param]()


def test_director_pages_on_small_exports_show_no_raw_name_or_missing_value(caseload):
    name, caseload = caseload
    found, read = {}, []
    for page, title in navigation.DIRECTOR_PAGES:
        key = SECTION_KEYS.get(page)
        sections = [t.label for t in open_page(page, caseload).tabs] if key else [None]
        for section in sections:
            at = open_page(page, caseload, **({key: section} if key else {}))
            out: list[str] = []
            _shown(at._tree, out)
            bad = unreadable(ASKED_FOR.sub("", "\n".join(out)))
            read.append(f"{title}, {section}" if section else title)
            if bad:
                found[read[-1]] = bad
    assert found == {}, f"{name}: {found}"
    assert "Room, match and habits, Five habits" in read and "Overview, When dropout happens" in read, read
