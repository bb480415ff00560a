"""``edgeage data inspect``: the seed notebook's exploration, as files a reviewer can open.

Writes ``stats.json`` (counts, age statistics per split and band, the data check),
``age_histogram.png`` and ``samples.png`` (a grid of photos titled with their ages).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeage.training.check import check_dataset
from edgeage.training.data import DataError, Sample, Target, load_dataset
from edgeage.training.metrics import AGE_BANDS
from edgeage.training.report import write_json


def _age_stats(ages: list[float]) -> dict[str, Any]:
    if not ages:
        return {"n": 0}
    a = np.asarray(ages, np.float64)
    bands = {name: int(((a >= lo) & (a < hi)).sum()) for name, lo, hi in AGE_BANDS}
    return {
        "n": int(a.size),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "std": float(a.std()),
        "by_band": bands,
    }


def _histogram(path: Path, splits: dict[str, list[Sample]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    names = [n for n in ("train", "val", "test") if splits.get(n)]
    ax.hist(
        [[s.age for s in splits[n]] for n in names],
        bins=np.arange(0, 102, 2),
        stacked=True,
        label=names,
    )
    for age, label in ((18, "18"), (25, "25")):
        ax.axvline(age, color="red", ls=":", lw=1)
        ax.annotate(label, (age, ax.get_ylim()[1] * 0.95), color="red", ha="center")
    ax.set_xlabel("age (years)")
    ax.set_ylabel("photos")
    ax.set_title("age distribution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _sample_grid(path: Path, samples: list[Sample], count: int, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    chosen = [samples[i] for i in rng.permutation(len(samples))[:count]]
    chosen.sort(key=lambda s: s.age)
    cols = max(1, int(np.ceil(np.sqrt(len(chosen)))))
    rows = max(1, int(np.ceil(len(chosen) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, sample in zip(axes.ravel(), chosen, strict=False):
        bgr = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        if bgr is not None:
            ax.imshow(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        ax.set_title(f"{sample.age:g}", fontsize=10)
    fig.suptitle("sample photos with their ages")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def inspect_dataset(
    data: Path, out: Path, target: Target = "real", strict: bool = False, grid: int = 25
) -> dict[str, Any]:
    """Write the three files into ``out`` and return the stats."""
    dataset = load_dataset(Path(data), target)
    listed = {name: len(samples) for name, samples in dataset.splits.items()}
    report = check_dataset(dataset, strict=strict, required=())
    usable = dataset.all_samples()
    if not usable:
        raise DataError(
            f"{data}: no usable images ({report.summary().removeprefix('data check: ')})"
        )
    stats = {
        "data": str(data),
        "layout": dataset.layout,
        "target": target,
        "listed": listed,
        "usable": {name: len(samples) for name, samples in dataset.splits.items()},
        "ages": _age_stats([s.age for s in usable]),
        "ages_by_split": {n: _age_stats([s.age for s in v]) for n, v in dataset.splits.items()},
        "check": report.to_dict(),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "stats.json", stats)
    _histogram(out / "age_histogram.png", dataset.splits)
    if usable:
        _sample_grid(out / "samples.png", usable, grid, seed=0)
    return stats
