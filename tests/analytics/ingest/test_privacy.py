"""Identifier scan against a labelled set of columns: every identifier caught, at most one false alarm."""

import numpy as np
import pandas as pd
import pytest

from analytics.ingest.privacy import hash_identifier, scan_identifiers

N = 300
rng = np.random.default_rng(7)
FIRST = ["James", "Mary", "Omar", "Priya", "Wei", "Sarah", "David", "Linda", "Carlos", "Emma"]
LAST = ["Smith", "Okafor", "Nguyen", "Patel", "Garcia", "Brown", "Kowalski", "Jones", "Haddad", "Lee"]


def pick(values):
    return rng.choice(np.asarray(values, dtype=object), N)


def nhs_numbers(n):
    """Valid NHS numbers: nine digits then the mod-11 check digit (remainder 10 is never issued)."""
    body = rng.integers(0, 10, size=(n * 2, 9))
    check = 11 - (body * np.arange(10, 1, -1)).sum(axis=1) % 11
    check = np.where(check == 11, 0, check)
    keep = check != 10
    digits = np.column_stack([body[keep], check[keep]])[:n]
    return ["".join(map(str, row)) for row in digits]


def random_digits(n, width):
    return ["".join(map(str, row)) for row in rng.integers(1, 10, size=(n, width))]


def labelled_columns():
    """(column name, values, expected kind or None)."""
    full_names = [f"{f} {l}" for f, l in zip(pick(FIRST), pick(LAST))]
    return [
        # direct identifiers
        ("Client Name", full_names, "name"),
        ("Patient", full_names, "name"),  # caught by values: common first names
        ("first_name", pick(FIRST), "name"),
        ("LastName", pick(LAST), "name"),
        ("surname", pick(LAST), "name"),
        ("Therapist", [f"Dr. {n}" for n in full_names], "name"),
        ("contact", [f"{l}, {f}" for f, l in zip(pick(FIRST), pick(LAST))], "name"),
        ("given", pick(FIRST + ["Anna", "Mark", "Susan", "Paul", "Karen"]), "name"),
        ("Email", [f"client{i}@example.org" for i in range(N)], "email"),
        ("contact_info", [f"{f.lower()}.{l.lower()}@mail.co.uk" for f, l in zip(pick(FIRST), pick(LAST))], "email"),
        ("Mobile", [f"07700 9{i:05d}" for i in range(N)], "phone"),
        ("reach_at", [f"(555) {i % 900 + 100}-{i:04d}" for i in range(N)], "phone"),
        ("callback", [f"+44 20 7946 {i:04d}" for i in range(N)], "phone"),
        ("Home Address", [f"{i} Main Street" for i in range(N)], "address"),
        ("residence_line", [f"{i + 1} {w} Road" for i, w in enumerate(pick(["Elm", "Oak", "Mill"]))], "address"),
        ("where", [f"{i + 2} Park Avenue, Apt {i % 9}" for i in range(N)], "address"),
        ("ZIP", [f"{i:05d}" for i in rng.integers(1000, 99999, N)], "postcode"),
        ("zip_plus4", [f"{i:05d}-{j:04d}" for i, j in zip(rng.integers(10000, 99999, N), rng.integers(0, 9999, N))], "postcode"),
        ("Postcode", pick(["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB"]), "postcode"),
        ("pc_full", pick(["LS1 4AP", "G1 1XQ", "CF10 1EP", "BT1 5GS", "EH1 1YZ", "NE1 7RU"]), "postcode"),
        ("DOB", pd.to_datetime("1970-01-01") + pd.to_timedelta(rng.integers(0, 15000, N), unit="D"), "date_of_birth"),
        ("Date of Birth", [f"{m}/{d}/19{y}" for m, d, y in zip(rng.integers(1, 13, N), rng.integers(1, 29, N), rng.integers(40, 99, N))], "date_of_birth"),
        ("birthdate_text", [f"19{y}-0{m}-1{d}" for y, m, d in zip(rng.integers(40, 99, N), rng.integers(1, 9, N), rng.integers(0, 9, N))], "date_of_birth"),
        ("SSN", [f"{a:03d}-{b:02d}-{c:04d}" for a, b, c in zip(rng.integers(100, 899, N), rng.integers(10, 99, N), rng.integers(1000, 9999, N))], "national_id"),
        ("id_check", [f"{a:03d}-{b:02d}-{c:04d}" for a, b, c in zip(rng.integers(100, 899, N), rng.integers(10, 99, N), rng.integers(1000, 9999, N))], "national_id"),
        ("nhs_no", nhs_numbers(N), "national_id"),
        ("health_number", nhs_numbers(N), "national_id"),
        ("ni", [f"AB{i:06d}C" for i in rng.integers(0, 999999, N)], "national_id"),
        ("MRN", rng.integers(100000, 999999, N), "record_number"),
        ("Insurance ID", [f"INS{i}" for i in rng.integers(10**6, 10**7, N)], "record_number"),
        ("progress_notes", pick(["Client tearful, spoke about her mother.", "Discussed goals for work and sleep.",
                                 "Missed last week, says transport was hard."]), "free_text"),
        ("free", pick(["The client reported that the waiting room felt noisy and she could hear the next office.",
                       "We talked about his brother in Leeds and the court date coming up next month in town.",
                       "She asked whether her employer would be told about the sessions and seemed worried about it."]), "free_text"),
        # not identifiers
        ("client_id", [f"C{i:06d}" for i in range(N)], None),
        ("therapist_id", [f"T{i % 12 + 1:03d}" for i in range(N)], None),
        ("ClientNumber", np.arange(1, N + 1), None),
        ("record_key", random_digits(N, 10), None),
        ("date", (pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, N), unit="D")).strftime("%Y-%m-%d"), None),
        ("visit_time", (pd.to_datetime("2023-01-01 09:00") + pd.to_timedelta(rng.integers(0, 5000, N), unit="h")).strftime("%m/%d/%Y %H:%M"), None),
        ("status", pick(["Show", "No Show", "Late Canceled", "Canceled", "Clinician Canceled"]), None),
        ("Diagnosis", pick(["Major Depression", "Generalized Anxiety", "Post Traumatic Stress", "Panic Disorder"]), None),
        ("site", pick(["North Clinic", "Riverside Centre", "Main Office"]), None),
        ("site_name", pick(["North Clinic", "Riverside Centre", "Main Office"]), None),
        ("gender", pick(["Female", "Male", "Non-binary"]), None),
        ("religion", pick(["Christian", "Muslim", "Jewish", "Hindu", "None", "Buddhist"]), None),
        ("language", pick(["English", "Spanish", "Polish", "Urdu"]), None),
        ("age", rng.integers(18, 80, N), None),
        ("birth_year", rng.integers(1940, 2005, N), None),
        ("zip3", [f"{i:03d}" for i in rng.integers(10, 999, N)], None),
        ("outward_code", pick(["SW1A", "M1", "B33", "LS1"]), None),
        ("srs", rng.integers(20, 41, N), None),
        ("telehealth", pick(["yes", "no"]), None),
        ("referral", pick(["Self", "Court Mandated", "Partner/Family", "GP"]), None),
        ("intake_date", pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, N), unit="D"), None),
        ("service_code", pick(["90834", "90837", "90791"]), None),
        ("modality", pick(["CBT", "Psychodynamic", "Person Centred", "EMDR"]), None),
        ("termination", pick(["Completed treatment", "Dropped out", "Transferred to another service"]), None),
        ("env_comfort", rng.integers(1, 6, N).astype(float), None),
        ("weight_kg", rng.normal(75, 12, N).round(1), None),
    ]


def confusion():
    columns = labelled_columns()
    frame = pd.DataFrame({name: values for name, values, _ in columns})
    found = {f.column: f for f in scan_identifiers(frame, "export.csv")}
    rows = []
    for name, _, expected in columns:
        got = found[name].kind if name in found else None
        rows.append({"column": name, "expected": expected, "found": got})
    return pd.DataFrame(rows), found


def test_labelled_set_recall_and_precision():
    table, _ = confusion()
    positive = table["expected"].notna()
    flagged = table["found"].notna()
    counts = pd.crosstab(positive.map({True: "identifier", False: "not"}), flagged.map({True: "flagged", False: "passed"}))
    print("\n", counts, "\n", table[positive != flagged].to_string())
    assert len(table) >= 40 and positive.sum() >= 20 and (~positive).sum() >= 20
    missed = table[positive & ~flagged]
    assert missed.empty, f"missed identifiers:\n{missed}"
    false_alarms = table[~positive & flagged]
    assert len(false_alarms) <= 1, f"false alarms:\n{false_alarms}"
    wrong_kind = table[positive & flagged & (table["expected"] != table["found"])]
    assert wrong_kind.empty, f"identifier of the wrong kind:\n{wrong_kind}"


def test_findings_name_file_and_column_and_hashable_only_for_numbers():
    _, found = confusion()
    assert found["MRN"].file == "export.csv" and found["MRN"].hashable
    assert found["SSN"].hashable and not found["Email"].hashable and not found["Client Name"].hashable
    assert "Email" in found["Email"].reason


def test_partial_postcode_and_birth_year_pass_but_full_ones_do_not():
    frame = pd.DataFrame({"zip": ["021", "100", "946"], "birth": ["1980", "1975", "2001"]})
    assert scan_identifiers(frame, "f.csv") == []
    frame = pd.DataFrame({"zip": ["02139", "10001", "94607"], "birth": ["1980-03-02", "1975-11-30", "2001-01-09"]})
    assert {f.kind for f in scan_identifiers(frame, "f.csv")} == {"postcode", "date_of_birth"}


def test_random_ten_digit_ids_are_not_nhs_numbers():
    frame = pd.DataFrame({"ref": random_digits(2000, 10)})
    assert scan_identifiers(frame, "f.csv") == []


def test_scan_work_is_bounded_by_the_sample(monkeypatch):
    """A 2-million-row column is scanned through a sample of at most SAMPLE_UNIQUE distinct values."""
    import analytics.ingest.privacy as privacy

    seen = []
    original = privacy._scan_values
    monkeypatch.setattr(privacy, "_scan_values", lambda values, *a, **k: seen.append(len(values)) or original(values, *a, **k))
    frame = pd.DataFrame({"x": np.arange(2_000_000).astype(str)})
    privacy.scan_identifiers(frame, "big.csv")
    assert seen == [privacy.SAMPLE_UNIQUE]


def test_hash_is_salted_stable_and_keeps_missing():
    ids = pd.Series(["A1", "B2", None, "A1", " B2"], index=[10, 11, 12, 13, 14], name="mrn")
    hashed = hash_identifier(ids, "clinic-salt")
    import hashlib

    assert hashed[10] == hashlib.sha256(b"clinic-salt\x00A1").hexdigest()[:16]
    assert hashed[10] == hashed[13] and hashed[11] == hashed[14] and hashed[10] != hashed[11]
    assert hashed.isna().tolist() == [False, False, True, False, False]
    assert list(hashed.index) == [10, 11, 12, 13, 14] and hashed.name == "mrn"
    assert hash_identifier(ids, "other-salt")[10] != hashed[10]
    numeric = hash_identifier(pd.Series([123.0, None, 123.0]), "s")
    assert numeric[0] == hashlib.sha256(b"s\x00123").hexdigest()[:16]
    with pytest.raises(ValueError, match="salt"):
        hash_identifier(ids, "")
