"""``report.json`` and ``report.png``: what a run achieved, readable without TensorFlow."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from edgeage.training.metrics import AGE_BANDS

HISTORY_FIELDS = (
    "epoch",
    "loss",
    "mae",
    "val_mae",
    "val_rmse",
    "lr",
    "seconds",
    "images_per_second",
)


def append_history(path: Path, row: dict[str, Any]) -> None:
    """One line per epoch; appended, so ``--resume`` continues the same file."""
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in HISTORY_FIELDS})


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [
            {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(fh)
        ]


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def plot_report(
    path: Path,
    history: list[dict[str, float]],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metrics: dict[str, Any],
    title: str,
) -> None:
    """Learning curves, predicted vs true, MAE by band — the three things to look at first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    epochs = [h["epoch"] for h in history]
    for key, label in (("mae", "train MAE"), ("val_mae", "validation MAE")):
        values = [h.get(key, np.nan) for h in history]
        ax.plot(epochs, values, marker="o", label=label)
    if "baseline_mae" in metrics:
        ax.axhline(metrics["baseline_mae"], color="gray", ls="--", label="predict the mean")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (years)")
    ax.set_title("learning curves")
    ax.legend()
    ax.grid(alpha=0.3)

    ax = axes[1]
    ax.scatter(y_true, y_pred, s=6, alpha=0.5)
    hi = float(max(np.max(y_true), np.max(y_pred), 1.0)) * 1.05
    ax.plot([0, hi], [0, hi], color="black", lw=1)
    ax.axhline(25, color="red", lw=0.8, ls=":", label="Challenge 25")
    ax.axvline(18, color="orange", lw=0.8, ls=":", label="legal age 18")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel("true age")
    ax.set_ylabel("estimated age")
    ax.set_title(f"validation: MAE {metrics['mae']:.2f}, CS@5 {metrics['cs5']:.0%}")
    ax.legend(loc="upper left")

    ax = axes[2]
    names = [name for name, _, _ in AGE_BANDS]
    bands = metrics["mae_by_band"]
    values = [bands[n]["mae"] if bands[n]["mae"] is not None else 0.0 for n in names]
    bars = ax.bar(names, values)
    for bar, name in zip(bars, names, strict=True):
        ax.annotate(
            f"n={bands[name]['n']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xlabel("true age band")
    ax.set_ylabel("MAE (years)")
    ax.set_title("MAE by age band")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
