"""Natural cubic splines for a numeric covariate, as R's `splines::ns()`, so a model can let a
characteristic (age, first alliance score) act nonlinearly and the terms equal R's.

`ns(x, df)` places df - 1 interior knots at the quantiles of x (R's `quantile`, type 7) and the
boundary knots at its range; the basis is the cubic B-spline basis without its first column,
rotated by the Householder QR of the second-derivative constraints at the boundary knots and
cut to the columns the constraints leave free (R's code, which makes the spline linear beyond
the boundary knots). A Householder reflection that maps a column to a given multiple of e1 is
unique, so numpy's LAPACK QR gives R's LINPACK Q. (patsy's `cr()` is a different, natural
cubic regression spline basis: its coefficients do not equal R's `ns()`.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.interpolate import BSpline

ORDER = 4  # cubic


@dataclass(frozen=True)
class NaturalSpline:
    """The knots of one `ns()` basis, kept so a model's partial effect is drawn on the same basis."""

    interior: tuple[float, ...]
    boundary: tuple[float, float]
    median: float  # where the partial effect is 0 (ratio 1)

    @classmethod
    def from_data(cls, x: np.ndarray, df: int) -> NaturalSpline:
        x = np.asarray(x, dtype=float)
        x = x[np.isfinite(x)]
        if df < 1:
            raise ValueError(f"A natural spline needs at least 1 degree of freedom, not {df}.")
        if len(np.unique(x)) < df + 1:
            raise ValueError(f"A natural spline with {df} degrees of freedom needs more than {df} distinct values.")
        probs = np.linspace(0, 1, df + 1)[1:-1]
        return cls(tuple(float(q) for q in np.quantile(x, probs)), (float(x.min()), float(x.max())),
                   float(np.median(x)))

    @property
    def df(self) -> int:
        return len(self.interior) + 1

    def _knots(self) -> np.ndarray:
        return np.sort(np.r_[[self.boundary[0]] * ORDER, self.interior, [self.boundary[1]] * ORDER])

    def basis(self, x: np.ndarray) -> np.ndarray:
        """The n x df basis at `x` (inside the boundary knots)."""
        x = np.asarray(x, dtype=float)
        low, high = self.boundary
        if np.any((x < low) | (x > high)):
            raise ValueError(f"Values outside the range {low:g} to {high:g} the spline was built on.")
        t = self._knots()
        full = BSpline.design_matrix(x, t, ORDER - 1).toarray()[:, 1:]
        return full @ self._free_directions()

    def _free_directions(self) -> np.ndarray:
        """Columns 3.. of Q from the QR of the boundary second-derivative constraints (R: the
        rows qr.qty keeps), as a (B-spline columns) x df matrix."""
        t = self._knots()
        n = len(t) - ORDER
        const = np.empty((2, n))
        for j in range(n):
            second = BSpline(t, np.eye(n)[j], ORDER - 1, extrapolate=True).derivative(2)
            const[:, j] = second(np.array(self.boundary))
        q, _ = np.linalg.qr(const[:, 1:].T, mode="complete")
        return q[:, 2:]

    def term_names(self, name: str) -> list[str]:
        return [f"{name}[ns{j}]" for j in range(1, self.df + 1)]


EFFECT_COLUMNS = ["value", "log_ratio", "ratio", "ci_lower", "ci_upper"]


def partial_effect(spline: NaturalSpline, coef: np.ndarray, covariance: np.ndarray, values=None,
                   points: int = 50) -> pd.DataFrame:
    """The covariate's effect on the model's log scale (log hazard or log odds ratio) at `values`
    (default: `points` values across its range), against its median, with Wald 95% intervals from
    the spline terms' covariance (R: termplot-style contrasts of `predict(ns(...), x)`)."""
    grid = np.linspace(*spline.boundary, points) if values is None else np.asarray(values, dtype=float)
    contrast = spline.basis(grid) - spline.basis(np.array([spline.median]))
    estimate = contrast @ coef
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", contrast, covariance, contrast), 0, None))
    z = stats.norm.ppf(0.975)
    return pd.DataFrame({"value": grid, "log_ratio": estimate, "ratio": np.exp(estimate),
                         "ci_lower": np.exp(estimate - z * se), "ci_upper": np.exp(estimate + z * se)},
                        columns=EFFECT_COLUMNS)


def spline_effects(splines: dict, terms: list[str], coef: np.ndarray, covariance: np.ndarray) -> dict:
    """Each spline covariate's partial effect (when all its terms could be estimated)."""
    out = {}
    for name, spline in splines.items():
        wanted = spline.term_names(name)
        if all(t in terms for t in wanted):
            idx = [terms.index(t) for t in wanted]
            out[name] = partial_effect(spline, np.asarray(coef)[idx], np.asarray(covariance)[np.ix_(idx, idx)])
    return out


def spline_sentence(name: str, df: int, scale: str) -> str:
    """Spline terms have no meaning one by one: the reader is sent to the partial-effect plot."""
    return (f"{name.replace('_', ' ').capitalize()} enters as a natural spline ({df} degrees of freedom), so its association "
            f"with the dropout {scale} may bend; read it from its partial-effect plot, not from single terms.")
