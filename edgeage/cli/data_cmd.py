"""`edgeage data`: look at a labelled-photo folder before training on it (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from edgeage.cli.common import console, fail

app = typer.Typer(help="Check and explore training data.", no_args_is_help=True)

DataOption = typer.Option(
    ..., "--data", help="seed layout (labels.csv + final_files/) or APPA-REAL release folder"
)
TargetOption = typer.Option("real", "--target", help="age to learn: real, or apparent (APPA-REAL)")
StrictOption = typer.Option(False, "--strict", help="fail on any data problem instead of skipping")


@app.command("check")
def check(
    data: Path = DataOption,
    target: Literal["real", "apparent"] = TargetOption,
    strict: bool = StrictOption,
) -> None:
    """Report missing, unreadable and grayscale photos, bad ages and duplicates."""
    from edgeage.training.check import check_dataset
    from edgeage.training.data import DataError, load_dataset

    try:
        dataset = load_dataset(data, target)
        report = check_dataset(dataset, strict=strict, required=())
    except DataError as exc:
        fail(str(exc))
    counts = ", ".join(f"{k} {len(v)}" for k, v in dataset.splits.items())
    console.print(f"{data}: {dataset.layout} layout; usable: {counts}", highlight=False)
    console.print(report.summary(), highlight=False)
    for kind, examples in report.to_dict()["examples"].items():
        for example in examples:
            console.print(f"  {kind}: {example}", highlight=False, markup=False)


@app.command("inspect")
def inspect(
    data: Path = DataOption,
    out: Path = typer.Option(..., "--out", help="folder for stats.json and the PNGs"),
    target: Literal["real", "apparent"] = TargetOption,
    strict: bool = StrictOption,
) -> None:
    """Counts, age histogram, a grid of sample photos with their ages, stats.json."""
    from edgeage.training.data import DataError
    from edgeage.training.explore import inspect_dataset

    try:
        stats = inspect_dataset(data, out, target, strict)
    except DataError as exc:
        fail(str(exc))
    ages = stats["ages"]
    console.print(
        f"{data}: {stats['layout']} layout, usable {stats['usable']}, "
        f"ages {ages['min']:g}-{ages['max']:g} (mean {ages['mean']:.1f})",
        highlight=False,
    )
    console.print(stats_line(stats), highlight=False)
    console.print(f"wrote {out}/stats.json, age_histogram.png, samples.png", highlight=False)


def stats_line(stats: dict) -> str:
    skipped = stats["check"]["skipped"]
    if not skipped:
        return "data check: all images usable"
    parts = [f"{n} {k.replace('_', ' ')}" for k, n in stats["check"]["counts"].items() if n]
    return f"data check: {skipped} skipped ({', '.join(parts)})"
