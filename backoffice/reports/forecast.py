"""Monthly revenue forecast: Holt-Winters exponential smoothing, additive trend and multiplicative yearly
seasonality, with a backtest: the last months are held out, the model is fitted on what came before, and
its error on the held-out months (MAPE) is reported next to the forecast.

Three regimes, by the length of the history:

* two years or more: Holt-Winters whose starting level, trend and twelve seasonal factors are estimated
  together with the smoothing weights;
* 13 to 23 months (the backtest of a two-year store, for one): the starting values are taken from the
  first year and the year-over-year change, and only the smoothing weights are fitted;
* 4 to 12 months: Holt's linear trend (no seasonality), starting level and trend estimated.

The model is written here with numpy alone. It follows statsmodels' ``ExponentialSmoothing``
(``trend="add", seasonal="mul"``), which this module used before and which the tests still compare it
with: the same recursions (with ŷ_t = (l_{t-1} + b_{t-1}) · s_{t-12}),

    l_t = α · y_t / s_{t-12} + (1 - α) · (l_{t-1} + b_{t-1})
    b_t = β · (l_t - l_{t-1}) + (1 - β) · b_{t-1}
    s_t = γ · y_t / (l_{t-1} + b_{t-1}) + (1 - γ) · s_{t-12}

(Holt's linear trend: the same without s), the same constraints (0 < α < 1, 0 ≤ β ≤ α, 0 ≤ γ ≤ 1 - α),
the same starting values (statsmodels' "heuristic" ones: a centred 2×12 moving average gives the
seasonal factors, a line through its first ten values the level and trend; Holt's linear: a line through
the first ten months, or the first two months when there are fewer than ten), and the same objective,
the sum of squared one-step-ahead errors. The fit runs in two stages, as statsmodels': a grid of
(α, β, γ) points (statsmodels' own grid: about 10,000 with a season) evaluated at once as numpy arrays,
then, from the best point, a Levenberg-Marquardt descent on the one-step errors over the weights and —
when the starting values are estimated — the starting values too, with the Jacobian from finite
differences (every perturbed parameter set runs through the recursions in the same vectorised pass)
and the bounds kept by projection. A fit of three years takes about 20 ms.

The descent goes on to the minimum, where statsmodels' default optimiser (L-BFGS-B, on parameters
whose scales differ by 10⁴) often stops short of it: the fits here are never worse than statsmodels'
default ones and sometimes better (a lower sum of squared errors), and their forecasts agree with
statsmodels' converged fit (``fit(method="least_squares")``) within 1 % — tests/test_forecast_model.py.

Why not statsmodels: the desktop bundle has a size budget of 250 MB (docs/install.md), and statsmodels'
Holt-Winters imports SciPy whole (optimize, linalg, sparse, stats, … and SciPy's own OpenBLAS): SciPy,
statsmodels and patsy were about 80 MB of it, for this one model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backoffice.services.base import ServiceError

SEASON = 12

METHOD_ESTIMATED = "Holt-Winters (additive trend, multiplicative yearly seasonality)"
METHOD_KNOWN = "Holt-Winters (additive trend, multiplicative yearly seasonality; starting values from year one)"
METHOD_HOLT = "Holt's linear trend (less than a year of history: no seasonality)"

_EPS = math.sqrt(np.finfo(float).eps)   # α stays in [ε, 1 - ε] (statsmodels' bound)
_GRID_POINTS = 87                       # statsmodels' grid: 87 // (weights fitted) values of α


class NotEnoughHistory(ServiceError):
    pass


@dataclass
class Forecast:
    history: pd.Series          # actual monthly revenue, indexed by month start
    forecast: pd.Series         # the next ``horizon`` months
    backtest: pd.DataFrame      # month, actual, predicted for the held-out months
    mape: float | None          # mean absolute percentage error of the backtest (0.08 = 8 %)
    method: str


@dataclass(frozen=True)
class FittedModel:
    """A fitted model: its smoothing weights, its starting values (before the first month) and the sum of
    squared one-step errors. ``gamma`` and ``seasonal`` are None for Holt's linear trend."""

    method: str
    alpha: float
    beta: float
    gamma: float | None
    level: float
    trend: float
    seasonal: np.ndarray | None
    sse: float
    y: np.ndarray

    def forecast(self, horizon: int) -> np.ndarray:
        """The next ``horizon`` months (not clipped)."""
        gamma = np.array([self.gamma if self.gamma is not None else 0.0])
        season = None if self.seasonal is None else self.seasonal[None, :]
        _, level, trend, season = _smooth(self.y, np.array([self.alpha]), np.array([self.beta]), gamma,
                                          np.array([self.level]), np.array([self.trend]), season)
        steps = np.arange(1, horizon + 1)
        values = level[0] + steps * trend[0]
        if season is not None:
            n = len(self.y)
            values = values * season[0, (n + steps - 1) % SEASON]
        return values


# -- the recursions, for K parameter sets at once ---------------------------------------------------------
def _smooth(y: np.ndarray, alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray, level: np.ndarray,
            trend: np.ndarray, season: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                  np.ndarray | None]:
    """Run the recursions over ``y`` for K parameter sets (arrays of K values; ``season`` K × 12, or None
    for Holt's linear trend). Returns the one-step errors (K × n) and the final level, trend and seasonal
    factors (the season as a ring: month t's factor is at t % 12)."""
    n, k = len(y), len(alpha)
    errors = np.empty((n, k))                      # rows: months (contiguous per step)
    level = np.array(level, dtype=float)
    trend = np.array(trend, dtype=float)
    ring = None if season is None else np.array(np.asarray(season, dtype=float).T)   # 12 × K
    alphac, betac, gammac = 1.0 - alpha, 1.0 - beta, 1.0 - gamma
    base = np.empty(k)
    new_level = np.empty(k)
    tmp = np.empty(k)
    with np.errstate(all="ignore"):
        for t in range(n):
            yt = y[t]
            np.add(level, trend, out=base)
            if ring is None:
                np.subtract(yt, base, out=errors[t])
                np.multiply(alpha, yt, out=new_level)
            else:
                s = ring[t % SEASON]
                np.multiply(base, s, out=tmp)
                np.subtract(yt, tmp, out=errors[t])
                np.divide(yt, s, out=new_level)
                new_level *= alpha
                np.multiply(gammac, s, out=tmp)            # s_t = γ y_t / (l + b) + (1 - γ) s_{t-12}
                np.divide(yt, base, out=s)
                s *= gamma
                s += tmp
            np.multiply(alphac, base, out=tmp)
            new_level += tmp                                # l_t = α y_t / s_{t-12} + (1 - α)(l + b)
            np.subtract(new_level, level, out=tmp)          # b_t = β (l_t - l_{t-1}) + (1 - β) b_{t-1}
            tmp *= beta
            trend *= betac
            trend += tmp
            level, new_level = new_level, level
    return errors.T, level, trend, None if ring is None else ring.T


def _sse(errors: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        total = np.einsum("kn,kn->k", errors, errors)
    return np.where(np.isfinite(total), total, np.inf)


# -- the problem: which parameters are fitted, their bounds, and the map to the recursions' inputs -------
class _Problem:
    """Parameters as statsmodels optimises them: (a, b, g) in [0, 1]³ standing for α = ε + a(1 - 2ε),
    β = b·α, γ = g·(1 - α) — a box that keeps β ≤ α and γ ≤ 1 - α — then, when estimated, the starting
    level, trend and seasonal factors."""

    def __init__(self, y: np.ndarray, *, seasonal: bool, estimate_start: bool, level: float, trend: float,
                 season: np.ndarray | None) -> None:
        self.y = y
        self.seasonal = seasonal
        self.estimate_start = estimate_start
        self.level, self.trend, self.season = level, trend, season
        weights = 3 if seasonal else 2
        self.weights = weights
        lo = [0.0] * weights
        hi = [1.0] * weights
        if estimate_start:
            # statsmodels' bounds: with a multiplicative season the level and the factors are not negative.
            lo += [0.0 if seasonal else -np.inf, -np.inf] + ([0.0] * SEASON if seasonal else [])
            hi += [np.inf, np.inf] + ([np.inf] * SEASON if seasonal else [])
        self.lo, self.hi = np.array(lo), np.array(hi)

    def start_vector(self) -> np.ndarray:
        return np.array([self.level, self.trend, *(self.season if self.seasonal else [])], dtype=float)

    def weights_of(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        alpha = _EPS + u[:, 0] * (1.0 - 2.0 * _EPS)
        beta = u[:, 1] * alpha
        gamma = u[:, 2] * (1.0 - alpha) if self.seasonal else np.zeros_like(alpha)
        return alpha, beta, gamma

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """K × p parameter vectors → α, β, γ, level, trend, season (K values each, season K × 12)."""
        alpha, beta, gamma = self.weights_of(x[:, : self.weights])
        k = len(x)
        if self.estimate_start:
            start = x[:, self.weights:]
            level, trend = start[:, 0], start[:, 1]
            season = start[:, 2:] if self.seasonal else None
        else:
            level, trend = np.full(k, self.level), np.full(k, self.trend)
            season = np.broadcast_to(self.season, (k, SEASON)) if self.seasonal else None
        return alpha, beta, gamma, level, trend, season

    def errors(self, x: np.ndarray) -> np.ndarray:
        alpha, beta, gamma, level, trend, season = self.unpack(x)
        return _smooth(self.y, alpha, beta, gamma, level, trend, season)[0]


def _grid(seasonal: bool) -> np.ndarray:
    """statsmodels' starting grid of (α, β, γ) (``_setup_brute``): α from 0.005 to 0.995, β from 0 to α
    and γ from 0 to 1 - α, with more β and γ values where their range is wider."""
    ns = _GRID_POINTS // (3 if seasonal else 2)
    blocks = []
    for a in np.linspace(0.005, 0.995, ns):
        b = np.linspace(0.0, a, math.ceil(ns * math.sqrt(a)))
        if seasonal:
            g = np.linspace(0.0, 1.0 - a, math.ceil(ns * math.sqrt(1.0 - a)))
            bb, gg = np.meshgrid(b, g)
            blocks.append(np.column_stack([np.full(bb.size, a), bb.ravel(), gg.ravel()]))
        else:
            blocks.append(np.column_stack([np.full(len(b), a), b, np.zeros(len(b))]))
    return np.vstack(blocks)


def _to_box(alpha: float, beta: float, gamma: float, seasonal: bool) -> list[float]:
    """(α, β, γ) → the box coordinates, kept strictly inside [0, 1] as statsmodels does before its descent."""
    alpha, beta, gamma = (min(max(v, 1e-4), 1 - 1e-4) for v in (alpha, beta, gamma))
    u = [(alpha - _EPS) / (1 - 2 * _EPS), min(beta / alpha, 1.0)]
    if seasonal:
        u.append(min(gamma / (1 - alpha), 1.0))
    return u


def _descend(problem: _Problem, x: np.ndarray, *, max_iter: int = 200) -> tuple[np.ndarray, float]:
    """Levenberg-Marquardt on the one-step errors, bounds kept by projection: a parameter at a bound whose
    gradient points outwards is held for that step. Each iteration runs the recursions twice, vectorised:
    once for the Jacobian (forward differences, one perturbed copy per parameter) and once for trial steps
    at five damping factors, of which the best is taken if it lowers the SSE. Stops when two steps in a
    row gain less than 10⁻¹⁰ of the SSE, or no step gains anything."""
    lo, hi = problem.lo, problem.hi
    p = len(x)
    r = problem.errors(x[None])[0]
    f = float(_sse(r[None])[0])
    if not np.isfinite(f):
        return x, f
    lam = 1e-3
    quiet = 0
    for _ in range(max_iter):
        h = 1e-7 * np.maximum(np.abs(x), 1.0)      # y is scaled to a mean of 1: every parameter is of order 1
        h = np.where(x + h > hi, -h, h)
        perturbed = x + np.diag(h)
        jt = (problem.errors(perturbed) - r) / h[:, None]          # p × n: the Jacobian, transposed
        jt = np.where(np.isfinite(jt), jt, 0.0)
        g = jt @ r
        a = jt @ jt.T
        free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        if not free.any():
            break
        af, gf = a[np.ix_(free, free)], g[free]
        d = np.diag(af).copy()
        d[d <= 0] = 1e-12
        damping = lam * np.array([0.0, 0.1, 1.0, 10.0, 100.0])
        trials = np.empty((len(damping), p))
        for i, mu in enumerate(damping):
            step = np.zeros(p)
            try:
                step[free] = np.linalg.solve(af + (mu + 1e-12) * np.diag(d), -gf)
            except np.linalg.LinAlgError:
                step[free] = np.linalg.lstsq(af + (mu + 1e-12) * np.diag(d), -gf, rcond=None)[0]
            trials[i] = np.clip(x + step, lo, hi)
        trial_errors = problem.errors(trials)
        values = _sse(trial_errors)
        best = int(np.argmin(values))
        if values[best] < f:
            gain = f - values[best]
            x, r, f = trials[best], trial_errors[best], float(values[best])
            lam = max(damping[best], 1e-3) / 3.0 if best else lam / 10.0
            quiet = quiet + 1 if gain <= 1e-10 * f else 0
            if quiet >= 2:
                break
        else:
            lam *= 1000.0
            if lam > 1e12:
                break
    return x, f


def _fit(y: np.ndarray, *, seasonal: bool, estimate_start: bool, level: float, trend: float,
         season: np.ndarray | None, method: str, scale: float) -> FittedModel:
    problem = _Problem(y, seasonal=seasonal, estimate_start=estimate_start, level=level, trend=trend,
                       season=season)
    # Stage 1: the (α, β, γ) grid with the starting values as given.
    grid = _grid(seasonal)
    k = len(grid)
    start_season = None if not seasonal else np.broadcast_to(season, (k, SEASON))
    values = _sse(_smooth(y, grid[:, 0], grid[:, 1], grid[:, 2], np.full(k, level), np.full(k, trend),
                          start_season)[0])
    alpha, beta, gamma = grid[int(np.argmin(values))]
    x = np.array(_to_box(alpha, beta, gamma, seasonal) + (list(problem.start_vector()) if estimate_start else []))
    # Stage 2: descent from there.
    x, sse = _descend(problem, x)
    alpha_, beta_, gamma_, level_, trend_, season_ = problem.unpack(x[None])
    return FittedModel(
        method=method, alpha=float(alpha_[0]), beta=float(beta_[0]),
        gamma=float(gamma_[0]) if seasonal else None,
        level=float(level_[0]) * scale, trend=float(trend_[0]) * scale,
        seasonal=None if season_ is None else np.array(season_[0], dtype=float),
        sse=float(sse) * scale * scale, y=y * scale)


# -- starting values --------------------------------------------------------------------------------------
def _line_through_first_ten(values: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of the least-squares line through the first ten values at x = 1 … 10 (the
    intercept is the value one step before the first)."""
    x = np.column_stack([np.ones(10), np.arange(1, 11)])
    intercept, slope = np.linalg.lstsq(x, values[:10], rcond=None)[0]
    return float(intercept), float(slope)


def _heuristic_start(y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """statsmodels' "heuristic" starting values of a multiplicative season (Hyndman et al., 2008, §2.6.1):
    a centred 2×12 moving average over up to five years, the seasonal factors as the mean ratio to it per
    month (normalised to a mean of 1), the level and trend from a line through its first ten values."""
    n = len(y)
    cycles = max(min(5, n // SEASON), math.ceil((10 + 2 * (SEASON // 2)) / SEASON))
    data = y[: SEASON * cycles]
    ma = np.convolve(data, np.ones(SEASON) / SEASON, mode="valid")         # mean of data[j : j + 12]
    centred = np.full(len(data), np.nan)
    half = SEASON // 2
    centred[half: half + len(ma) - 1] = (ma[:-1] + ma[1:]) / 2.0            # 2×12: centred on j + 6
    with np.errstate(all="ignore"):
        ratio = data / centred
    ratio[~np.isfinite(ratio)] = np.nan            # no average (no sales for a year): no ratio
    padded = np.full(cycles * SEASON, np.nan)
    padded[: len(ratio)] = ratio
    by_month = padded.reshape(cycles, SEASON)
    counts = np.sum(~np.isnan(by_month), axis=0)
    seasonal = np.where(counts > 0, np.nansum(by_month, axis=0) / np.maximum(counts, 1), 1.0)
    mean = float(np.mean(seasonal))
    seasonal = seasonal / mean if np.isfinite(mean) and mean > 0 else np.ones(SEASON)
    level, trend = _line_through_first_ten(centred[~np.isnan(centred)])
    return level, trend, seasonal


def _year_one_start(y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Starting values when there is less than two years: the trend from the year-over-year change, the
    level from the first year's mean, the seasonal factors as the first year's ratio to that line."""
    n = len(y)
    trend = float(np.mean((y[SEASON:] - y[: n - SEASON]) / SEASON))
    level = float(np.mean(y[:SEASON])) - trend * (SEASON - 1) / 2
    base = level + trend * np.arange(SEASON)
    seasonal = y[:SEASON] / np.where(base > 0, base, 1.0)
    return level, trend, seasonal


def fit_model(y: np.ndarray) -> FittedModel:
    """Fit the model the length of ``y`` calls for (see the module's docstring); NotEnoughHistory under
    four months."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 4:
        raise NotEnoughHistory(f"a forecast needs at least 4 complete months of sales; there are {n}")
    # Fitted on y / its mean (the model is scale-free: the errors, level and trend scale with y).
    scale = float(np.mean(np.abs(y)))
    if not np.isfinite(scale) or scale == 0.0:
        scale = 1.0
    ys = y / scale
    if n >= 2 * SEASON:
        level, trend, season = _heuristic_start(ys)
        return _fit(ys, seasonal=True, estimate_start=True, level=level, trend=trend, season=season,
                    method=METHOD_ESTIMATED, scale=scale)
    if n >= SEASON + 1:
        level, trend, season = _year_one_start(ys)
        return _fit(ys, seasonal=True, estimate_start=False, level=level, trend=trend, season=season,
                    method=METHOD_KNOWN, scale=scale)
    if n >= 10:
        level, trend = _line_through_first_ten(ys)
    else:
        level, trend = float(ys[0]), float(ys[1] - ys[0])
    return _fit(ys, seasonal=False, estimate_start=True, level=level, trend=trend, season=None,
                method=METHOD_HOLT, scale=scale)


def _fit_forecast(y: np.ndarray, horizon: int) -> tuple[np.ndarray, str]:
    model = fit_model(y)
    values = model.forecast(horizon)
    if not np.all(np.isfinite(values)):
        # No finite fit (a degenerate series): the mean of the last year, flat.
        values = np.full(horizon, float(np.mean(y[-SEASON:])))
    return np.maximum(values, 0.0), model.method


def forecast_monthly(history: pd.Series, *, horizon: int = 3, holdout: int = 3) -> Forecast:
    """Forecast ``horizon`` months after ``history`` (monthly totals, month-start index, no gaps)."""
    history = history.astype(float)
    y = history.to_numpy()
    values, method = _fit_forecast(y, horizon)
    start = history.index[-1] + pd.DateOffset(months=1)
    future = pd.Series(values, index=pd.date_range(start, periods=horizon, freq="MS"))
    backtest = pd.DataFrame(columns=["month", "actual", "predicted"])
    mape = None
    if len(y) - holdout >= 4:
        predicted, _ = _fit_forecast(y[:-holdout], holdout)
        actual = y[-holdout:]
        backtest = pd.DataFrame({"month": history.index[-holdout:], "actual": actual, "predicted": predicted})
        nonzero = actual != 0
        if nonzero.any():
            mape = float(np.mean(np.abs(predicted[nonzero] - actual[nonzero]) / np.abs(actual[nonzero])))
    return Forecast(history, future, backtest, mape, method)
