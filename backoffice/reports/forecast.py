"""Monthly revenue forecast: Holt-Winters exponential smoothing (statsmodels), additive trend and
multiplicative yearly seasonality, with a backtest: the last months are held out, the model is fitted on
what came before, and its error on the held-out months (MAPE) is reported next to the forecast.

statsmodels estimates the starting level, trend and seasonal factors only from two full years; with
between one and two years of history (the backtest of a two-year store) they are taken from the first
year and the year-over-year change instead, and the smoothing weights are still fitted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backoffice.services.base import ServiceError

SEASON = 12


class NotEnoughHistory(ServiceError):
    pass


@dataclass
class Forecast:
    history: pd.Series          # actual monthly revenue, indexed by month start
    forecast: pd.Series         # the next ``horizon`` months
    backtest: pd.DataFrame      # month, actual, predicted for the held-out months
    mape: float | None          # mean absolute percentage error of the backtest (0.08 = 8 %)
    method: str


def _fit_forecast(y: np.ndarray, horizon: int) -> tuple[np.ndarray, str]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    n = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if n >= 2 * SEASON:
            model = ExponentialSmoothing(y, trend="add", seasonal="mul", seasonal_periods=SEASON,
                                         initialization_method="estimated")
            method = "Holt-Winters (additive trend, multiplicative yearly seasonality)"
        elif n >= SEASON + 1:
            trend = float(np.mean((y[SEASON:] - y[:n - SEASON]) / SEASON))
            level = float(np.mean(y[:SEASON])) - trend * (SEASON - 1) / 2
            base = level + trend * np.arange(SEASON)
            seasonal = y[:SEASON] / np.where(base > 0, base, 1.0)
            model = ExponentialSmoothing(y, trend="add", seasonal="mul", seasonal_periods=SEASON,
                                         initialization_method="known", initial_level=level,
                                         initial_trend=trend, initial_seasonal=seasonal)
            method = "Holt-Winters (additive trend, multiplicative yearly seasonality; starting values from year one)"
        elif n >= 4:
            model = ExponentialSmoothing(y, trend="add", initialization_method="estimated")
            method = "Holt's linear trend (less than a year of history: no seasonality)"
        else:
            raise NotEnoughHistory(f"a forecast needs at least 4 complete months of sales; there are {n}")
        fitted = model.fit()
        values = np.asarray(fitted.forecast(horizon), dtype=float)
    return np.maximum(values, 0.0), method


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
