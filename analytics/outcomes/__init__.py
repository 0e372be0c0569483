"""Outcome measures (the registry, as data with sources) and the per-episode change rules."""

from analytics.outcomes.change import CHANGE_COLUMNS, NHS_COLUMNS, change_columns, nhs_columns
from analytics.outcomes.measures import BUILT_IN, MEASURES, NHS_PAIR, Measure

