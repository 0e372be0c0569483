"""A six-client caseload small enough to work every practice figure out by hand.

Client  therapist site  appointments (srs)                                   termination
c1      t1        A     5 attended: 38 37 31 36 38 (Jan)                     completed
c2      t1        A     attended 30, then a no-show (Jan)                    dropout
c3      t2        A     3 attended: 39 33 34, then cancelled (Feb)           completed
c4      t2        B     3 attended: 36 37 38 (June, recent)                  ongoing
c5      t2        B     4 attended: 37 36 30 29 (March)                      dropout
c6      t1        B     1 attended: 35 (30 June, the export date)            ongoing
"""

import pandas as pd

from analytics.caseload import Caseload

_ROWS = [
    ("c1", "t1", "2024-01-01", "attended", 38), ("c1", "t1", "2024-01-08", "attended", 37),
    ("c1", "t1", "2024-01-15", "attended", 31), ("c1", "t1", "2024-01-22", "attended", 36),
    ("c1", "t1", "2024-01-29", "attended", 38),
    ("c2", "t1", "2024-01-03", "attended", 30), ("c2", "t1", "2024-01-10", "no_show", None),
    ("c3", "t2", "2024-02-01", "attended", 39), ("c3", "t2", "2024-02-08", "attended", 33),
    ("c3", "t2", "2024-02-15", "attended", 34), ("c3", "t2", "2024-02-22", "cancelled", None),
    ("c4", "t2", "2024-06-01", "attended", 36), ("c4", "t2", "2024-06-15", "attended", 37),
    ("c4", "t2", "2024-06-29", "attended", 38),
    ("c5", "t2", "2024-03-01", "attended", 37), ("c5", "t2", "2024-03-08", "attended", 36),
    ("c5", "t2", "2024-03-15", "attended", 30), ("c5", "t2", "2024-03-22", "attended", 29),
    ("c6", "t1", "2024-06-30", "attended", 35),
]


def small_caseload(with_srs: bool = True, **client_columns) -> Caseload:
    sessions = pd.DataFrame(_ROWS, columns=["client_id", "therapist_id", "date", "status", "srs"])
    sessions["date"] = pd.to_datetime(sessions["date"])
    if not with_srs:
        sessions = sessions.drop(columns="srs")
    clients = pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "termination": ["completed", "dropout", "completed", "ongoing", "dropout", "ongoing"],
            "site": ["A", "A", "A", "B", "B", "B"],
            **client_columns,
        }
    )
    return Caseload(sessions=sessions, clients=clients)
