"""Fusing a customer's age samples into one estimate with an interval.

One estimate per frame is noise: pose, blur and expression move a single prediction by
years. Each sample is weighted by how much the model can see (face size) and how sure the
detector is (score); samples far from the weighted median are down-weighted (Huber), and
the interval combines the samples' spread with the model's single-shot error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SINGLE_SHOT_ERROR_Y = 4.0  # typical error of one prediction; shrinks with more samples
HUBER_K = 1.5


@dataclass(frozen=True, slots=True)
class AgeSample:
    age: float
    weight: float
    ts: float


@dataclass(frozen=True, slots=True)
class AgeEstimate:
    age: float
    low: float
    high: float
    samples: int


def sample_weight(face_px: float, score: float) -> float:
    """Larger and surer faces count more; a face beyond ~200 px adds little more detail."""
    return max(min(face_px, 200.0) / 200.0, 0.05) * max(score, 0.05)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, cum[-1] / 2.0)])


def fuse(samples: list[AgeSample]) -> AgeEstimate:
    if not samples:
        raise ValueError("nothing to fuse")
    ages = np.array([s.age for s in samples], dtype=np.float64)
    weights = np.array([s.weight for s in samples], dtype=np.float64)
    centre = _weighted_median(ages, weights)
    mad = float(np.median(np.abs(ages - centre))) * 1.4826
    scale = max(mad, 1.0)
    resid = np.abs(ages - centre) / scale
    robust = weights * np.where(resid <= HUBER_K, 1.0, HUBER_K / np.maximum(resid, 1e-9))
    age = float(np.sum(robust * ages) / np.sum(robust))
    spread = math.sqrt(float(np.sum(robust * (ages - age) ** 2) / np.sum(robust)))
    n_eff = float(np.sum(robust) ** 2 / np.sum(robust**2))
    half = math.sqrt(spread**2 + SINGLE_SHOT_ERROR_Y**2 / n_eff)
    return AgeEstimate(
        age=round(age, 1),
        low=round(max(age - half, 0.0), 1),
        high=round(age + half, 1),
        samples=len(samples),
    )
