"""Every validation problem names the right file, column and spreadsheet rows, and keeps the valid rest."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.ingest.load import load_caseload
from analytics.ingest.mapping import Mapping, TableMapping
from analytics.ingest.problems import Problem, problems_table
from analytics.ingest.validate import _ordered_codes, _repeats, _shared_clients, check_links, conform
from tests.paths import FIXTURES, REFERENCE

EXPORT_DATE = "2024-06-30"


def _csv(name: str, text: str):
    return (name, text.encode())


def _only(problems, **where) -> Problem:
    found = [p for p in problems if all(getattr(p, k) == v for k, v in where.items())]
    assert len(found) == 1, [p.as_text() for p in problems]
    return found[0]


@pytest.fixture(scope="module")
def ehr():
    return load_caseload({"sessions": FIXTURES / "ehr_appointments.csv", "clients": FIXTURES / "ehr_clients.csv"},
                         export_date=EXPORT_DATE)


def test_ehr_export_problems_point_at_their_rows(ehr):
    problems = ehr.problems
    assert all(p.file == "ehr_appointments.csv" and p.severity == "warning" for p in problems)
    bad_date = _only(problems, column="Date of Service", rows=[14])
    assert "'02/30/2024'" in bad_date.message and "MM/DD/YYYY" in bad_date.message
    future = _only(problems, column="Date of Service", rows=[31])
    assert "after the export date 2024-06-30" in future.message
    unknown = _only(problems, column="Appointment Status")
    assert unknown.rows == [30] and "'Rescheduled'" in unknown.message
    scale = _only(problems, column="SRS Total")
    assert scale.rows == [17] and "0-40" in scale.message and "'45'" in scale.message
    duplicate = _only(problems, rows=[4])
    assert "repeating an earlier row" in duplicate.message
    shared = _only(problems, column="Clinician")
    assert shared.rows == [21, 22, 23, 24] and "'C104'" in shared.message and "most of their attended sessions" in shared.message
    assert len(problems) == 6


def test_ehr_export_keeps_valid_rows(ehr):
    sessions = ehr.caseload.sessions
    assert len(sessions) == 33 - 4  # duplicate, unreadable date, unknown status, future date left out
    assert sessions["srs"].isna().sum() == 11  # 10 blank among the kept rows + the out-of-scale 45
    assert sessions.loc[sessions["Appointment ID"] == "A1015", "srs"].isna().all()


def test_missing_required_column_blocks_with_the_columns_listed():
    result = load_caseload({"sessions": _csv("appts.csv", "Client ID,Date of Service\nC1,01/02/2024\n")})
    error = _only(result.problems, column="status")
    assert error.severity == "error" and error.file == "appts.csv"
    assert "'Client ID', 'Date of Service'" in error.message
    assert result.caseload is None


def test_listed_rows_are_capped_with_a_count_of_the_rest():
    body = "".join(f"C{i},2024-01-{i + 1:02d},Pending\n" for i in range(15))
    result = load_caseload({"sessions": _csv("s.csv", "client_id,date,status\nC99,2024-01-01,attended\n" + body)},
                           export_date="2024-12-31")
    problem = _only(result.problems, column="status")
    assert problem.rows == list(range(3, 13)) and problem.more == 5
    assert "rows 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 5 more" in problem.as_text()
    assert len(result.caseload.sessions) == 1


def test_scores_off_their_scales_become_missing():
    sessions = "client_id,date,status,wai,ors\nC1,2024-01-01,attended,10,41\nC1,2024-01-08,attended,60,0\n"
    clients = "client_id,env_noise,env_comfort\nC1,6,3\n"
    result = load_caseload({"sessions": _csv("s.csv", sessions), "clients": _csv("c.csv", clients)}, export_date="2024-02-01")
    wai = _only(result.problems, column="wai")
    assert wai.rows == [2] and "12-60" in wai.message
    assert _only(result.problems, column="ors").rows == [2]
    assert _only(result.problems, column="env_noise").rows == [2]
    s = result.caseload.sessions
    assert s["wai"].tolist()[1] == 60 and pd.isna(s["wai"].iloc[0]) and s["ors"].tolist()[1] == 0
    assert pd.isna(result.caseload.clients["env_noise"].iloc[0]) and result.caseload.clients["env_comfort"].iloc[0] == 3


def test_text_in_a_score_column():
    result = load_caseload({"sessions": _csv("s.csv", "client_id,date,status,srs\nC1,2024-01-01,attended,good\nC1,2024-01-08,attended,36\n")},
                           export_date="2024-02-01")
    problem = _only(result.problems, column="srs")
    assert problem.rows == [2] and "'good'" in problem.message
    assert result.caseload.sessions["srs"].tolist()[1] == 36


def test_unknown_endings_stop_the_import_with_each_value_and_its_count():
    """Any client ending the mapping does not know stops: a missing ending reads as 'ongoing' later."""
    clients = "client_id,Discharge Reason\nC1,Dropped out\nC2,Administrative closure\nC3,Discharged\nC4,Discharged\n"
    result = load_caseload({"clients": _csv("c.csv", clients)})
    problem = _only(result.problems, column="Discharge Reason")
    assert problem.severity == "error" and result.caseload is None
    assert problem.rows == [4, 5] and "'Discharged' (2)" in problem.message and "--mapping" in problem.fix
    fixed = result.mapping.to_dict()
    fixed["clients"]["values"]["termination"]["Discharged"] = "completed"
    again = load_caseload({"clients": _csv("c.csv", clients)}, Mapping.from_dict(fixed))
    assert again.caseload.clients["termination"].tolist() == ["dropout", "other", "completed", "completed"]


def test_unknown_statuses_stop_above_five_percent_and_warn_below():
    rows = [f"C{i},2024-01-{1 + i % 28:02d},Show" for i in range(40)]
    few = load_caseload({"sessions": _csv("s.csv", "client_id,date,status\n" + "\n".join(rows + ["C1,2024-02-01,Moved"]))},
                        export_date="2024-03-01")
    assert few.caseload is not None and _only(few.problems, column="status").severity == "warning"
    many = rows + ["C1,2024-02-01,Moved", "C2,2024-02-02,Moved", "C3,2024-02-03,Waitlisted"]
    stopped = load_caseload({"sessions": _csv("s.csv", "client_id,date,status\n" + "\n".join(many))},
                            export_date="2024-03-01")
    problem = _only(stopped.problems, column="status")
    assert stopped.caseload is None and problem.severity == "error"
    assert "3 appointments" in problem.message and "'Moved' (2), 'Waitlisted' (1)" in problem.message


def test_links_between_files():
    sessions = ("client_id,therapist_id,date,status\nC1,T1,2024-01-01,attended\nC2,T1,2024-01-02,attended\n"
                "C9,T7,2024-01-03,no_show\n")
    clients = "client_id\nC1\nC2\nC3\n"
    therapists = "therapist_id,gender\nT1,female\nT2,male\n"
    result = load_caseload({"sessions": _csv("s.csv", sessions), "clients": _csv("c.csv", clients),
                            "therapists": _csv("t.csv", therapists)}, export_date="2024-02-01")
    orphan = _only(result.problems, file="s.csv", column="client_id")
    assert orphan.rows == [4] and "'C9'" in orphan.message
    lonely = _only(result.problems, file="c.csv", column="client_id")
    assert lonely.rows == [4] and "no appointment" in lonely.message
    stray = _only(result.problems, file="s.csv", column="therapist_id")
    assert stray.rows == [4] and "'T7'" in stray.message
    assert result.caseload is not None and result.caseload.n_clients == 4


def test_duplicate_ids_in_clients_and_therapists():
    result = load_caseload({"clients": _csv("c.csv", "client_id,age\nC1,30\nC2,40\nC1,31\n"),
                            "therapists": _csv("t.csv", "therapist_id\nT1\nT1\n")})
    assert _only(result.problems, file="c.csv", column="client_id").rows == [4]
    assert _only(result.problems, file="t.csv", column="therapist_id").rows == [3]
    assert result.caseload.clients["age"].tolist() == [30, 40]


def test_future_dates_without_an_export_date_are_judged_against_today():
    result = load_caseload({"sessions": _csv("s.csv", "client_id,date,status\nC1,2024-01-01,attended\nC1,2099-01-01,attended\n")})
    problem = _only(result.problems, column="date")
    assert problem.rows == [3] and "dated after today (" in problem.message


def test_rows_without_client_or_status_are_left_out():
    sessions = "client_id,date,status\nC1,2024-01-01,attended\n,2024-01-02,attended\nC2,2024-01-03,\n"
    result = load_caseload({"sessions": _csv("s.csv", sessions)}, export_date="2024-02-01")
    assert _only(result.problems, column="client_id").rows == [3]
    assert _only(result.problems, column="status").rows == [4]
    assert result.caseload.sessions["client_id"].tolist() == ["C1"]


def test_nothing_usable_is_an_error():
    result = load_caseload({"sessions": _csv("s.csv", "client_id,date,status\nC1,soon,attended\n")})
    assert result.caseload is None
    assert any(p.severity == "error" and "None of the 1 rows" in p.message and "because of: column 'date'" in p.message
               for p in result.problems)
    only_therapists = load_caseload({"therapists": _csv("t.csv", "therapist_id\nT1\n")})
    assert only_therapists.problems[-1].message == (
        "There is nothing to analyse: no sessions file was given; no clients file was given")
    assert only_therapists.caseload is None
    headers_only = load_caseload({"sessions": _csv("s.csv", "client_id,date,status\n")})
    assert "s.csv has no rows of data; no clients file was given" in headers_only.problems[-1].message


def test_conform_and_check_links_directly():
    raw = pd.DataFrame({"Patient": ["P1", "P1"], "DOS": ["2024-01-01", "2024-01-01"], "Att": ["Show", "Show"]}, index=[2, 3])
    mapping = TableMapping({"client_id": "Patient", "date": "DOS", "status": "Att"}, {"status": {"Show": "attended"}},
                           {"date": "%Y-%m-%d"})
    frame, problems, _ = conform("sessions", raw, mapping, "x.csv", pd.Timestamp("2024-02-01"))
    assert frame.index.tolist() == [2] and frame["status"].tolist() == ["attended"]
    assert problems[0].rows == [3]
    assert check_links({"sessions": frame}, {"sessions": "x.csv"}) == []


def test_problems_table_lists_errors_first():
    table = problems_table([Problem("a.csv", None, [], "w", "f"), Problem("b.csv", "c", [2, 3], "e", "f", "error")])
    assert table["severity"].tolist() == ["error", "warning"]
    assert table.loc[0, "rows"] == "rows 2, 3"


def test_r_status_coding_blocks_the_import_with_the_one_line_fix(tmp_path):
    lung = pd.read_csv(REFERENCE / "lung_status.csv").assign(client_id=lambda d: [f"c{i}" for i in range(len(d))])
    path = tmp_path / "lung.csv"
    lung.to_csv(path, index=False)
    result = load_caseload({"clients": str(path)})
    problem = next(p for p in result.problems if p.column == "event" and p.severity == "error")
    assert "as R codes a status (1 = censored, 2 = event)" in problem.message
    assert "episodes['event'] = episodes['event'] - 1" in problem.fix
    fixed = tmp_path / "fixed.csv"
    lung.assign(event=lung["event"] - 1).to_csv(fixed, index=False)
    assert not [p for p in load_caseload({"clients": str(fixed)}).problems if p.severity == "error"]


def test_problems_of_columns_checked_side_by_side_come_in_column_order():
    """Each column is checked in a thread of its own: the problems still read in the table's column
    order, every column's left-out rows are left out, and a column's values stay on their rows."""
    sessions = ("client_id,date,status,srs,wai\n"
                "C1,2024-01-01,attended,30,40\n"
                "C2,soon,attended,31,41\n"       # row 3: unreadable date, left out
                "C3,2024-01-03,,32,42\n"          # row 4: no status, left out
                "C4,2024-01-04,attended,many,43\n"  # row 5: text in a score, set to missing
                ",2024-01-05,attended,34,44\n"    # row 6: no client, left out
                "C6,2024-01-06,attended,35,99\n")  # row 7: WAI off its scale, set to missing
    result = load_caseload({"sessions": _csv("s.csv", sessions)}, export_date="2024-02-01")
    assert [(p.column, p.rows) for p in result.problems] == [
        ("client_id", [6]), ("date", [3]), ("status", [4]), ("srs", [5]), ("wai", [7])]
    kept = result.caseload.sessions
    assert kept["client_id"].tolist() == ["C1", "C4", "C6"]
    assert kept["srs"].fillna(-1).tolist() == [30.0, -1, 35.0]
    assert kept["wai"].fillna(-1).tolist() == [40.0, 43.0, -1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3", "c4", None]), st.sampled_from(["t1", "t2", "t3", None])),
                max_size=30), st.booleans())
def test_clients_of_several_therapists_equal_their_plain_definition(rows, categorical):
    """The clients whose appointments name more than one therapist (missing ids aside), in order of
    first appearance, as the importer's message lists them."""
    sessions = pd.DataFrame(rows, columns=["client_id", "therapist_id"], dtype="category" if categorical else object)
    seen: dict = {}
    for client, therapist in rows:
        if client is not None and therapist is not None:
            seen.setdefault(client, set()).add(therapist)
    order = list(dict.fromkeys(c for c, _ in rows if c is not None))
    assert _shared_clients(sessions) == [c for c in order if len(seen.get(c, ())) > 1]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("order", ["shuffled", "sorted", "sorted exports one after another", "nearly sorted"])
def test_repeated_rows_are_pandas_duplicated(seed, order):
    """Row codes hashed in one part per core (shuffled) or sorted (nearly in order) mark the same rows
    as pandas' duplicated (the first of equal rows kept), on enough rows to be split (negative and
    very large codes among them)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(-5, 60_000, 250_000)
    rows[::997] = 2**62 + rng.integers(0, 3, len(rows[::997]))
    if order == "sorted":
        rows = np.sort(rows)
    elif order == "sorted exports one after another":
        rows = np.concatenate([np.sort(part) for part in np.array_split(rows, 7)])
    elif order == "nearly sorted":  # one row in 50 out of place: still sorted
        rows = np.sort(rows)
        moved = rng.choice(len(rows), len(rows) // 50, replace=False)
        rows[moved] = rng.permutation(rows[moved])
    assert (_repeats(rows) == pd.Series(rows).duplicated(keep="first").to_numpy()).all()
    assert _repeats(rows).sum() > 100_000
    assert (_repeats(rows[:1]) == [False]).all() and len(_repeats(rows[:0])) == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-800, 800)), max_size=40), st.booleans(),
       st.sampled_from(["ns", "s"]))
def test_row_codes_of_dates_are_equal_for_equal_dates_and_follow_their_order(offsets, with_hours, unit):
    """A date's code is the same for the same date and rises with the date; missing dates are -1: an
    export sorted by date gives ascending codes, which the repeated-row check sorts instead of hashing."""
    step = pd.Timedelta(hours=7) if with_hours else pd.Timedelta(days=1)
    dates = pd.Series([pd.NaT if o is None else pd.Timestamp("2024-03-01") + o * step for o in offsets],
                      dtype=f"datetime64[{unit}]")
    codes, size = _ordered_codes(dates)
    known = dates.notna().to_numpy()
    assert (codes[~known] == -1).all() and ((codes[known] >= 0) & (codes[known] < size)).all()
    values = dates[known].to_numpy()
    for i, j in itertools.product(range(len(values)), repeat=2):
        assert (codes[known][i] == codes[known][j]) == (values[i] == values[j])
        assert (codes[known][i] < codes[known][j]) == (values[i] < values[j])
