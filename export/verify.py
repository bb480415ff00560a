"""Check an exported model against the Keras model it came from, through the same runtime
the till uses (``edge/age_model.py``), before the file is allowed to exist.

An export that silently changes the answers is worse than none, so the exported model must
agree with Keras on the same face crops (mean |difference| within tolerance), must still
tell faces apart (quantization that collapses the output fails here, not on the box), and
must take every batch size from 1 to 16.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeage.edge.age_model import AgeModel, AgeModelError, load_age_model
from edgeage.export.formats import ExportError

MAX_BATCH = 16
# Output spread below this fraction of Keras' spread means the export stopped telling
# faces apart (a collapsed INT8 calibration). Only judged when Keras itself spreads.
COLLAPSE_RATIO = 0.25
MIN_KERAS_SPREAD_YEARS = 0.5
# The band the till's decision turns on (the default policy.challenge_age). Quantization
# error is not spread evenly over ages: a 224 px checkpoint trained here moved INT8 answers
# 1.4-2.2 y below 40 and 0.2 y above 60 (0.9 y overall), so the mean alone can hide it.
CHALLENGE_AGE = 25.0


class OverTolerance(ExportError):
    """The export runs but its answers differ from Keras by more than the tolerance."""


@dataclass
class Verification:
    samples: int
    mean_abs_diff_years: float
    max_abs_diff_years: float
    # Over the faces Keras puts under CHALLENGE_AGE; None when there are none.
    mean_abs_diff_under_25_years: float | None
    faces_under_25: int
    tolerance_years: float
    keras_std_years: float
    exported_std_years: float
    file_size_bytes: int
    ms_per_face_batch1: float
    ms_per_face_batch8: float
    batch_sizes_checked: list[int]
    runtime: str
    threads: int
    machine: str

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def ms_per_face(model: AgeModel, crops: np.ndarray, batch: int, budget_s: float = 0.5) -> float:
    """Median wall time per face over repeated calls at one batch size (after a warm-up)."""
    reps = int(np.ceil(batch / len(crops)))
    batch_crops = np.concatenate([crops] * reps)[:batch]
    model.predict(batch_crops)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget_s and len(times) < 50):
        t = time.perf_counter()
        model.predict(batch_crops)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) / batch * 1000.0


def _check_batches(model: AgeModel, crops: np.ndarray, reference: np.ndarray) -> list[int]:
    """Every batch size 1..16 returns [n] finite ages equal to the same crops run alone."""
    reps = int(np.ceil(MAX_BATCH / len(crops)))
    pool = np.concatenate([crops] * reps)[:MAX_BATCH]
    ref = np.concatenate([reference] * reps)[:MAX_BATCH]
    for n in range(1, MAX_BATCH + 1):
        out = model.predict(pool[:n])
        if out.shape != (n,) or not np.all(np.isfinite(out)):
            raise ExportError(f"batch of {n}: got shape {list(out.shape)} or non-finite ages")
        if not model.batching:
            raise ExportError(f"the exported model does not take a batch of {n}")
        worst = float(np.max(np.abs(out - ref[:n])))
        if worst > 0.05:
            raise ExportError(f"batch of {n} answers differ from batch 1 by {worst:.3f} years")
    return [1, MAX_BATCH]


def verify_export(
    model_path: Path,
    *,
    runtime: str,
    crops: np.ndarray,
    keras_ages: np.ndarray,
    tolerance: float,
    threads: int = 2,
) -> Verification:
    """Verification results, or ExportError when the exported model must not be used."""
    size = crops.shape[1]
    try:
        model = load_age_model(
            model_path, runtime=runtime, threads=threads, batch_max=MAX_BATCH, input_size=size
        )
    except AgeModelError as exc:
        raise ExportError(f"the exported model does not load on the box runtime: {exc}") from None
    singles = np.concatenate([model.predict(crops[i : i + 1]) for i in range(len(crops))])
    batch_sizes = _check_batches(model, crops, singles)
    ages = model.predict(crops)
    diff = np.abs(ages - keras_ages)
    young = keras_ages < CHALLENGE_AGE
    result = Verification(
        samples=len(crops),
        mean_abs_diff_years=float(diff.mean()),
        max_abs_diff_years=float(diff.max()),
        mean_abs_diff_under_25_years=float(diff[young].mean()) if young.any() else None,
        faces_under_25=int(young.sum()),
        tolerance_years=tolerance,
        keras_std_years=float(np.std(keras_ages)),
        exported_std_years=float(np.std(ages)),
        file_size_bytes=model_path.stat().st_size,
        ms_per_face_batch1=ms_per_face(model, crops, 1),
        ms_per_face_batch8=ms_per_face(model, crops, 8),
        batch_sizes_checked=batch_sizes,
        runtime=model.runtime,
        threads=threads,
        machine=f"{platform.machine()}, {_cpu_count()} cores",
    )
    if (
        result.keras_std_years >= MIN_KERAS_SPREAD_YEARS
        and result.exported_std_years < COLLAPSE_RATIO * result.keras_std_years
    ):
        raise ExportError(
            f"exported model collapsed: its ages spread {result.exported_std_years:.3f} years "
            f"over {len(crops)} faces against {result.keras_std_years:.2f} for Keras "
            "(for INT8, calibrate with real face images of the training data)"
        )
    if result.mean_abs_diff_years > tolerance:
        raise OverTolerance(
            f"exported model differs from Keras by {result.mean_abs_diff_years:.3f} years on "
            f"average (max {result.max_abs_diff_years:.3f}) over {len(crops)} faces, over the "
            f"tolerance of {tolerance} years (--tolerance to change it)"
        )
    return result


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
