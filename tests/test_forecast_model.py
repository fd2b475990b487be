"""The revenue forecast's Holt-Winters model (reports/forecast.py, numpy only): its forecasts agree with
statsmodels' ExponentialSmoothing, the model it replaces, on the demo store's revenue and on synthetic
series of each regime (statsmodels is a test dependency: these tests are skipped without it); and its
properties — exact on an exact series, constant on a constant one, weights within their bounds, never a
negative forecast, at least four months.

The reference fit is statsmodels' own, run to convergence: ``fit(method="least_squares")``. Its default
optimiser (L-BFGS-B) often stops early on these problems — the parameters differ in scale by 10⁴, weights
in [0, 1] and starting values in currency — so its default fit can have a sum of squared errors tens of
per cent above the minimum (and then a forecast up to a third apart, with under a year of history). So:
against the least-squares fit, the two forecasts agree within AGREEMENT; against the default fit (what
the application used before), ours is never a worse fit (its sum of squared errors is not higher).
"""

from __future__ import annotations

import datetime as dt
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.reports.forecast import (
    METHOD_ESTIMATED,
    METHOD_HOLT,
    METHOD_KNOWN,
    NotEnoughHistory,
    fit_model,
    forecast_monthly,
)

SEASON = 12
AGREEMENT = 0.01            # mean absolute percentage difference between our forecast and statsmodels'
HORIZON = 3


def _mape(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.mean(np.abs(ours - reference) / np.abs(reference)))


def _synthetic(months: int, seed: int, noise: float) -> np.ndarray:
    """Monthly revenue with a linear trend, a yearly season (its phase drawn) and multiplicative noise."""
    rs = np.random.RandomState(seed)
    t = np.arange(months)
    season = 1 + 0.35 * np.sin(2 * np.pi * (t % SEASON) / SEASON + rs.uniform(0, 2 * np.pi))
    return (50_000 + 800 * t) * season * (1 + rs.normal(0, noise, months))


# -- statsmodels as the reference -------------------------------------------------------------------------
def _statsmodels_fit(y: np.ndarray, **fit_kw):  # type: ignore[no-untyped-def]
    """statsmodels' ExponentialSmoothing set up as reports/forecast.py did before it was written with numpy."""
    holtwinters = pytest.importorskip("statsmodels.tsa.holtwinters")
    n = len(y)
    if n >= 2 * SEASON:
        model = holtwinters.ExponentialSmoothing(y, trend="add", seasonal="mul", seasonal_periods=SEASON,
                                                 initialization_method="estimated")
    elif n >= SEASON + 1:
        trend = float(np.mean((y[SEASON:] - y[:n - SEASON]) / SEASON))
        level = float(np.mean(y[:SEASON])) - trend * (SEASON - 1) / 2
        base = level + trend * np.arange(SEASON)
        seasonal = y[:SEASON] / np.where(base > 0, base, 1.0)
        model = holtwinters.ExponentialSmoothing(y, trend="add", seasonal="mul", seasonal_periods=SEASON,
                                                 initialization_method="known", initial_level=level,
                                                 initial_trend=trend, initial_seasonal=seasonal)
    else:
        model = holtwinters.ExponentialSmoothing(y, trend="add", initialization_method="estimated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(**fit_kw)


def _assert_agrees_with_statsmodels(y: np.ndarray) -> float:
    ours = fit_model(y)
    forecast = np.maximum(ours.forecast(HORIZON), 0.0)
    converged = _statsmodels_fit(y, method="least_squares")
    reference = np.maximum(np.asarray(converged.forecast(HORIZON), dtype=float), 0.0)
    difference = _mape(forecast, reference)
    assert difference <= AGREEMENT, (len(y), forecast, reference)
    default = _statsmodels_fit(y)
    assert ours.sse <= default.sse * (1 + 1e-6), (len(y), ours.sse, default.sse)
    assert ours.sse <= converged.sse * (1 + 1e-3), (len(y), ours.sse, converged.sse)
    return difference


SYNTHETIC = [(months, seed, noise) for months in (36, 30, 24, 23, 18, 13, 12, 10, 8, 6, 4)
             for seed in (0, 1, 2) for noise in (0.02, 0.08)]


@pytest.mark.parametrize(("months", "seed", "noise"), SYNTHETIC)
def test_synthetic_series_agree_with_statsmodels(months: int, seed: int, noise: float) -> None:
    _assert_agrees_with_statsmodels(_synthetic(months, seed, noise))


def test_the_demo_stores_revenue_agrees_with_statsmodels(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    """Two years of the demo store's monthly revenue (and the 21 months of its backtest)."""
    from backoffice.reports.builtin import BUILTIN
    from backoffice.reports.runner import run
    from backoffice.services.demo import generate_demo
    from backoffice.services.users import ensure_user

    pytest.importorskip("statsmodels.tsa.holtwinters")
    actor = ensure_user(sqlite_db, "tester")
    generate_demo(sqlite_db, actor, products=200, anchor=dt.date(2026, 6, 30), photo_workers=0)
    result = run(sqlite_db, BUILTIN["revenue-forecast"], today=dt.date(2026, 7, 1))
    history = result.forecast.history
    assert len(history) >= 2 * SEASON and (history > 0).all()
    y = history.to_numpy()
    _assert_agrees_with_statsmodels(y)
    _assert_agrees_with_statsmodels(y[:-3])


# -- properties -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("months", [24, 30, 36])
def test_an_exactly_seasonal_series_with_a_linear_trend_is_forecast_exactly(months: int) -> None:
    t = np.arange(months + HORIZON)
    factors = np.array([0.8, 0.7, 0.9, 1.0, 1.1, 1.05, 0.95, 0.9, 1.0, 1.15, 1.3, 1.25])
    series = (20_000 + 450 * t) * factors[t % SEASON]
    fc = forecast_monthly(pd.Series(series[:months], index=pd.date_range("2022-01-01", periods=months, freq="MS")))
    assert fc.method == METHOD_ESTIMATED
    assert np.allclose(fc.forecast.to_numpy(), series[months:], rtol=1e-4)


@pytest.mark.parametrize("months", [5, 8, 12])
def test_a_linear_series_is_forecast_exactly_by_holts_trend(months: int) -> None:
    t = np.arange(months + HORIZON)
    series = 1_000 + 75.0 * t
    model = fit_model(series[:months])
    assert model.method == METHOD_HOLT
    assert np.allclose(model.forecast(HORIZON), series[months:], rtol=1e-6)


@pytest.mark.parametrize("months", [4, 7, 12, 13, 18, 23, 24, 36])
def test_a_constant_series_forecasts_the_constant(months: int) -> None:
    history = pd.Series(np.full(months, 1234.5), index=pd.date_range("2024-01-01", periods=months, freq="MS"))
    fc = forecast_monthly(history)
    assert np.allclose(fc.forecast.to_numpy(), 1234.5, rtol=1e-6)
    if fc.mape is not None:
        assert fc.mape < 1e-6


@pytest.mark.parametrize(("months", "method"), [(4, METHOD_HOLT), (12, METHOD_HOLT), (13, METHOD_KNOWN),
                                                (23, METHOD_KNOWN), (24, METHOD_ESTIMATED), (36, METHOD_ESTIMATED)])
def test_each_regime_by_the_length_of_the_history(months: int, method: str) -> None:
    fc = forecast_monthly(pd.Series(_synthetic(months, 5, 0.05),
                                    index=pd.date_range("2024-01-01", periods=months, freq="MS")))
    assert fc.method == method
    assert len(fc.forecast) == HORIZON
    assert (len(fc.backtest) == 3) == (months - 3 >= 4)


def test_three_months_are_not_enough() -> None:
    history = pd.Series([10.0, 20.0, 30.0], index=pd.date_range("2024-01-01", periods=3, freq="MS"))
    with pytest.raises(NotEnoughHistory, match="at least 4 complete months"):
        forecast_monthly(history)
    with pytest.raises(NotEnoughHistory):
        fit_model(np.array([10.0, 20.0, 30.0]))


def test_a_collapsing_series_is_never_forecast_below_zero() -> None:
    y = np.array([900.0, 700, 520, 310, 150, 60, 10])
    assert np.any(fit_model(y).forecast(HORIZON) < 0)          # the trend goes through zero …
    fc = forecast_monthly(pd.Series(y, index=pd.date_range("2024-01-01", periods=len(y), freq="MS")))
    assert (fc.forecast.to_numpy() == 0).any() and (fc.forecast.to_numpy() >= 0).all()   # … the forecast not


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=1e7)), min_size=4, max_size=40))
def test_weights_stay_in_bounds_and_forecasts_are_finite_and_not_negative(values: list[float]) -> None:
    y = np.array(values)
    model = fit_model(y)
    assert 0 <= model.alpha <= 1 and 0 <= model.beta <= model.alpha
    if model.gamma is not None:
        assert 0 <= model.gamma <= 1 - model.alpha
    fc = forecast_monthly(pd.Series(y, index=pd.date_range("2020-01-01", periods=len(y), freq="MS")))
    assert np.all(np.isfinite(fc.forecast.to_numpy())) and (fc.forecast.to_numpy() >= 0).all()
    assert np.all(np.isfinite(fc.backtest["predicted"].to_numpy(dtype=float)))


def test_a_fit_of_three_years_is_quick() -> None:
    y = _synthetic(36, 3, 0.05)
    fit_model(y)                                                  # warm
    started = time.perf_counter()
    for seed in range(5):
        fit_model(_synthetic(36, seed, 0.05))
    per_fit = (time.perf_counter() - started) / 5
    assert per_fit < 0.15, f"{per_fit * 1000:.0f} ms per fit"     # about 20 ms here; slack for busy CI machines
