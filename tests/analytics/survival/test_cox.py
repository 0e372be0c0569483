"""Cox models against R's survival (numbers stored in tests/reference/cox_reference.json by
make_cox_reference.R), plus hand-checkable behaviour: warnings, captions, concordance, charts."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pandas as pd
import pytest

from analytics.charts.cox import (
    adjusted_curves_figure,
    forest_figure,
    ph_residual_figure,
)
from analytics.survival.concordance import concordance
from analytics.survival.cox import (
    adjusted_curves,
    counting_process,
    fit_cox,
    fit_time_varying,
    ph_test,
)
from analytics.survival.cox_results import hazard_ratio_sentences
from tests.paths import REFERENCE

REF = REFERENCE
R = json.loads((REF / "cox_reference.json").read_text())
COVS = ["age", "court_mandated", "referral"]
LEVELS = {"referral": "self"}
R_TERMS = {"referral[family]": "referralfamily", "referral[gp]": "referralgp", "srs": "srs_prev"}


@pytest.fixture(scope="module")
def tied():
    return pd.read_csv(REF / "cox_tied.csv")


@pytest.fixture(scope="module")
def fits(tied):
    untied = pd.read_csv(REF / "cox_untied.csv")
    sessions = pd.read_csv(REF / "cox_tv_sessions.csv", parse_dates=["date"])
    episodes = pd.read_csv(REF / "cox_tv_episodes.csv")
    return {
        "tied_cluster": fit_cox(tied, COVS, LEVELS),
        "tied_strata": fit_cox(tied, COVS, LEVELS, strata="site"),
        "untied_cluster": fit_cox(untied, COVS, LEVELS),
        "tied_nocluster": fit_cox(tied, ["age", "court_mandated"], cluster=None),
        "time_varying": fit_time_varying(sessions, episodes, "srs", ["court_mandated"]),
    }


def _r(case, key, terms):
    return np.array([R[case][key][R_TERMS.get(t, t)] for t in terms])


CASES = ["tied_cluster", "tied_strata", "untied_cluster", "tied_nocluster", "time_varying"]


@pytest.mark.parametrize("case", CASES)
def test_coefficients_and_standard_errors_equal_r(fits, case):
    fit = fits[case]
    terms = list(fit.table["term"])
    np.testing.assert_allclose(fit.table["coef"], _r(case, "coef", terms), rtol=1e-6)
    np.testing.assert_allclose(fit.table["se"], _r(case, "se", terms), rtol=1e-6)
    if R[case]["robust_se"] is None:
        assert fit.table["robust_se"].isna().all()
    else:
        np.testing.assert_allclose(fit.table["robust_se"], _r(case, "robust_se", terms), rtol=1e-6)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], R[case]["loglik"], rtol=1e-9)
    assert (fit.n_used, fit.events) == (R[case]["n"], R[case]["nevent"])
    assert fit.concordance == pytest.approx(R[case]["concordance"], abs=1e-12)
    assert fit.converged


def test_table_intervals_use_robust_se_when_clustered_else_model_se(fits):
    clustered = fits["tied_cluster"].table
    z = 1.959963984540054
    np.testing.assert_allclose(clustered["hr_ci_upper"], np.exp(clustered["coef"] + z * clustered["robust_se"]))
    plain = fits["tied_nocluster"].table
    np.testing.assert_allclose(plain["hr_ci_lower"], np.exp(plain["coef"] - z * plain["se"]))
    assert list(clustered.columns) == ["term", "coef", "hr", "se", "robust_se", "hr_ci_lower", "hr_ci_upper", "p"]
    court = clustered.set_index("term").loc["court_mandated"]
    assert court["p"] == pytest.approx(2 * (1 - __import__("scipy").stats.norm.cdf(court["coef"] / court["robust_se"])))


def test_complete_cases_are_counted(fits, tied):
    assert fits["tied_cluster"].n_left_out == int(tied["age"].isna().sum()) == 14
    assert "14 of 400 episodes" in fits["tied_cluster"].warnings[0]


@pytest.mark.parametrize("case", CASES)
def test_ph_test_equals_cox_zph(fits, case):
    ph = ph_test(fits[case])
    expected = pd.DataFrame(R[case]["zph_table"])
    expected["term"] = expected["term"].replace({"srs_prev": "srs"})
    assert list(ph.table["term"]) == list(expected["term"])
    np.testing.assert_allclose(ph.table["statistic"], expected["chisq"], rtol=1e-6)
    np.testing.assert_array_equal(ph.table["df"], expected["df"])
    np.testing.assert_allclose(ph.table["p"], expected["p"], rtol=1e-5)
    r_resid = pd.DataFrame(R[case]["zph_y"])
    for term in ph.table["term"][:-1]:
        mine = ph.residuals.loc[ph.residuals["term"] == term].sort_values(["time", "residual"])
        theirs = pd.DataFrame({"time": R[case]["zph_time"], "residual": r_resid[{"srs": "srs_prev"}.get(term, term)]})
        theirs = theirs.sort_values(["time", "residual"])
        np.testing.assert_allclose(mine["time"], theirs["time"])
        np.testing.assert_allclose(mine["residual"], theirs["residual"], rtol=1e-6, atol=1e-9)


def test_ph_advice_names_the_failing_covariate(fits):
    ph = ph_test(fits["tied_cluster"])
    ph.table.loc[ph.table["term"] == "age", "p"] = 0.01  # pretend age fails
    from analytics.survival.proportional_hazards import _advice

    advice = _advice(ph.table, 0.05, None)
    assert "age" in advice[0] and "strata=\"age\"" in advice[0] and "interaction" in advice[0]
    assert ph_test(fits["tied_cluster"]).takeaway == "No covariate shows a clear departure from proportional hazards."


def test_ph_test_with_every_dropout_at_one_time_says_it_cannot_be_computed():
    """Two dropouts, both at session 1 (60 clients, the early definition): the time transform is
    constant, the information singular (R's cox.zph stops with "system is exactly singular"); the
    page crashed. One dropout (the EHR export's six clients) made the residuals' solve singular."""
    from analytics.episodes import EpisodeSettings, derive_episodes
    from analytics.ingest.load import load_caseload
    from analytics.synth import generate_caseload
    from tests.paths import FIXTURES

    caseload = generate_caseload(n_clients=60, n_therapists=4, seed=7).caseload()
    episodes = derive_episodes(caseload, EpisodeSettings("early"))
    assert episodes.loc[episodes["event"] == 1, "duration"].tolist() == [1.0, 1.0]
    ph = ph_test(fit_cox(episodes, ["age", "srs_first"]))
    assert ph.table["term"].tolist() == ["age", "srs_first", "GLOBAL"] and ph.table["p"].isna().all()
    assert ph.takeaway == ("The proportional-hazards test could not be computed for age, srs first: the dropouts fall "
                           "at too few different times to show a change over the course of therapy.")
    drawn = ph_residual_figure(ph)  # the residuals, without a smooth through one time (lowess would divide by 0)
    assert [t.name for t in drawn.data] == ["age residuals", "srs_first residuals"]
    ehr = load_caseload({"sessions": FIXTURES / "ehr_appointments.csv", "clients": FIXTURES / "ehr_clients.csv"}).caseload
    one = derive_episodes(ehr, EpisodeSettings("early"))
    assert int((one["event"] == 1).sum()) == 1
    assert ph_test(fit_cox(one, ["srs_first"])).residuals.empty


def test_counting_process_equals_r_start_stop_data():
    sessions = pd.read_csv(REF / "cox_tv_sessions.csv", parse_dates=["date"])
    episodes = pd.read_csv(REF / "cox_tv_episodes.csv")
    mine = counting_process(sessions, episodes, "srs").sort_values(["client_id", "start"]).reset_index(drop=True)
    theirs = pd.read_csv(REF / "cox_tv_startstop.csv")
    assert len(mine) == len(theirs)
    assert list(mine["client_id"]) == list(theirs["client_id"])
    np.testing.assert_array_equal(mine[["start", "stop"]], theirs[["start", "stop"]])
    np.testing.assert_array_equal(mine["event"], theirs["dropout"])
    np.testing.assert_array_equal(mine["srs"].isna(), theirs["srs_prev"].isna())
    np.testing.assert_allclose(mine["srs"].dropna(), theirs["srs_prev"].dropna())


def test_counting_process_carries_the_last_earlier_rating_forward():
    sessions = pd.DataFrame({
        "client_id": ["a"] * 5 + ["b"] * 2,
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29",
                                "2024-01-01", "2024-01-08"]),
        "status": ["attended", "attended", "no_show", "attended", "attended", "attended", "attended"],
        "srs": [30, np.nan, np.nan, 25, 38, 36, 20],
    })
    episodes = pd.DataFrame({"client_id": ["a", "b"], "therapist_id": ["t1", "t2"], "event": [1, 2]})
    cp = counting_process(sessions, episodes, "srs")
    a = cp[cp["client_id"] == "a"]
    assert list(a["start"]) == [0, 1, 2, 3] and list(a["stop"]) == [1, 2, 3, 4]
    np.testing.assert_array_equal(a["srs"], [np.nan, 30, 30, 25])  # session 2 unrated: 30 carried
    assert list(a["event"]) == [0, 0, 0, 1]
    assert list(cp.loc[cp["client_id"] == "b", "event"]) == [0, 0]  # completed: no event
    assert list(cp["therapist_id"]) == ["t1"] * 4 + ["t2"] * 2


def test_adjusted_curves_equal_survfit_newdata(fits):
    curves = adjusted_curves(fits["tied_cluster"], "referral", ["self", "family", "gp"])
    sf = R["tied_cluster"]["survfit"]
    times = np.array(sf["time"])
    at_events = np.array(sf["n_event"]) > 0
    surv = np.array(sf["surv"])
    for i, level in enumerate(["self", "family", "gp"]):
        mine = curves[curves["value"] == level].set_index("time")["survival"]
        assert mine.iloc[0] == 1.0 and mine.index[0] == 0
        np.testing.assert_allclose(mine.reindex(times[at_events]), surv[at_events, i], rtol=1e-6)


def test_adjusted_curves_per_stratum(fits):
    curves = adjusted_curves(fits["tied_strata"], "court_mandated", [0, 1])
    assert set(curves["stratum"]) == {"north", "south"}
    last = curves.groupby(["value", "stratum"])["survival"].last()
    assert (last.loc[1] < last.loc[0]).all()  # court-mandated clients: more dropout in both strata


def test_describe_hazard_ratios_uses_table_values(fits):
    table = fits["tied_cluster"].table.set_index("term")
    court = table.loc["court_mandated"]
    sentences = hazard_ratio_sentences(fits["tied_cluster"])
    expected = (f"Being court-mandated to therapy was associated with dropping out at {court['hr']:.2f} times the "
                f"rate of other clients (95% CI {court['hr_ci_lower']:.2f} to {court['hr_ci_upper']:.2f}).")
    assert expected in sentences
    assert any(s.startswith("Each one-unit increase in age (per year) was associated with a 2% lower") for s in sentences)
    assert not any("referral" in s for s in sentences)  # not significant
    assert sentences[-1].startswith("These are associations")


def test_no_events_gives_a_warning_not_an_error(tied):
    data = tied.assign(event=np.where(tied["event"] == 1, 2, tied["event"]))
    fit = fit_cox(data, COVS, LEVELS)
    assert fit.events == 0 and fit.table["coef"].isna().all()
    assert any("no dropouts" in w for w in fit.warnings)
    assert hazard_ratio_sentences(fit)[0].startswith("No covariate")
    assert ph_test(fit).table.empty


def test_separation_is_reported(tied):
    data = tied.assign(perfect=(tied["event"] == 1).astype(int) * (tied["court_mandated"] == 1))
    data.loc[data["perfect"] == 1, "duration"] = 0.5  # these clients drop out before anyone else
    fit = fit_cox(data, ["age", "perfect"])
    assert any("perfect" in w and "separation" in w for w in fit.warnings)
    assert not any("age" in w and "separation" in w for w in fit.warnings)
    row = fit.table.set_index("term").loc["perfect"]
    assert row["coef"] > 15 and np.isnan(row["p"]) and np.isnan(row["hr_ci_upper"])
    assert fit.table.set_index("term").loc["age", "p"] < 0.05  # the other term keeps its numbers


def test_few_events_per_parameter_warns(tied):
    fit = fit_cox(tied.head(40), COVS, LEVELS)
    assert fit.events_per_parameter == pytest.approx(fit.events / 4)
    assert any("per term" in w for w in fit.warnings)


def test_constant_within_strata_is_left_out_with_a_warning(tied):
    data = tied.assign(north=(tied["site"] == "north").astype(int))
    fit = fit_cox(data, ["age", "north"], strata="site")
    assert list(fit.table["term"]) == ["age"]
    assert any("north cannot be estimated" in w for w in fit.warnings)


def test_unknown_column_raises_a_clear_error(tied):
    with pytest.raises(ValueError, match="not in the episodes table: nope"):
        fit_cox(tied, ["age", "nope"])
    with pytest.raises(ValueError, match="not in the episodes table: clinician"):
        fit_cox(tied, ["age"], cluster="clinician")


def _brute_concordance(time, event, risk, stratum, start):
    conc = disc = tied = 0
    for i, j in product(range(len(time)), repeat=2):  # O(n^2) check on a tiny sample
        if not event[i] or i == j or stratum[i] != stratum[j]:
            continue
        at_risk = start[j] < time[i] <= time[j] and not (time[j] == time[i] and event[j])
        if at_risk:
            conc += risk[i] > risk[j]
            disc += risk[i] < risk[j]
            tied += risk[i] == risk[j]
    return conc, disc, tied


@pytest.mark.parametrize("counting", [False, True])
def test_concordance_counts_equal_brute_force(counting):
    rng = np.random.default_rng(5)
    n = 120
    stop = rng.integers(1, 8, n).astype(float)
    start = np.where(rng.random(n) < 0.5, stop - rng.integers(1, 3, n), -np.inf) if counting else np.full(n, -np.inf)
    event = rng.random(n) < 0.4
    risk = rng.integers(0, 5, n).astype(float)
    stratum = rng.integers(0, 2, n)
    c = concordance(stop, event, risk, stratum, start if counting else None)
    assert (c.concordant, c.discordant, c.tied_risk) == _brute_concordance(stop, event, risk, stratum, start)


def test_forest_figure_from_hazard_and_odds_tables(fits):
    table = fits["tied_cluster"].table
    fig = forest_figure(table)
    points = fig.data[0]
    np.testing.assert_allclose(points.x, table["hr"])
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.shapes[0].x0 == 1 and fig.layout.shapes[0].x1 == 1
    assert fig.data[1].text[0] == f"{table['hr'][0]:.2f} ({table['hr_ci_lower'][0]:.2f} to {table['hr_ci_upper'][0]:.2f})"
    odds = pd.DataFrame({"term": ["a", "b"], "or": [2.0, 0.5], "ci_lower": [1.5, 0.3], "ci_upper": [3.0, 0.9]})
    fig = forest_figure(odds, estimate="or")
    np.testing.assert_allclose(fig.data[0].error_x.array, [1.0, 0.4])
    assert fig.data[1].text[1] == "0.50 (0.30 to 0.90)"
    # a term that wraps to three lines gets their room: at 34 px a row the match factors' labels overlapped
    from analytics.practice.room_match import MATCH_LABELS

    match = pd.DataFrame({"term": list(MATCH_LABELS.values()), "or": 1.0, "ci_lower": 0.8, "ci_upper": 1.2})
    fig = forest_figure(match, estimate="or")
    lines = [t.count("<br>") + 1 for t in fig.data[0].y]
    assert lines == [2, 2, 2, 3, 3] and fig.layout.height == 60 + 5 * 34 + 16 * 7


def test_ph_and_curve_figures_draw_the_tables(fits):
    ph = ph_test(fits["tied_cluster"])
    fig = ph_residual_figure(ph)
    age = ph.residuals[ph.residuals["term"] == "age"]
    np.testing.assert_allclose(fig.data[0].y, age["residual"])
    assert len(fig.data) == 2 * 3  # residuals and smooth for age, court_mandated, referral
    curves = adjusted_curves(fits["tied_cluster"], "court_mandated", [0, 1])
    fig = adjusted_curves_figure(curves, "court_mandated")
    np.testing.assert_allclose(fig.data[1].y, curves.loc[curves["value"] == 1, "survival"])


def test_wall_clock_limit_stops_with_a_warning(tied):
    fit = fit_cox(tied, COVS, LEVELS, time_limit=0)
    assert not fit.converged and fit.iterations == 1
    assert any("stopped after 0 seconds" in w for w in fit.warnings)


def test_adjusted_curves_leave_out_unknown_levels(fits):
    curves = adjusted_curves(fits["tied_cluster"], "referral", ["self", "nowhere"])
    assert set(curves["value"]) == {"self"}


def test_a_covariate_with_one_level_is_named_in_the_warnings(tied):
    fit = fit_cox(tied.assign(gender="female"), ["age", "gender"])
    assert list(fit.table["term"]) == ["age"]
    assert any(w.startswith("gender has the same value") for w in fit.warnings)  # from build_design


def test_negative_durations_are_left_out_with_a_warning(tied):
    data = tied.assign(duration=tied["duration"].where(tied.index >= 3, -1.0))
    fit = fit_cox(data, ["court_mandated"])
    assert fit.n_used == 397 and fit.n_left_out == 3
    assert fit.warnings[0] == "3 episodes have a negative or non-numeric duration and were left out."


def test_counting_process_lag_zero_uses_the_rating_of_the_session_ending_the_interval():
    sessions = pd.DataFrame({
        "client_id": ["a"] * 4,
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]),
        "status": ["attended"] * 4,
        "srs": [30, np.nan, 25, 38],
    })
    episodes = pd.DataFrame({"client_id": ["a"], "therapist_id": ["t1"], "event": [1]})
    np.testing.assert_array_equal(counting_process(sessions, episodes, "srs", lag=0)["srs"], [30, 30, 25, 38])
    np.testing.assert_array_equal(counting_process(sessions, episodes, "srs")["srs"], [np.nan, 30, 30, 25])


def test_session_intervals_built_once_serve_every_definition():
    """The intervals without the outcome, built once, give each definition's own model: the same
    table and fit as building them for that definition's episodes."""
    from analytics.episodes import EpisodeSettings, derive_episodes
    from analytics.survival.time_varying import session_intervals
    from analytics.synth import generate_caseload

    caseload = generate_caseload().caseload()
    intervals = session_intervals(caseload.sessions, "srs")
    fits = {}
    for definition in ("therapist_judged", "unilateral"):
        episodes = derive_episodes(caseload, EpisodeSettings(definition))
        pd.testing.assert_frame_equal(counting_process(caseload.sessions, episodes, "srs", intervals=intervals),
                                      counting_process(caseload.sessions, episodes, "srs"))
        fits[definition] = fit_time_varying(caseload.sessions, episodes, "srs", intervals=intervals).table
        pd.testing.assert_frame_equal(fits[definition], fit_time_varying(caseload.sessions, episodes, "srs").table)
    assert fits["therapist_judged"].loc[0, "hr"] != fits["unilateral"].loc[0, "hr"]  # each its own dropouts


def test_time_varying_alliance_recovers_the_synthetic_effect():
    """The synthetic dropout after session t depends on that session's SRS (logit -0.45 per 4
    points): lag 0 recovers it (HR ~ exp(-0.1125) = 0.894 per point); the strictly predictable
    lag 1 sees last session's rating and is attenuated toward 1."""
    from analytics.caseload import Caseload
    from analytics.episodes import derive_episodes
    from analytics.synth import TRUE_EFFECTS, generate_caseload

    s = generate_caseload(20000, 200, 5, seed=3)
    episodes = derive_episodes(Caseload(s.sessions, s.clients, s.therapists, s.export_date))
    truth = np.exp(TRUE_EFFECTS["srs"] / 4)
    same = fit_time_varying(s.sessions, episodes, "srs", ["referral"], lag=0).table.set_index("term").loc["srs"]
    lagged = fit_time_varying(s.sessions, episodes, "srs", ["referral"]).table.set_index("term").loc["srs"]
    assert same["hr_ci_lower"] < truth < same["hr_ci_upper"]
    assert same["hr"] < lagged["hr"] < 1
