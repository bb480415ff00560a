"""`edgeage evaluate`: score a model on a labelled split with the training metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer

from edgeage.cli.common import console, fail


def evaluate(
    model: Path = typer.Option(..., "--model", help="model file (.keras checkpoint)"),
    data: Path = typer.Option(..., "--data", help="seed layout or APPA-REAL folder"),
    split: Literal["val", "test"] = typer.Option("val", "--split", help="which split to score"),
    target: Literal["real", "apparent"] = typer.Option("real", "--target"),
    tta: bool = typer.Option(
        False, "--tta/--no-tta", help="average with the mirrored image (the best recipe's TTA)"
    ),
    batch_size: int = typer.Option(64, "--batch-size"),
    validation_split: float = typer.Option(
        0.25, "--validation-split", help="seed layout: share of rows that are validation"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the metrics as one JSON object"),
) -> None:
    """MAE, RMSE, CS@5, MAE by age band and the Challenge-25 rates of MODEL on a split."""
    from edgeage.training.check import check_dataset
    from edgeage.training.data import DataError, load_dataset

    try:
        dataset = load_dataset(data, target, validation_split)
        samples = dataset.split(split)
        check_dataset(dataset, required=(split,))
        samples = dataset.split(split)
    except DataError as exc:
        fail(str(exc))

    from edgeage.training.metrics import age_metrics
    from edgeage.training.predict import load_predictor, predict_samples

    try:
        predictor = load_predictor(model)
    except DataError as exc:
        fail(str(exc))
    y_true, y_pred = predict_samples(predictor, samples, batch_size, tta)
    metrics = {"model": str(model), "split": split, "tta_flip": tta, **age_metrics(y_true, y_pred)}
    if as_json:
        typer.echo(json.dumps(metrics))
        return
    console.print(
        f"{model} on {split} ({metrics['n']} photos{', flip TTA' if tta else ''}): "
        f"MAE {metrics['mae']:.2f}  RMSE {metrics['rmse']:.2f}  CS@5 {metrics['cs5']:.1%}",
        highlight=False,
    )
    for band, row in metrics["mae_by_band"].items():
        mae = "-" if row["mae"] is None else f"{row['mae']:.2f}"
        console.print(f"  {band:>6}: MAE {mae:>6}  (n={row['n']})", highlight=False)

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    console.print(
        f"  under-18s estimated 25+: {rate(metrics['under18_estimated_25_plus'])} "
        f"(n={metrics['n_under18']}); 25+ estimated under 25: "
        f"{rate(metrics['over25_estimated_under_25'])} (n={metrics['n_25_plus']})",
        highlight=False,
    )
