"""Metrics on numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from edgeage.training.metrics import age_metrics, mean_baseline_mae


def test_age_metrics_known_numbers() -> None:
    y_true = [10, 16, 17, 20, 30, 40, 60]
    y_pred = [12, 26, 16, 20, 24, 47, 60]
    m = age_metrics(y_true, y_pred)
    errors = [2, 10, 1, 0, 6, 7, 0]
    assert m["n"] == 7
    assert m["mae"] == pytest.approx(sum(errors) / 7)
    assert m["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 7))
    assert m["cs5"] == pytest.approx(4 / 7)  # |error| <= 5: 2, 1, 0, 0
    bands = m["mae_by_band"]
    assert bands["0-12"] == {"n": 1, "mae": 2.0}
    assert bands["13-17"] == {"n": 2, "mae": pytest.approx(5.5)}
    assert bands["18-24"] == {"n": 1, "mae": 0.0}
    assert bands["25-34"] == {"n": 1, "mae": 6.0}
    assert bands["35-49"] == {"n": 1, "mae": 7.0}
    assert bands["50+"] == {"n": 1, "mae": 0.0}
    # Under-18s (10, 16, 17) estimated 12, 26, 16: one of three would not be challenged.
    assert m["n_under18"] == 3
    assert m["under18_estimated_25_plus"] == pytest.approx(1 / 3)
    # 25+ (30, 40, 60) estimated 24, 47, 60: one of three challenged needlessly.
    assert m["n_25_plus"] == 3
    assert m["over25_estimated_under_25"] == pytest.approx(1 / 3)


def test_empty_groups_are_none_not_zero() -> None:
    m = age_metrics([40, 50], [41, 49])
    assert m["under18_estimated_25_plus"] is None and m["n_under18"] == 0
    assert m["mae_by_band"]["0-12"] == {"n": 0, "mae": None}
    with pytest.raises(ValueError):
        age_metrics([1, 2], [1])


def test_mean_baseline() -> None:
    assert mean_baseline_mae([10, 30], [20, 40]) == pytest.approx(10.0)
