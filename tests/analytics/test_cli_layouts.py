"""Issue 12 on the command line: each of the six export layouts, given with only the flags it
needs (--export-date, --sheet, --hash-identifiers --salt-file) and no mapping file, gives exactly
the true episodes; a stop on unknown values, the `map` command and --mapping work together; a
refusal names every identifier column."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.analytics.test_cli import one_line_error, read
from tests.command_line import run_cli
from tests.layouts import episodes_by_client, write_layouts

LAYOUTS = ("SimplePractice", "TheraNest", "NHS Talking Therapies", "FHIR NDJSON", "FHIR flattened CSV", "Workbook")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    return write_layouts(tmp_path_factory.mktemp("cli_layouts"))


def _file_flags(layout) -> list:
    flags = []
    for table, source in layout.sources.items():
        flags += [f"--{table}", *(source if isinstance(source, list) else [source])]
    return flags


@pytest.mark.parametrize("name", LAYOUTS)
def test_each_layout_gives_the_true_episodes(layouts, name, tmp_path):
    layout = layouts[name]
    done = run_cli("report", *_file_flags(layout), *layout.flags, "--no-figures", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    episodes = read(tmp_path / "tables" / "episodes.csv").astype({"client_id": str})
    definition = "therapist_judged" if "therapist_judged" in layout.truth else "unilateral"
    assert episodes_by_client(episodes, layout.ids) == layout.truth[definition]
    assert json.loads((tmp_path / "recipe.json").read_text())["dropout_definition"] == definition


UNKNOWN = "client_id,date,status\n" + "".join(f"C{i},2024-01-{i + 1:02d},Show\n" for i in range(20)) + \
    "C1,2024-02-01,Moved\nC2,2024-02-02,Moved\n"


def test_unknown_values_stop_and_a_written_mapping_resolves_them(tmp_path):
    sessions = tmp_path / "appointments.csv"
    sessions.write_text(UNKNOWN)
    line = one_line_error(run_cli("report", "--sessions", sessions, "--out", tmp_path / "o"))
    assert "'Moved' (2)" in line and "python -m analytics map --sessions" in line and "--mapping" in line
    mapping = tmp_path / "mapping.json"
    done = run_cli("map", "--sessions", sessions, "--out", mapping)
    assert done.returncode == 0 and "sessions status 'Moved'" in done.stdout
    written = json.loads(mapping.read_text())
    assert written["sessions"]["values"]["status"] == {"Show": "attended", "Moved": None}
    written["sessions"]["values"]["status"]["Moved"] = "cancelled"
    mapping.write_text(json.dumps(written))
    done = run_cli("report", "--sessions", sessions, "--mapping", mapping, "--export-date", "2024-06-30", "--no-figures",
                   "--out", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    episodes = read(tmp_path / "o" / "tables" / "episodes.csv").set_index("client_id")["event"]
    assert len(episodes) == 20 and episodes[episodes == 1].index.tolist() == ["C1", "C2"]  # left after a cancellation


def test_a_refusal_names_every_identifier_column(layouts, tmp_path):
    frame = pd.read_csv(layouts["SimplePractice"].sources["sessions"])
    frame["Email"] = "someone@example.org"
    frame["Phone"] = "+44 20 7946 0000"
    path = tmp_path / "appointments.csv"
    frame.to_csv(path, index=False)
    line = one_line_error(run_cli("report", "--sessions", path, "--out", tmp_path / "o"))
    for column in ("'Client' (name)", "'Clinician' (name)", "'Email' (email)", "'Phone' (phone)"):
        assert column in line
    assert "more" not in line and "--hash-identifiers --salt-file" in line
    line = one_line_error(run_cli("report", "--sessions", path, "--hash-identifiers", "--out", tmp_path / "o"))
    assert "--salt-file" in line
    salt = layouts["SimplePractice"].flags[layouts["SimplePractice"].flags.index("--salt-file") + 1]
    done = run_cli("report", "--sessions", path, "--hash-identifiers", "--salt-file", salt, "--export-date", "2025-06-30",
                   "--no-figures", "--out", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    episodes = read(tmp_path / "o" / "tables" / "episodes.csv")
    assert set(episodes["client_id"]) == set(layouts["SimplePractice"].ids.values())
    assert not {"Email", "Phone"} & set(episodes.columns)


@pytest.mark.parametrize("flags, expected", [
    (["--sheet", "visits"], "TABLE=SHEET"),
    (["--sheet", "clients=Clients"], "no --clients file"),
    (["--export-date", "30/06/2025"], "YYYY-MM-DD"),
])
def test_reading_flags_say_what_is_wrong(layouts, tmp_path, flags, expected):
    sessions = layouts["TheraNest"].sources["sessions"]
    assert expected in one_line_error(run_cli("report", "--sessions", sessions, *flags, "--out", tmp_path / "o"))


def test_map_writes_the_cancelled_by_column(layouts, tmp_path):
    done = run_cli("map", "--sessions", layouts["TheraNest"].sources["sessions"], "--out", tmp_path / "m.json")
    assert done.returncode == 0, done.stderr
    sessions = json.loads((tmp_path / "m.json").read_text())["sessions"]
    assert sessions["cancelled_by"] == "Canceled By"
    assert sessions["values"]["cancelled_by"] == {"Client": "client", "Provider": "clinician"}
