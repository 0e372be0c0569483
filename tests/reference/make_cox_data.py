"""Writes the fixed datasets the Cox reference numbers (make_cox_reference.R) are computed on.

Run once: `PYTHONPATH=. .venv/bin/python tests/reference/make_cox_data.py`; the CSVs are committed.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def episodes(n: int, tied: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    therapist = rng.integers(1, 26, n)
    frailty = rng.normal(0, 0.4, 26)[therapist]
    site = np.where(therapist <= 12, "north", "south")
    age = rng.normal(35, 11, n).round()
    court = rng.binomial(1, 0.25, n)
    referral = rng.choice(["self", "family", "gp"], n, p=[0.5, 0.3, 0.2])
    lp = 0.5 * court - 0.02 * (age - 35) + 0.3 * (referral == "family") + frailty
    dropout_time = rng.exponential(8 * np.exp(-lp))
    complete_time = rng.exponential(14, n)
    censor_time = rng.uniform(2, 30, n)
    t = np.minimum.reduce([dropout_time, complete_time, censor_time])
    event = np.select([t == dropout_time, t == complete_time], [1, 2], 0)
    duration = np.ceil(t) if tied else np.round(t, 4)
    age[rng.random(n) < 0.03] = np.nan  # a few missing values: complete cases
    return pd.DataFrame({
        "client_id": [f"c{i:04d}" for i in range(n)], "therapist_id": [f"t{k:02d}" for k in therapist],
        "site": site, "age": age, "court_mandated": court, "referral": referral,
        "duration": duration, "event": event,
    })


def sessions(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions with SRS scores (some missing, some no-shows) and an alliance-driven dropout."""
    rng = np.random.default_rng(seed)
    therapist = rng.integers(1, 16, n)
    planned = rng.integers(3, 16, n)
    base = rng.normal(35, 3, n)
    court = rng.binomial(1, 0.3, n)
    rows = []
    client_rows = []
    for i in range(n):  # fixture generator, not library code
        srs = np.clip(base[i] + rng.normal(0, 2.5, planned[i]).cumsum() * 0.5, 10, 40).round(1)
        hazard = 0.06 * np.exp(-0.15 * (srs - 35) + 0.4 * court[i])
        drop = rng.random(planned[i]) < hazard
        last = int(np.argmax(drop)) + 1 if drop.any() else planned[i]
        event = 1 if drop.any() else int(rng.choice([0, 2], p=[0.3, 0.7]))
        date = pd.Timestamp("2024-01-08") + pd.to_timedelta(rng.integers(0, 60), "D")
        for k in range(last):
            if rng.random() < 0.1:
                rows.append((f"c{i:04d}", f"t{therapist[i]:02d}", date, "no_show", np.nan))
                date += pd.Timedelta(days=7)
            score = srs[k] if rng.random() > 0.15 else np.nan
            rows.append((f"c{i:04d}", f"t{therapist[i]:02d}", date, "attended", score))
            date += pd.Timedelta(days=7)
        client_rows.append((f"c{i:04d}", f"t{therapist[i]:02d}", court[i], last, event))
    s = pd.DataFrame(rows, columns=["client_id", "therapist_id", "date", "status", "srs"])
    e = pd.DataFrame(client_rows, columns=["client_id", "therapist_id", "court_mandated", "duration", "event"])
    return s, e


if __name__ == "__main__":
    episodes(400, tied=True, seed=11).to_csv(HERE / "cox_tied.csv", index=False)
    episodes(300, tied=False, seed=12).to_csv(HERE / "cox_untied.csv", index=False)
    s, e = sessions(250, seed=13)
    s.to_csv(HERE / "cox_tv_sessions.csv", index=False)
    e.to_csv(HERE / "cox_tv_episodes.csv", index=False)
