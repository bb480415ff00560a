"""`edgeage evaluate`: score one or more models on a labelled split with the training metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from edgeage.cli.common import console, fail


def evaluate(
    models: list[Path] = typer.Option(
        ...,
        "--model",
        help="model file: .keras checkpoint, or an exported .tflite / .onnx; repeat to compare",
    ),
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
    as_json: bool = typer.Option(
        False, "--json", help="print the metrics as JSON, one object (line) per model"
    ),
) -> None:
    """MAE, RMSE, CS@5, MAE by age band and the Challenge-25 rates of each MODEL on a split.

    Several --model options score every model on the same decoded photos and print one
    table, e.g. the Keras checkpoint against its FP16 and INT8 exports.
    """
    from edgeage.training.check import check_dataset
    from edgeage.training.data import DataError, load_dataset

    try:
        dataset = load_dataset(data, target, validation_split)
        check_dataset(dataset, required=(split,))
        samples = dataset.split(split)
    except DataError as exc:
        fail(str(exc))

    from edgeage.training.predict import load_predictor

    try:  # every model loads before any is scored: a bad one fails in seconds, not minutes
        predictors = [load_predictor(model) for model in models]
    except DataError as exc:
        fail(str(exc))

    results = _score(predictors, models, samples, batch_size, split, tta)
    if as_json:
        for metrics in results:
            typer.echo(json.dumps(metrics))
    elif len(results) == 1:
        _print_one(results[0])
    else:
        _print_table(results, split, tta)


def _score(predictors, models, samples, batch_size: int, split: str, tta: bool) -> list[dict]:
    """Metrics per model; models of one input size share one decoded, cached data set."""
    from edgeage.training.metrics import age_metrics
    from edgeage.training.pipeline import evaluation_dataset
    from edgeage.training.predict import predict_dataset

    datasets: dict[int, Any] = {}
    results = []
    for model, predictor in zip(models, predictors, strict=True):
        size = predictor.input_size
        if size not in datasets:
            datasets[size] = evaluation_dataset(samples, size, batch_size).cache()
        y_true, y_pred = predict_dataset(predictor, datasets[size], tta)
        results.append(
            {
                "model": str(model),
                "format": predictor.label,
                "split": split,
                "tta_flip": tta,
                **age_metrics(y_true, y_pred),
            }
        )
    return results


def _signed(delta: float) -> str:
    """+0.14, -0.03, and +0.00 (not -0.00) for a difference that rounds away."""
    return f"{0.0 if abs(delta) < 0.005 else delta:+.2f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_one(metrics: dict) -> None:
    tta = metrics["tta_flip"]
    console.print(
        f"{metrics['model']} on {metrics['split']} ({metrics['n']} photos"
        f"{', flip TTA' if tta else ''}): MAE {metrics['mae']:.2f}  RMSE {metrics['rmse']:.2f}  "
        f"CS@5 {metrics['cs5']:.1%}",
        highlight=False,
    )
    for band, row in metrics["mae_by_band"].items():
        mae = "-" if row["mae"] is None else f"{row['mae']:.2f}"
        console.print(f"  {band:>6}: MAE {mae:>6}  (n={row['n']})", highlight=False)
    console.print(
        f"  under-18s estimated 25+: {_rate(metrics['under18_estimated_25_plus'])} "
        f"(n={metrics['n_under18']}); 25+ estimated under 25: "
        f"{_rate(metrics['over25_estimated_under_25'])} (n={metrics['n_25_plus']})",
        highlight=False,
    )


_COLUMNS = ("model", "format", "MAE", "vs first", "RMSE", "CS@5", "<18 as 25+", "25+ as <25")


def _print_table(results: list[dict], split: str, tta: bool) -> None:
    first = results[0]
    table = Table(
        title=f"{split} split, {first['n']} photos{', flip TTA' if tta else ''}",
        title_justify="left",
    )
    for column in _COLUMNS:
        justify = "left" if column in ("model", "format") else "right"
        table.add_column(column, justify=justify, no_wrap=True)
    for metrics in results:
        table.add_row(
            metrics["model"],
            metrics["format"],
            f"{metrics['mae']:.2f}",
            _signed(metrics["mae"] - first["mae"]),
            f"{metrics['rmse']:.2f}",
            f"{metrics['cs5']:.1%}",
            _rate(metrics["under18_estimated_25_plus"]),
            _rate(metrics["over25_estimated_under_25"]),
        )
    # Model paths are long and a cut path is useless: widen past 80 columns when piped.
    width = Measurement.get(console, console.options.update_width(1000), table).maximum
    Console(width=max(console.width, width)).print(table)
