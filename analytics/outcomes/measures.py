"""The outcome measures the analyses know, as data: range, direction, clinical cutoff and reliable
change, each number beside its published source, so a threshold is looked up once and cited once.

`Measure.name` is the canonical sessions column. A user registers another measure in the recipe
(`outcome_measures`), with the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass

# A change this close to the threshold counts as reaching it: scores with one decimal (ORS 19.3 -> 24.3)
# differ from the threshold by floating-point noise only.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Measure:
    """One outcome measure. Caseness (the clinical range) is a score at or above `cutoff` when
    higher is worse, below `cutoff` when higher is better; a reliable change is a change of at least
    `reliable_change` points (a change exactly at the threshold counts, as NHS Talking Therapies
    reads "at least")."""

    name: str
    label: str
    low: float
    high: float
    higher_is_better: bool
    cutoff: float
    reliable_change: float
    source: str = ""  # the publications the thresholds come from, for the methods text

    def __post_init__(self):
        if not (self.low < self.high):
            raise ValueError(f"Measure {self.name!r}: the range needs low < high.")
        if not self.low <= self.cutoff <= self.high:
            raise ValueError(f"Measure {self.name!r}: the cutoff must lie within {self.low:g}-{self.high:g}.")
        if not 0 < self.reliable_change <= self.high - self.low:
            raise ValueError(f"Measure {self.name!r}: the reliable change must be above 0 and within the range.")

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "higher is worse"

    @property
    def caseness_rule(self) -> str:
        """The clinical range in words, e.g. "10 or more"."""
        return f"below {self.cutoff:g}" if self.higher_is_better else f"{self.cutoff:g} or more"


BUILT_IN = (
    # PHQ-9: 0-27 (Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606-13: caseness at 10 or more);
    # reliable change 6 points (NHS Talking Therapies Manual v7, 2024; IAPT data handbook).
    Measure("phq9", "PHQ-9", 0, 27, False, 10, 6,
            "Kroenke, Spitzer & Williams 2001; NHS Talking Therapies Manual 2024"),
    # GAD-7: 0-21 (Spitzer, Kroenke, Williams & Löwe 2006, Arch Intern Med 166:1092-7); caseness at 8 or
    # more and reliable change 4 points (NHS Talking Therapies Manual v7, 2024; IAPT data handbook).
    Measure("gad7", "GAD-7", 0, 21, False, 8, 4,
            "Spitzer et al. 2006; NHS Talking Therapies Manual 2024"),
    # ORS: 0-40, higher is better; clinical cutoff 25 and reliable change 5 points (Miller, Duncan, Brown,
    # Sparks & Claud 2003, J Brief Therapy 2:91-100; Duncan 2012, Psychotherapy in Australia 19:36-45).
    Measure("ors", "ORS", 0, 40, True, 25, 5, "Miller et al. 2003; Duncan 2012"),
    # OQ-45: 0-180; clinical cutoff 64 (63/64) and reliable change 14 points (Lambert et al. 1996,
    # Clin Psychol Psychother 3:249-58; Lambert et al. 2004, OQ-45.2 administration and scoring manual).
    Measure("oq45", "OQ-45", 0, 180, False, 64, 14, "Lambert et al. 1996, 2004"),
    # CORE-10: 0-40; clinical cutoff 11 (11 or more) and reliable change 6 points (Barkham et al. 2013,
    # Counselling and Psychotherapy Research 13:3-13; CORE-10 User Manual v1.0, 2007).
    Measure("core10", "CORE-10", 0, 40, False, 11, 6, "Barkham et al. 2013"),
)
MEASURES = {m.name: m for m in BUILT_IN}
# The NHS Talking Therapies paired rules read depression and anxiety together.
NHS_PAIR = ("phq9", "gad7")
