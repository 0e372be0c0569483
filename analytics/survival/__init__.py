"""Time to dropout: Kaplan-Meier, log-rank and cumulative incidence (`curves`), the clustered
Efron Cox model (`cox`, numerics in `efron`, results in `cox_results`), its proportional-hazards
test (`ph_test`), the time-varying alliance model (`time_varying`), Harrell's C (`concordance`),
the restricted mean time to dropout (`rmst`), Fine-Gray regression with completion competing
(`fine_gray`) and the landmark analysis of measures taken during therapy (`landmark`). Each equals
R's `survival` (or `cmprsk`) package on R's own data sets."""

from analytics.survival.concordance import Concordance
from analytics.survival.cox import adjusted_curves, fit_cox
from analytics.survival.cox_results import CoxResult
from analytics.survival.curves import (
    CIFResult,
    KMResult,
    LogrankResult,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    overstatement_summary,
)
from analytics.survival.fine_gray import FineGrayResult, fit_fine_gray
from analytics.survival.landmark import LandmarkResult, landmark_km
from analytics.survival.proportional_hazards import PHTestResult, ph_test
from analytics.survival.time_varying import counting_process, fit_time_varying, session_intervals
from analytics.survival.rmst import RMSTResult, default_tau, restricted_mean
