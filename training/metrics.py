"""Age metrics in plain numpy, so every model format (Keras, TFLite, ONNX) is judged by the
same arithmetic and the till's numbers can be compared with training's."""

from __future__ import annotations

from typing import Any

import numpy as np

# Bands the business reads the model's errors in: children, teenagers (the legal line at 18),
# young adults (the Challenge-25 zone), then wider adult bands.
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-12", 0, 13),
    ("13-17", 13, 18),
    ("18-24", 18, 25),
    ("25-34", 25, 35),
    ("35-49", 35, 50),
    ("50+", 50, float("inf")),
)
LEGAL_AGE = 18
CHALLENGE_AGE = 25


def _rate(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def age_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """MAE, RMSE, CS@5, MAE per age band and the two Challenge-25 error rates.

    ``under18_estimated_25_plus`` is the share of under-18s the till would *not* challenge
    (an illegal sale); ``over25_estimated_under_25`` is the share of people 25 or older who
    are challenged needlessly. Rates and band MAEs are ``None`` when nobody is in the group.
    """
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values, y_pred {p.size}")
    if t.size == 0:
        raise ValueError("no samples to score")
    err = p - t
    abs_err = np.abs(err)
    bands = {}
    for name, lo, hi in AGE_BANDS:
        sel = (t >= lo) & (t < hi)
        n = int(sel.sum())
        bands[name] = {"n": n, "mae": float(abs_err[sel].mean()) if n else None}
    under18 = t < LEGAL_AGE
    over25 = t >= CHALLENGE_AGE
    return {
        "n": int(t.size),
        "mae": float(abs_err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "cs5": float(np.mean(abs_err <= 5.0)),
        "mean_error": float(err.mean()),
        "mae_by_band": bands,
        "n_under18": int(under18.sum()),
        "under18_estimated_25_plus": _rate(p[under18] >= CHALLENGE_AGE),
        "n_25_plus": int(over25.sum()),
        "over25_estimated_under_25": _rate(p[over25] < CHALLENGE_AGE),
    }


def mean_baseline_mae(train_ages: Any, val_ages: Any) -> float:
    """MAE of always answering the training mean: the bar any model must clear."""
    mean = float(np.mean(np.asarray(train_ages, dtype=np.float64)))
    return float(np.mean(np.abs(np.asarray(val_ages, dtype=np.float64) - mean)))
