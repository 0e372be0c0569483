"""Malformed and hostile inputs, each with the outcome a user should get.

Every case is a small set of files (table -> (file name, bytes)) built in memory from one valid
EHR-like caseload, with one thing broken. Outcomes:
- ERROR: nothing is analysed; a blocking problem names the file/column (`mentions`).
- USABLE: the caseload loads; when `mentions` is given, a warning names the trouble.
- EITHER: hostile but recoverable (look-alike headers): loading may block or go on, but some
  problem must name the trouble, and nothing may crash.
`model` names a model check (tests/test_corpus.py) that must answer with a warning, not a crash.
Each `mentions` item is a substring or a tuple of alternatives; all items must occur
(case-insensitive) in one problem's text.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ERROR, USABLE, EITHER = "error", "usable", "either"
N_CLIENTS = 80


@dataclass(frozen=True)
class Case:
    name: str
    files: dict
    outcome: str
    mentions: tuple = ()
    load_kwargs: dict = field(default_factory=dict)
    model: str | None = None


def base_tables(n_clients: int = N_CLIENTS, seed: int = 11) -> dict[str, pd.DataFrame]:
    """A valid caseload in canonical names: 6 therapists on 2 sites, weekly sessions, SRS scores.

    A third of clients drop out (their last appointment a no-show), a third complete and the
    rest are ongoing at the export date.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:06d}" for i in range(1, n_clients + 1)])
    therapist = np.array([f"T{j:03d}" for j in rng.integers(1, 7, n_clients)])
    intake = pd.Timestamp("2024-01-08") + pd.to_timedelta(rng.integers(0, 200, n_clients), unit="D")
    termination = np.array(["dropout", "completed", "ongoing"])[np.arange(n_clients) % 3]
    n_sessions = rng.integers(2, 12, n_clients)
    client_of = np.repeat(np.arange(n_clients), n_sessions)
    number = np.concatenate([np.arange(k) for k in n_sessions])
    last = number == n_sessions[client_of] - 1
    status = np.where(last & (termination[client_of] == "dropout"), "no_show",
                      np.where(rng.random(len(client_of)) < 0.08, "cancelled", "attended"))
    srs = np.where(status == "attended", np.clip(np.round(rng.normal(34, 3, len(client_of)), 1), 0, 40), np.nan)
    sessions = pd.DataFrame({
        "client_id": ids[client_of],
        "therapist_id": therapist[client_of],
        "date": (intake[client_of] + pd.to_timedelta(7 * number, unit="D")).strftime("%Y-%m-%d"),
        "status": status,
        "srs": srs,
    })
    clients = pd.DataFrame({
        "client_id": ids,
        "therapist_id": therapist,
        "intake_date": intake.strftime("%Y-%m-%d"),
        "termination": termination,
        "age": rng.integers(18, 70, n_clients),
        "gender": rng.choice(["female", "male"], n_clients),
        "referral": rng.choice(["self", "physician", "court-mandated"], n_clients),
        "site": np.where(therapist <= "T003", "Site A", "Site B"),
        "court_mandated": rng.integers(0, 2, n_clients),
    })
    therapists = pd.DataFrame({
        "therapist_id": [f"T{j:03d}" for j in range(1, 7)],
        "gender": ["female", "male", "female", "female", "male", "female"],
        "experience_years": [2, 10, 5, 1, 20, 7],
        "trainee": [1, 0, 0, 1, 0, 0],
    })
    return {"sessions": sessions, "clients": clients, "therapists": therapists}


def csv_bytes(frame: pd.DataFrame, sep: str = ",", encoding: str = "utf-8") -> bytes:
    return frame.to_csv(index=False, sep=sep).encode(encoding)


def xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


def _files(tables: dict[str, pd.DataFrame], **replace) -> dict:
    """CSV files of the tables, with some replaced by (file name, bytes) or dropped (None)."""
    files = {name: (f"{name}.csv", csv_bytes(frame)) for name, frame in tables.items()}
    for name, content in replace.items():
        if content is None:
            files.pop(name)
        else:
            files[name] = content
    return files


def _zip_of_text() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


def _with(frame: pd.DataFrame, rows, column: str, value) -> pd.DataFrame:
    out = frame.copy().astype({column: object})
    out.loc[rows, column] = value
    return out


def cases() -> list[Case]:
    t = base_tables()
    s, c = t["sessions"], t["clients"]
    header = ",".join(s.columns) + "\n"
    rng = np.random.default_rng(3)
    ehr = s.rename(columns={"client_id": "Client ID", "therapist_id": "Clinician", "date": "Appt Date",
                            "status": "Appointment Status", "srs": "SRS Total"})
    ehr["Appt Date"] = pd.to_datetime(ehr["Appt Date"]).dt.strftime("%m/%d/%Y")
    ehr["Appointment Status"] = ehr["Appointment Status"].map(
        {"attended": "Show", "no_show": "No Show", "cancelled": "Canceled"})
    three_formats = s.copy()
    dates = pd.to_datetime(s["date"])
    third = np.arange(len(s)) % 3
    three_formats["date"] = np.where(third == 0, dates.dt.strftime("%Y-%m-%d"),
                                     np.where(third == 1, dates.dt.strftime("%m/%d/%Y"), dates.dt.strftime("%d %b %Y")))
    cp1252_row = csv_bytes(c.head(5)).replace(b"Site A", "Site Zoë".encode("cp1252"))
    mixed_encoding = csv_bytes(c).replace(b"Site B", "Site Münster".encode("utf-8"), 3) + "C999999,T001,2024-02-01,ongoing,40,female,self,Site Zoë,0\n".encode("cp1252")
    every_censored = c.assign(termination="ongoing")
    no_events = c.assign(termination="completed")
    no_show_free = s.assign(status=s["status"].replace("no_show", "attended"))
    separating = c.assign(court_mandated=(c["termination"] == "dropout").astype(int))
    constant = c.assign(age=40, gender="female", referral="self", court_mandated=0)
    one_therapist_s, one_therapist_c = s.assign(therapist_id="T001"), c.assign(therapist_id="T001")
    formula = _with(_with(c, [0, 1], "site", "=HYPERLINK(\"http://evil.example\",\"x\")"), [2], "referral", "+cmd|' /C calc'!A0")
    formula = _with(formula, [3], "gender", "@SUM(1+1)")
    names = c.assign(**{"Client Name": [f"{f} {l}" for f, l in zip(
        rng.choice(["James", "Mary", "Omar", "Priya", "Linda", "David"], len(c)),
        rng.choice(["Smith", "Patel", "Nguyen", "Garcia", "Brown"], len(c)))]})
    emails = s.assign(contact=[f"person{i}@example.org" for i in range(len(s))])
    mrn = c.assign(MRN=rng.integers(100000, 999999, len(c)).astype(str))
    huge = _with(s, [5], "status", "x" * 5_000_000)
    ragged = csv_bytes(s).decode().splitlines()
    ragged[4] += ",extra,fields"
    ragged[9] += ",more"
    future = _with(s, s.index[-3:], "date", "2099-06-01")

    return [
        # --- the file itself ---
        Case("empty_file", _files(t, sessions=("sessions.csv", b"")), ERROR, ("sessions.csv", "empty")),
        Case("whitespace_only", _files(t, sessions=("sessions.csv", b"\n \n\r\n")), ERROR, ("sessions.csv", "empty")),
        Case("only_headers", {"sessions": ("sessions.csv", header.encode())}, ERROR,
             ("sessions.csv", ("no rows", "no data", "empty"))),
        Case("only_headers_all_tables", {k: (f"{k}.csv", (",".join(v.columns) + "\n").encode()) for k, v in t.items()},
             ERROR, (("no rows", "no data", "empty"),)),
        Case("binary_garbage_named_csv", _files(t, sessions=("sessions.csv", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())),
             ERROR, ("sessions.csv", ("binary", "not a text", "could not be read"))),
        Case("png_named_csv", _files(t, clients=("clients.csv", b"\x89PNG\r\n\x1a\n" + bytes(500))), ERROR,
             ("clients.csv", ("binary", "not a text", "could not be read"))),
        Case("xlsx_that_is_a_zip_of_text", _files(t, sessions=("sessions.xlsx", _zip_of_text())), ERROR,
             ("sessions.xlsx", ("excel", "workbook", "could not be read"))),
        Case("xlsx_that_is_csv_text", _files(t, sessions=("sessions.xlsx", csv_bytes(s))), ERROR,
             ("sessions.xlsx", ("not that kind", "could not be read"))),
        Case("old_xls_workbook", _files(t, clients=("clients.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))), ERROR,
             ("clients.xls", (".xls", "old-style", "could not be read"))),
        Case("million_columns_header", _files(t, sessions=("sessions.csv", (",".join(f"c{i}" for i in range(1_000_000)) + "\n1\n").encode())),
             ERROR, ("sessions.csv", "columns")),
        Case("huge_single_cell", _files(t, sessions=("sessions.csv", csv_bytes(huge))), USABLE, ("status",)),
        Case("real_xlsx_sessions", _files(t, sessions=("sessions.xlsx", xlsx_bytes(s))), USABLE),
        # --- delimiters, encodings, layout ---
        Case("semicolon_delimiter", _files(t, sessions=("sessions.csv", csv_bytes(s, sep=";"))), USABLE),
        Case("tab_delimiter_named_csv", _files(t, clients=("clients.csv", csv_bytes(c, sep="\t"))), USABLE),
        Case("pipe_delimiter", _files(t, sessions=("sessions.txt", csv_bytes(s, sep="|"))), USABLE),
        Case("utf16_with_bom", _files(t, clients=("clients.csv", csv_bytes(c, encoding="utf-16"))), USABLE),
        Case("utf8_bom_header", _files(t, sessions=("sessions.csv", b"\xef\xbb\xbf" + csv_bytes(s))), USABLE),
        Case("cp1252_file", _files(t, clients=("clients.csv", cp1252_row + csv_bytes(c.iloc[5:]).split(b"\n", 1)[1])), USABLE),
        Case("mixed_encodings_in_one_file", _files(t, clients=("clients.csv", mixed_encoding)), USABLE),
        Case("padded_headers", _files(t, sessions=("sessions.csv", csv_bytes(s.rename(columns=lambda h: f"  {h} ")))), USABLE),
        Case("blank_rows_between", _files(t, sessions=("sessions.csv", csv_bytes(s).replace(b"\n", b"\n,,,,\n", 40))), USABLE),
        Case("ragged_rows", _files(t, sessions=("sessions.csv", ("\n".join(ragged) + "\n").encode())), USABLE,
             ("sessions.csv", ("field", "column", "skipped"))),
        Case("duplicated_headers", _files(t, sessions=("sessions.csv", csv_bytes(s.assign(extra=s["srs"]).rename(columns={"extra": "srs"})))),
             USABLE, ("srs", ("twice", "2 times", "duplicate", "more than once"))),
        Case("ehr_style_names_and_values", _files(t, sessions=("appointments.csv", csv_bytes(ehr))), USABLE),
        # --- required columns ---
        Case("sessions_without_status", {"sessions": ("sessions.csv", csv_bytes(s.drop(columns="status")))}, ERROR, ("status",)),
        Case("sessions_without_date", {"sessions": ("sessions.csv", csv_bytes(s.drop(columns="date")))}, ERROR, ("date",)),
        Case("clients_without_client_id", {"clients": ("clients.csv", csv_bytes(c.drop(columns="client_id")))}, ERROR, ("client",)),
        Case("therapists_only", {"therapists": ("therapists.csv", csv_bytes(t["therapists"]))}, ERROR, (("sessions", "clients"),)),
        Case("no_files", {}, ERROR, (("sessions", "clients"),)),
        # --- values ---
        Case("dates_in_three_formats", _files(t, sessions=("sessions.csv", csv_bytes(three_formats))), USABLE, ("date",)),
        Case("some_dates_unreadable", _files(t, sessions=("sessions.csv", csv_bytes(_with(s, [3, 17], "date", "not a date")))),
             USABLE, ("date", ("3", "row"))),
        Case("all_dates_unreadable", _files(t, sessions=("sessions.csv", csv_bytes(s.assign(date="soon")))), ERROR, ("date",)),
        Case("future_dates", _files(t, sessions=("sessions.csv", csv_bytes(future))), USABLE, ("date", ("future", "after"))),
        Case("negative_scores", _files(t, sessions=("sessions.csv", csv_bytes(_with(s, [0, 1], "srs", -5)))), USABLE, ("srs",)),
        Case("out_of_scale_scores", _files(t, sessions=("sessions.csv", csv_bytes(_with(s, [2], "srs", 400)))), USABLE, ("srs", ("40", "scale", "range"))),
        Case("text_in_score_column", _files(t, sessions=("sessions.csv", csv_bytes(_with(s, [0, 5], "srs", "good")))), USABLE, ("srs",)),
        Case("unknown_status_values", _files(t, sessions=("sessions.csv", csv_bytes(_with(s, [1, 2], "status", "Rescheduled")))),
             USABLE, ("status", "rescheduled")),
        Case("unknown_termination_values", _files(t, clients=("clients.csv", csv_bytes(_with(c, [1], "termination", "moved away")))),
             USABLE),
        Case("nan_only_column", _files(t, sessions=("sessions.csv", csv_bytes(s.assign(ors=np.nan)))), USABLE),
        Case("duplicate_session_rows", _files(t, sessions=("sessions.csv", csv_bytes(pd.concat([s, s.head(10)])))), USABLE, (("duplicate", "repeat"),)),
        Case("duplicate_client_rows", _files(t, clients=("clients.csv", csv_bytes(pd.concat([c, c.head(3)])))), USABLE, ("client",)),
        Case("sessions_of_unknown_clients", _files(t, clients=("clients.csv", csv_bytes(c.iloc[10:]))), USABLE, ("client",)),
        Case("formula_injection_strings", _files(t, clients=("clients.csv", csv_bytes(formula))), USABLE),
        Case("fullwidth_and_zero_width_headers", _files(t, sessions=("sessions.csv", csv_bytes(
            s.rename(columns={"status": "ｓｔａｔｕｓ", "client_id": "client_id\u200b"})))), USABLE),
        Case("cyrillic_lookalike_headers", {"sessions": ("sessions.csv", csv_bytes(
            s.rename(columns={"client_id": "\u0441lient_id", "status": "st\u0430tus"})))}, EITHER, (("client", "status"),)),
        # --- direct identifiers ---
        Case("client_names_column", _files(t, clients=("clients.csv", csv_bytes(names))), ERROR, ("Client Name", "name")),
        Case("client_names_dropped", _files(t, clients=("clients.csv", csv_bytes(names))), USABLE,
             load_kwargs={"drop_columns": {"clients": ["Client Name"]}}),
        Case("email_column", _files(t, sessions=("sessions.csv", csv_bytes(emails))), ERROR, ("contact", ("e-mail", "email"))),
        Case("mrn_hashed", _files(t, clients=("clients.csv", csv_bytes(mrn))), USABLE,
             load_kwargs={"hash_columns": {"clients": ["MRN"]}, "salt": "corpus-salt"}),
        # --- models: the data load, the models warn ---
        Case("clients_only_without_durations", {"clients": ("clients.csv", csv_bytes(c))}, USABLE, model="episodes"),
        Case("every_client_censored", _files(t, clients=("clients.csv", csv_bytes(every_censored)),
                                             sessions=("sessions.csv", csv_bytes(no_show_free))), USABLE, model="no_dropouts"),
        Case("no_dropout_events", _files(t, clients=("clients.csv", csv_bytes(no_events)),
                                         sessions=("sessions.csv", csv_bytes(no_show_free))), USABLE, model="no_dropouts"),
        Case("single_therapist", _files(t, clients=("clients.csv", csv_bytes(one_therapist_c)),
                                        sessions=("sessions.csv", csv_bytes(one_therapist_s)), therapists=None), USABLE, model="single_cluster"),
        Case("single_site_group", _files(t, clients=("clients.csv", csv_bytes(c.assign(site="Site A")))), USABLE, model="single_group"),
        Case("all_covariates_constant", _files(t, clients=("clients.csv", csv_bytes(constant))), USABLE, model="constant_covariates"),
        Case("perfectly_separating_covariate", _files(t, clients=("clients.csv", csv_bytes(separating))), USABLE, model="separation"),
    ]


def write_case(case: Case, folder) -> dict[str, str]:
    """Write a case's files into `folder`; table -> path (for the command line)."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table, (name, content) in case.files.items():
        path = folder / name
        path.write_bytes(content)
        paths[table] = str(path)
    return paths
