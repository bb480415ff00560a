"""`edgeage train`: train the age model from a recipe plus flag overrides.

Every recipe field has a flag; a flag left out keeps the recipe's value. Data is read and
checked before TensorFlow is imported, so bad input fails fast with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer

from edgeage.cli.common import console, err_console, fail


def train(
    data: Path = typer.Option(..., "--data", help="seed layout or APPA-REAL folder"),
    out: Path = typer.Option(..., "--out", help="run folder: model.keras, report.json, ..."),
    recipe: Literal["seed", "best"] = typer.Option(
        "best", "--recipe", help="seed: the customer's notebook exactly; best: our default"
    ),
    target: Literal["real", "apparent"] = typer.Option("real", "--target"),
    weights: str | None = typer.Option(None, "--weights", help="imagenet, none, or a .h5 path"),
    head: Literal["regression", "dex"] | None = typer.Option(None, "--head"),
    loss: Literal["mse", "mae", "huber", "ce"] | None = typer.Option(None, "--loss"),
    preprocessing: Literal["rescale", "caffe"] | None = typer.Option(None, "--preprocessing"),
    epochs: int | None = typer.Option(None, "--epochs"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="global, over all devices"),
    lr: float | None = typer.Option(None, "--lr", help="peak learning rate"),
    optimizer: Literal["adam", "adamw"] | None = typer.Option(None, "--optimizer"),
    weight_decay: float | None = typer.Option(None, "--weight-decay"),
    schedule: Literal["constant", "cosine"] | None = typer.Option(None, "--schedule"),
    warmup_epochs: float | None = typer.Option(None, "--warmup-epochs"),
    image_size: int | None = typer.Option(None, "--image-size"),
    dropout: float | None = typer.Option(None, "--dropout"),
    seed: int | None = typer.Option(None, "--seed"),
    validation_split: float | None = typer.Option(None, "--validation-split"),
    hflip: bool | None = typer.Option(None, "--hflip/--no-hflip"),
    shift: float | None = typer.Option(None, "--shift", help="max translation, share of side"),
    crop_min_scale: float | None = typer.Option(None, "--crop-min-scale"),
    rotation: float | None = typer.Option(None, "--rotation", help="max rotation, degrees"),
    color_jitter: float | None = typer.Option(None, "--color-jitter"),
    dex_sigma: float | None = typer.Option(None, "--dex-sigma"),
    tta: bool | None = typer.Option(None, "--tta/--no-tta", help="flip TTA in the report"),
    bn_reestimate: int | None = typer.Option(
        None, "--bn-reestimate", help="batches for BatchNorm re-estimation; 0 = off"
    ),
    recrop: bool = typer.Option(False, "--recrop", help="re-detect and crop like the till"),
    recrop_margin: float | None = typer.Option(None, "--recrop-margin"),
    recrop_cache: Path | None = typer.Option(None, "--recrop-cache"),
    detector_model: Path | None = typer.Option(None, "--detector-model"),
    mixed_precision: bool | None = typer.Option(
        None, "--mixed-precision/--no-mixed-precision", help="default: on GPUs only"
    ),
    strict: bool = typer.Option(False, "--strict", help="fail on any data problem"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out"),
    print_recipe: bool = typer.Option(
        False, "--print-recipe", help="print the resolved recipe as JSON and exit"
    ),
) -> None:
    """Train the age model; writes model.keras, history.csv, TensorBoard logs, report.*"""
    from edgeage.training.data import DataError
    from edgeage.training.recipe import get_recipe
    from edgeage.training.train import TrainConfig, prepare_data, resume_recipe

    overrides = dict(
        weights=weights,
        head=head,
        loss=loss,
        preprocessing=preprocessing,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        weight_decay=weight_decay,
        schedule=schedule,
        warmup_epochs=warmup_epochs,
        image_size=image_size,
        dropout=dropout,
        seed=seed,
        validation_split=validation_split,
        hflip=hflip,
        shift=shift,
        crop_min_scale=crop_min_scale,
        rotation_deg=rotation,
        color_jitter=color_jitter,
        dex_sigma=dex_sigma,
        tta_flip=tta,
        bn_reestimate_batches=bn_reestimate,
    )
    try:
        resolved = (
            resume_recipe(out).with_overrides(**overrides)
            if resume
            else get_recipe(recipe, **overrides)
        )
    except (ValueError, DataError) as exc:
        fail(str(exc))
    if print_recipe:
        typer.echo(json.dumps(resolved.to_dict(), indent=2))
        return
    config = TrainConfig(
        data=data,
        out=out,
        recipe=resolved,
        target=target,
        strict=strict,
        resume=resume,
        recrop=recrop,
        recrop_margin=recrop_margin,
        recrop_cache=recrop_cache,
        detector_model=detector_model,
        mixed_precision=mixed_precision,
    )
    try:
        with err_console.status("reading and checking the data ..."):
            prepared = prepare_data(config)
    except DataError as exc:
        fail(str(exc))
    counts = ", ".join(f"{k} {len(v)}" for k, v in prepared.dataset.splits.items())
    err_console.print(f"{data}: {prepared.dataset.layout} layout; {counts}", highlight=False)
    err_console.print(prepared.check.summary(), highlight=False)
    if prepared.recrop is not None:
        err_console.print(prepared.recrop.summary(), highlight=False)

    from edgeage.training.model import WeightsUnavailable
    from edgeage.training.train import run_training

    try:
        report = run_training(config, prepared, err_console)
    except WeightsUnavailable as exc:
        fail(str(exc))
    if report:
        test = report.get("test")
        console.print(
            f"{out}: val MAE {report['mae']:.2f} (predict-the-mean {report['baseline_mae']:.2f}), "
            f"CS@5 {report['cs5']:.1%}, best epoch {report['best_epoch']}"
            + (f"; test MAE {test['mae']:.2f}" if test else ""),
            highlight=False,
        )
