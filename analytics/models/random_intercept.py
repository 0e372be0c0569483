"""Random-intercept logistic model: how much of the variation in dropout lies between therapists.

Model: logit P(dropout) = x'beta + b_therapist, b ~ N(0, sd^2), fitted by maximum likelihood.

Estimator choice: the likelihood integrates each therapist's random intercept out of a product of
Bernoulli terms; that integral is one-dimensional, so it is computed by adaptive Gauss-Hermite
quadrature (AGHQ, default 15 nodes per therapist, centred and scaled at each therapist's conditional
mode). With binary outcomes and small caseloads per therapist the Laplace approximation (lme4's
default, nAGQ = 1, available here as `n_agq=1`) biases the variance towards zero; AGHQ with 15 nodes
is practically exact (it matches lme4::glmer(nAGQ = 15)).

ICC on the latent scale: sd^2 / (sd^2 + pi^2/3), the share of the latent dropout propensity's
variance lying between therapists. Its interval is the profile-likelihood interval for the SD
(likelihood-ratio drop of chi2(1, 0.95)/2, the lower end 0 when the SD's profile never falls that
far), transformed; therapist effects are conditional modes with conditional SDs (as lme4's ranef).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from numpy.polynomial.hermite import hermgauss
from scipy import optimize, stats
from statsmodels.tools.numdiff import approx_hess3

from analytics.models.outcome import (
    TABLE_COLUMNS,
    odds_ratio_table,
    prepare,
    unique,
    unusable,
)
from analytics.proportions import Z95, percent
from analytics.results import NO_COUNTS, Privacy

LATENT_VARIANCE = np.pi**2 / 3
LOG_SD_MIN, LOG_SD_MAX = np.log(1e-4), np.log(20.0)
CHI2_95 = float(stats.chi2.ppf(0.95, 1))
MIN_CLUSTERS = 10
ICC_COLUMNS = ["therapist_var", "icc", "ci_lower", "ci_upper", "method"]
EFFECT_COLUMNS = ["therapist_id", "effect", "ci_lower", "ci_upper"]


@dataclass
class RandomInterceptResult:
    icc: pd.DataFrame
    effects: pd.DataFrame
    table: pd.DataFrame
    sd: float
    log_likelihood: float
    variance_p: float
    n_used: int
    n_left_out: int
    n_unknown_outcome: int
    n_clusters: int
    events: int
    n_agq: int
    converged: bool
    warnings: list[str] = field(default_factory=list)
    privacy: ClassVar[Privacy] = NO_COUNTS

    @property
    def takeaway(self) -> str:
        """The therapists' share of the differences in dropout, with its interval."""
        if self.icc.empty:
            return ""
        icc = self.icc.iloc[0]
        return (f"{percent(icc['icc'], 1)} of the differences in dropout lie between therapists (95% CI "
                f"{percent(icc['ci_lower'], 1)} to {percent(icc['ci_upper'], 1)}); the rest lies between clients of "
                "the same therapist.")


class _OutOfTime(Exception):
    pass


class _Likelihood:
    """Marginal log-likelihood of the random-intercept logistic model by adaptive Gauss-Hermite
    quadrature, vectorized over therapists. Identical rows (therapist, terms, outcome) are pooled
    with a weight, so a model with categorical terms costs little on a large caseload."""

    def __init__(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, n_agq: int, deadline: float):
        terms = [f"x{j}" for j in range(X.shape[1])]
        frame = pd.DataFrame(X, columns=terms).assign(_g=groups, _y=y)
        pooled = frame.groupby(["_g", *terms, "_y"], sort=True).size().reset_index(name="_w")
        self.X = pooled[terms].to_numpy(dtype=float)
        self.y = pooled["_y"].to_numpy(dtype=float)
        self.w = pooled["_w"].to_numpy(dtype=float)
        codes = pooled["_g"].to_numpy()
        self.starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        self.index = np.repeat(np.arange(len(self.starts)), np.diff(np.r_[self.starts, len(codes)]))
        self.nodes, weights = hermgauss(n_agq)
        self.log_weights = np.log(weights) + self.nodes**2
        self.modes = np.zeros(len(self.starts))
        self.deadline = deadline

    def _sum(self, values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, self.starts, axis=0)

    def conditional_modes(self, beta: np.ndarray, sd: float) -> tuple[np.ndarray, np.ndarray]:
        """Each therapist's mode of b given the data, and the conditional SD from the curvature there."""
        offset = self.X @ beta
        b = self.modes.copy()
        for _ in range(100):
            p = _expit(offset + b[self.index])
            gradient = self._sum(self.w * (self.y - p)) - b / sd**2
            curvature = self._sum(self.w * p * (1 - p)) + 1 / sd**2
            step = np.clip(gradient / curvature, -2.0, 2.0)
            b += step
            if np.max(np.abs(step)) < 1e-10:
                break
        p = _expit(offset + b[self.index])
        curvature = self._sum(self.w * p * (1 - p)) + 1 / sd**2
        self.modes = b
        return b, 1 / np.sqrt(curvature)

    def loglik(self, beta: np.ndarray, log_sd: float, gradient: bool = False):
        """The log-likelihood; with `gradient`, also its gradient in (beta, log sd), each therapist's
        score averaged over the quadrature's posterior weights (Fisher's identity: exact where the
        quadrature is, i.e. for AGHQ with several nodes)."""
        if time.monotonic() > self.deadline:
            raise _OutOfTime
        sd = float(np.exp(log_sd))
        mode, scale = self.conditional_modes(beta, sd)
        b = mode[:, None] + np.sqrt(2) * scale[:, None] * self.nodes[None, :]
        eta = (self.X @ beta)[:, None] + b[self.index]
        bernoulli = self._sum(self.w[:, None] * (self.y[:, None] * eta - np.logaddexp(0, eta)))
        prior = -0.5 * (b / sd) ** 2 - 0.5 * np.log(2 * np.pi) - np.log(sd)
        log_terms = bernoulli + prior + self.log_weights[None, :]
        top = log_terms.max(axis=1)
        mass = np.exp(log_terms - top[:, None])
        total = mass.sum(axis=1)
        value = float((top + np.log(total) + np.log(np.sqrt(2) * scale)).sum())
        if not gradient:
            return value
        posterior = mass / total[:, None]
        fitted = (posterior[self.index] * _expit(eta)).sum(axis=1)
        d_beta = self.X.T @ (self.w * (self.y - fitted))
        d_log_sd = float((posterior * ((b / sd) ** 2 - 1)).sum())
        return value, np.r_[d_beta, d_log_sd]


def fit_random_intercept(
    episodes: pd.DataFrame,
    covariates=(),
    cluster: str = "therapist_id",
    reference_levels: dict[str, str] | None = None,
    n_agq: int = 15,
    max_seconds: float = 120.0,
) -> RandomInterceptResult:
    """Random-intercept logistic model of dropout (vs completion) with therapists as clusters: the
    ICC with its profile-likelihood interval, therapist effects, and fixed-effect odds ratios."""
    if cluster not in episodes:
        raise ValueError(f"The episodes table has no {cluster!r} column to group clients by; choose another cluster.")
    model = prepare(episodes, covariates, reference_levels, cluster=cluster)
    problem = unusable(model)
    if problem:
        return _empty(model, problem, n_agq)
    X = model.X
    codes, therapists = pd.factorize(model.groups, sort=True)
    deadline = time.monotonic() + max_seconds
    lik = _Likelihood(X.to_numpy(dtype=float), model.y, codes, int(n_agq), deadline)
    notes = list(model.warnings)
    if len(therapists) < MIN_CLUSTERS:
        notes.append(
            f"Only {len(therapists)} therapists: the between-therapist variance is estimated very imprecisely "
            f"(at least {MIN_CLUSTERS}, better 30 or more, are needed)."
        )
    start = _glm_start(X.to_numpy(dtype=float), model.y)
    try:
        beta, log_sd, ll, converged = _maximize(lik, start, np.log(0.5))
    except _OutOfTime:
        return _empty(model, f"The model took longer than {max_seconds:.0f} seconds and was stopped; "
                             "use fewer covariates or a smaller selection.", n_agq)
    sd = float(np.exp(log_sd))
    if not converged:
        notes.append("The random-intercept model did not converge; the ICC may be wrong. Use fewer covariates "
                     "or rescale large numeric covariates.")
    deadline, lik.deadline = lik.deadline, float("inf")  # the Hessian is a bounded amount of work
    se, se_log_sd = _standard_errors(lik, beta, log_sd)
    lik.deadline = deadline
    lower, upper, variance_p, method, why = _sd_interval(lik, beta, log_sd, ll, se_log_sd)
    notes += why
    if sd < 1e-3:
        notes.append(
            "The between-therapist variance is estimated at zero (a boundary estimate): dropout differs between "
            "therapists no more than chance would produce, so the ICC is 0 and every therapist effect is shrunk to 0."
        )
    mode, cond_sd = lik.conditional_modes(beta, sd)
    effects = pd.DataFrame(
        {"therapist_id": therapists, "effect": mode, "ci_lower": mode - Z95 * cond_sd, "ci_upper": mode + Z95 * cond_sd}
    )
    icc = pd.DataFrame(
        {
            "therapist_var": [sd**2],
            "icc": [_icc(sd)],
            "ci_lower": [_icc(lower)],
            "ci_upper": [_icc(upper)],
            "method": [method],
        }
    )
    return RandomInterceptResult(
        icc=icc,
        effects=effects,
        table=odds_ratio_table(X.columns, beta, se),
        sd=sd,
        log_likelihood=ll,
        variance_p=variance_p,
        n_used=len(model.y),
        n_left_out=model.design.n_left_out,
        n_unknown_outcome=model.n_unknown_outcome,
        n_clusters=len(therapists),
        events=model.events,
        n_agq=int(n_agq),
        converged=converged,
        warnings=unique(notes),
    )


def _objective(lik: _Likelihood, fixed_log_sd: float | None = None):
    """Negative log-likelihood for scipy (with its gradient when the quadrature has several nodes;
    Laplace uses finite differences), over (beta, log sd) or over beta at a fixed SD. The log SD is
    held inside [LOG_SD_MIN, LOG_SD_MAX] (flat outside), so an unconstrained optimizer can be used."""
    analytic = len(lik.nodes) > 1

    def negative(theta):
        if fixed_log_sd is None:
            beta, log_sd = theta[:-1], float(np.clip(theta[-1], LOG_SD_MIN, LOG_SD_MAX))
        else:
            beta, log_sd = theta, fixed_log_sd
        if not analytic:
            return -lik.loglik(beta, log_sd)
        value, grad = lik.loglik(beta, log_sd, gradient=True)
        if fixed_log_sd is not None:
            return -value, -grad[:-1]
        if log_sd != theta[-1]:
            grad[-1] = 0.0
        return -value, -grad

    return negative, analytic


def _maximize(lik: _Likelihood, beta0: np.ndarray, log_sd0: float) -> tuple[np.ndarray, float, float, bool]:
    """BFGS (numpy only: the bounded L-BFGS-B spends its time in multi-threaded BLAS calls on busy machines)."""
    k = len(beta0)
    negative, analytic = _objective(lik)
    result = optimize.minimize(negative, np.r_[beta0, log_sd0], jac=analytic, method="BFGS",
                               options={"maxiter": 500, "gtol": 1e-6})
    log_sd = float(np.clip(result.x[k], LOG_SD_MIN, LOG_SD_MAX))
    converged = bool(result.success) or bool(np.max(np.abs(result.jac)) < 1e-3)
    return result.x[:k], log_sd, -float(result.fun), converged


def _profile(lik: _Likelihood, beta: np.ndarray, log_sd: float) -> tuple[float, np.ndarray]:
    """max over beta of the log-likelihood at a fixed SD (warm-started at `beta`)."""
    negative, analytic = _objective(lik, fixed_log_sd=log_sd)
    result = optimize.minimize(negative, beta, jac=analytic, method="BFGS", options={"maxiter": 300, "gtol": 1e-6})
    return -float(result.fun), result.x


def _hessian(lik: _Likelihood, theta: np.ndarray, k_free: int) -> np.ndarray:
    """Hessian of the log-likelihood in the first `k_free` of (beta, log sd): central differences of
    the analytic gradient (AGHQ), or second differences of the log-likelihood (Laplace)."""
    if len(lik.nodes) == 1:
        rest = theta[k_free:]

        def value(t):
            full = np.r_[t, rest]
            return lik.loglik(full[:-1], full[-1])

        return approx_hess3(theta[:k_free], value)
    h = 1e-5 * np.maximum(1.0, np.abs(theta[:k_free]))
    rows = []
    for j in range(k_free):
        step = np.zeros_like(theta)
        step[j] = h[j]
        up = lik.loglik((theta + step)[:-1], (theta + step)[-1], gradient=True)[1]
        down = lik.loglik((theta - step)[:-1], (theta - step)[-1], gradient=True)[1]
        rows.append((up - down)[:k_free] / (2 * h[j]))
    hessian = np.array(rows)
    return (hessian + hessian.T) / 2


def _sd_interval(lik: _Likelihood, beta: np.ndarray, log_sd: float, ll: float, se_log_sd: float):
    """Profile-likelihood 95% interval for the SD, bracketed from the Wald interval on log SD, and the
    boundary likelihood-ratio p-value for SD = 0 (half a chi-square(1) tail). Falls back to the Wald
    interval on log SD when out of time."""
    notes: list[str] = []
    step = se_log_sd if np.isfinite(se_log_sd) and se_log_sd > 0 else 1.0
    try:
        ll_zero, _ = _profile(lik, beta, LOG_SD_MIN)
        drop_zero = max(0.0, 2 * (ll - ll_zero))
        variance_p = float(0.5 * stats.chi2.sf(drop_zero, 1)) if drop_zero > 0 else 1.0
        seen = {LOG_SD_MIN: drop_zero - CHI2_95}

        def excess(x):
            if x not in seen:
                seen[x] = 2 * (ll - _profile(lik, beta, x)[0]) - CHI2_95
            return seen[x]

        if drop_zero <= CHI2_95 or log_sd <= LOG_SD_MIN + 1e-6:
            lower = 0.0
        else:
            low = max(log_sd - 2.5 * step, LOG_SD_MIN)
            while low > LOG_SD_MIN and excess(low) < 0:
                low = max(low - step, LOG_SD_MIN)
            lower = float(np.exp(optimize.brentq(excess, low, log_sd, xtol=1e-4, maxiter=60)))
        start = max(log_sd, np.log(0.05))
        high = min(start + 2.5 * step, LOG_SD_MAX)
        while high < LOG_SD_MAX and excess(high) < 0:
            high = min(high + step, LOG_SD_MAX)
        if excess(high) < 0:
            upper = float("inf")
            notes.append("The upper end of the ICC interval could not be bounded: the data say little about how much therapists differ.")
        else:
            upper = float(np.exp(optimize.brentq(excess, max(log_sd, LOG_SD_MIN), high, xtol=1e-4, maxiter=60)))
        return lower, upper, variance_p, "profile likelihood for the therapist SD, transformed", notes
    except _OutOfTime:
        notes.append("The profile-likelihood interval took too long; a Wald interval on the log SD is shown instead.")
        return (float(np.exp(log_sd - Z95 * step)), float(np.exp(log_sd + Z95 * step)), float("nan"),
                "Wald interval on log SD, transformed", notes)


def _standard_errors(lik: _Likelihood, beta: np.ndarray, log_sd: float) -> tuple[np.ndarray, float]:
    """Standard errors of the fixed effects and of log SD from the observed information of the
    marginal log-likelihood (at a boundary SD, from the beta block alone; log SD's is then NaN)."""
    k = len(beta)
    boundary = log_sd <= LOG_SD_MIN + 1e-3
    try:
        cov = -np.linalg.inv(_hessian(lik, np.r_[beta, log_sd], k if boundary else k + 1))
    except np.linalg.LinAlgError:
        return np.full(k, np.nan), float("nan")
    variances = np.diag(cov)
    se_log_sd = float("nan") if boundary or variances[-1] <= 0 else float(np.sqrt(variances[-1]))
    return np.sqrt(np.clip(variances[:k], 0, None)), se_log_sd


def _glm_start(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ordinary logistic estimates (a few Newton steps) as starting values."""
    beta = np.zeros(X.shape[1])
    for _ in range(25):
        p = _expit(X @ beta)
        step = np.linalg.lstsq(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (y - p), rcond=None)[0]
        beta += np.clip(step, -5, 5)
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def _icc(sd: float) -> float:
    return float(sd**2 / (sd**2 + LATENT_VARIANCE)) if np.isfinite(sd) else 1.0


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def _empty(model, problem: str, n_agq: int) -> RandomInterceptResult:
    return RandomInterceptResult(
        icc=pd.DataFrame(columns=ICC_COLUMNS),
        effects=pd.DataFrame(columns=EFFECT_COLUMNS),
        table=pd.DataFrame(columns=TABLE_COLUMNS),
        sd=float("nan"), log_likelihood=float("nan"), variance_p=float("nan"),
        n_used=len(model.y), n_left_out=model.design.n_left_out, n_unknown_outcome=model.n_unknown_outcome,
        n_clusters=0 if model.groups is None else int(pd.unique(model.groups).size), events=model.events,
        n_agq=int(n_agq), converged=False, warnings=unique(model.warnings + [problem]),
    )

