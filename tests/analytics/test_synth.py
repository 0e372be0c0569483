"""The synthetic caseload: its ground truth is recoverable, its files are canonical and reproducible.

Recovering the truth. The dropout process is a discrete-time logistic hazard with a therapist
random intercept u_j. Fitting it while ignoring u_j would not recover the coefficients: a logistic
model is not collapsible (leaving out a random intercept shrinks every coefficient), and in a
hazard model clients of high-u therapists leave early, so later sessions are selected towards
low-u therapists, which biases anything that varies by therapist (habits, room ratings,
trainee status, language match). With 30,000 clients the standard errors are small enough to see
that bias. So the truth is checked in two fits that are exactly the generating model:
- the true therapist intercepts as an offset: every coefficient, the therapist-level trainee
  effect and the intercept included;
- therapist fixed effects (what an analyst without the truth could fit): every client-level
  coefficient, and each therapist's intercept (= intercept + trainee effect + u_j). About 1,000
  clients per therapist keep the incidental-parameter bias negligible.
Each family of tests uses Bonferroni-corrected 95% intervals, so a correct generator fails a
family with probability at most 5%; the seed is fixed, so the outcome is reproducible.
"""

from __future__ import annotations

import hashlib
import re
import shlex

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analytics import schema
from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.synth import (
    CLIENT_FILE_COLUMNS,
    TERMS,
    generate_caseload,
    hazard_terms,
    latent_icc,
    main,
)
from tests.paths import ROOT

SAMPLE = ROOT / "sample_data"
FAMILY_ALPHA = 0.05


@pytest.fixture(scope="module")
def large():
    return generate_caseload(n_clients=30_000, n_therapists=30, n_sites=3, seed=2026)


@pytest.fixture(scope="module")
def sample_files() -> Caseload:
    sessions = pd.read_csv(SAMPLE / "sessions.csv", parse_dates=["date"], dtype={"service_code": str})
    clients = pd.read_csv(SAMPLE / "clients.csv", parse_dates=["intake_date"])
    therapists = pd.read_csv(SAMPLE / "therapists.csv")
    return Caseload(sessions, clients, therapists, export_date=pd.Timestamp("2025-06-30"))


def _z_limit(n_tests: int) -> float:
    return stats.norm.ppf(1 - FAMILY_ALPHA / (2 * n_tests))


def test_true_model_with_true_therapist_offset_recovers_every_coefficient(large):
    pp = large.person_period
    X = sm.add_constant(hazard_terms(pp)).rename(columns={"const": "intercept"})
    fit = sm.GLM(pp["dropout"].to_numpy(float), X, family=sm.families.Binomial(),
                 offset=pp["therapist_effect"].to_numpy()).fit()
    truth = pd.Series(large.truth)[X.columns]
    z = (fit.params - truth) / fit.bse
    assert z.abs().max() < _z_limit(len(z)), z.round(2).to_dict()
    assert fit.params["srs"] < -0.35 and fit.params["referral[court-mandated]"] > 0.5


def test_therapist_fixed_effects_recover_client_coefficients_and_therapist_intercepts(large):
    pp = large.person_period
    client_terms = [t for t in TERMS if t != "therapist_trainee"]
    codes, therapists = pd.factorize(pp["therapist_id"], sort=True)
    dummies = np.eye(len(therapists))[codes]
    X = np.column_stack([hazard_terms(pp)[client_terms].to_numpy(), dummies])
    fit = sm.GLM(pp["dropout"].to_numpy(float), X, family=sm.families.Binomial()).fit()
    truth = large.truth
    trainee = large.therapists.set_index("therapist_id").loc[therapists, "trainee"].to_numpy()
    intercepts = truth["intercept"] + truth["therapist_trainee"] * trainee + large.therapist_effects.loc[therapists].to_numpy()
    expected = np.concatenate([[truth[t] for t in client_terms], intercepts])
    z = (fit.params - expected) / fit.bse
    assert np.abs(z).max() < _z_limit(len(z)), dict(zip(client_terms + list(therapists), np.round(z, 2)))


def test_therapist_intercepts_have_the_stated_sd_and_latent_icc(large):
    effects = large.therapist_effects
    assert effects.mean() == pytest.approx(0.0, abs=1e-12)
    assert effects.std(ddof=1) == pytest.approx(large.truth["therapist_sd"], rel=1e-12)
    assert large.truth["therapist_sd"] == 0.5
    assert large.icc == pytest.approx(0.25 / (0.25 + np.pi**2 / 3))
    assert 0.05 < latent_icc(large.truth["therapist_sd"]) < 0.13


def test_person_period_is_every_attended_session_and_matches_the_record(large):
    pp = large.person_period
    attended = large.sessions[large.sessions["status"] == "attended"]
    assert len(pp) == len(attended)
    assert (pp.groupby("client_id")["dropout"].sum() <= 1).all()
    endings = large.clients.set_index("client_id")["termination"]
    dropped = pp.loc[pp["dropout"] == 1, "client_id"]
    assert set(endings.loc[dropped].unique()) <= {"dropout", "other", "ongoing"}
    assert endings.loc[dropped].isin(["dropout", "other"]).mean() > 0.9


def test_default_sample_dropout_rate_is_near_one_in_five(sample_files):
    episodes = derive_episodes(sample_files, EpisodeSettings(dropout_definition="therapist_judged"))
    dropout, completed = (episodes["event"] == 1).sum(), (episodes["event"] == 2).sum()
    assert 0.17 <= dropout / len(episodes) <= 0.25
    assert 0.17 <= dropout / (dropout + completed) <= 0.25
    unilateral = derive_episodes(sample_files, EpisodeSettings(dropout_definition="unilateral"))
    assert 0.15 <= (unilateral["event"] == 1).mean() <= 0.25


def test_generation_is_deterministic_for_a_seed():
    a = generate_caseload(n_clients=400, n_therapists=8, seed=11)
    b = generate_caseload(n_clients=400, n_therapists=8, seed=11)
    other = generate_caseload(n_clients=400, n_therapists=8, seed=12)
    assert a.caseload().fingerprint == b.caseload().fingerprint != other.caseload().fingerprint
    assert a.sessions["srs"].sum() == b.sessions["srs"].sum()
    assert a.sessions["date"].iloc[-1] == b.sessions["date"].iloc[-1]
    assert a.clients["termination"].tolist() == b.clients["termination"].tolist()
    pd.testing.assert_frame_equal(a.person_period, b.person_period)


def test_sample_csvs_are_exactly_what_the_documented_command_writes(tmp_path):
    readme = (SAMPLE / "README.md").read_text()
    command = re.search(r"PYTHONPATH=\. \.venv/bin/python -m analytics\.synth ([^\n`]*)", readme).group(1)
    args = shlex.split(command)
    out = args.index("--out")
    args[out + 1] = str(tmp_path)
    main(args)
    for name in ("sessions.csv", "clients.csv", "therapists.csv"):
        written = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        committed = hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest()
        assert written == committed, f"sample_data/{name} differs from what the README command writes"


def test_tables_use_canonical_columns_and_values(large):
    sessions, clients, therapists = large.sessions, large.clients, large.therapists
    assert tuple(sessions.columns) == schema.SESSION_COLUMNS
    assert tuple(clients.columns) == CLIENT_FILE_COLUMNS
    assert set(CLIENT_FILE_COLUMNS) <= set(schema.CLIENT_COLUMNS)
    assert tuple(therapists.columns) == schema.THERAPIST_COLUMNS
    assert set(sessions["status"]) == set(schema.SESSION_STATUSES)
    assert set(clients["termination"]) == set(schema.TERMINATIONS)
    assert set(clients["referral"]) == {"self", "court-mandated", "partner/family", "physician"}
    for measure in ("srs", "wai", "ors"):
        low, high = schema.SCALES[measure]
        values = sessions[measure].dropna()
        assert values.between(low, high).all() and len(values) > 0
        assert sessions.loc[sessions["status"] != "attended", measure].isna().all()
    for rating in schema.ENVIRONMENT_RATINGS:
        values = clients[rating].dropna()
        assert set(values.unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
        assert 0.05 < clients[rating].isna().mean() < 0.2
    assert clients["client_id"].str.fullmatch(r"C\d{6}").all() and clients["client_id"].is_unique
    assert (clients["court_mandated"] == (clients["referral"] == "court-mandated")).all()


def test_appointment_records_follow_the_documented_endings(large):
    episodes = derive_episodes(large.caseload())
    by_end = episodes.groupby("termination")["last_status"]
    assert by_end.apply(lambda s: s.isin(schema.CLIENT_MISSES).all())["dropout"]
    for ending in ("completed", "transferred"):
        assert (episodes.loc[episodes["termination"] == ending, "last_status"] == "attended").all()
    export = large.export_date
    recent = (export - episodes["last_scheduled"]).dt.days <= 45
    assert (episodes.loc[recent, "termination"] == "ongoing").all()
    assert (episodes["intake_date"] == episodes["first_scheduled"]).all()
    dates = large.sessions[["client_id", "date"]]
    same = dates["client_id"].eq(dates["client_id"].shift())
    assert (dates["date"].diff()[same].dt.days > 0).all()
    assert (episodes["sessions_attended"] >= 1).all()
    dropped = large.person_period.loc[large.person_period["dropout"] == 1, "client_id"]
    recorded = large.clients.set_index("client_id").loc[dropped, "termination"]
    assert 0.07 < (recorded == "other").sum() / recorded.isin(["dropout", "other"]).sum() < 0.13


def test_sample_csvs_read_back_without_values_mistaken_for_missing(sample_files):
    generated = generate_caseload()
    for name in ("sessions", "clients", "therapists"):
        on_disk = getattr(sample_files, name)
        in_memory = getattr(generated, name)
        assert on_disk.shape == in_memory.shape
        pd.testing.assert_series_equal(on_disk.notna().sum(), in_memory.notna().sum(), check_names=False)
    assert sample_files.clients["religion"].notna().all()
    assert sample_files.clients["termination"].value_counts()["dropout"] == (generated.clients["termination"] == "dropout").sum()
