"""One training run from data folder to report: check and (optionally) recrop the data, build
or resume the model under the right strategy, fit, and write the run's files.

Data preparation needs no TensorFlow, so bad input fails in a second; TensorFlow is imported
only once the data is known to be usable.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from edgeage.training.check import CheckReport, check_dataset
from edgeage.training.data import DataError, Dataset, Target, load_dataset
from edgeage.training.recipe import Recipe
from edgeage.training.recrop import RecropStats, recrop_samples

STATE, LAST, BEST = "state.json", "last.keras", "model.keras"


@dataclass
class TrainConfig:
    data: Path
    out: Path
    recipe: Recipe
    target: Target = "real"
    strict: bool = False
    resume: bool = False
    recrop: bool = False
    recrop_margin: float | None = None
    recrop_cache: Path | None = None  # default: <out>/recrop-cache
    detector_model: Path | None = None
    mixed_precision: bool | None = None  # None: on GPUs only


@dataclass
class PreparedData:
    dataset: Dataset
    check: CheckReport
    recrop: RecropStats | None = None
    notes: list[str] = field(default_factory=list)


def resume_recipe(out: Path) -> Recipe:
    """The recipe a run in ``out`` was started with (flags may then override fields)."""
    state = out / STATE
    if not state.exists():
        raise DataError(f"{out}: nothing to resume (no {STATE}; start a run without --resume)")
    return Recipe(**json.loads(state.read_text())["recipe"])


def prepare_data(config: TrainConfig, console: Console | None = None) -> PreparedData:
    """Read, check and recrop; raises ``DataError`` with a one-line message."""
    if not config.resume and (config.out / STATE).exists():
        raise DataError(
            f"{config.out}: already holds a run ({STATE}); pass --resume to continue it "
            "or choose another --out"
        )
    dataset = load_dataset(config.data, config.target, config.recipe.validation_split)
    report = check_dataset(dataset, strict=config.strict)
    prepared = PreparedData(dataset, report)
    if config.recrop:
        cache = config.recrop_cache or config.out / "recrop-cache"
        for name, samples in dataset.splits.items():
            cropped, stats = recrop_samples(
                samples,
                config.recipe.image_size,
                cache,
                margin=config.recrop_margin,
                detector_model=config.detector_model,
            )
            dataset.splits[name] = cropped
            if prepared.recrop is None:
                prepared.recrop = stats
            else:
                prepared.recrop.detected += stats.detected
                prepared.recrop.no_face += stats.no_face
                prepared.recrop.cached += stats.cached
    return prepared


def _compile(train_model, recipe: Recipe, steps_per_epoch: int, jit: bool | str) -> None:
    import keras

    if recipe.schedule == "cosine":
        total = max(1, recipe.epochs * steps_per_epoch)
        warmup = min(total - 1, round(recipe.warmup_epochs * steps_per_epoch))
        lr: Any = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else recipe.lr,
            decay_steps=max(1, total - warmup),
            alpha=0.01,
            warmup_target=recipe.lr if warmup else None,
            warmup_steps=warmup,
        )
    else:
        lr = recipe.lr
    if recipe.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(lr)
    mae = keras.metrics.MeanAbsoluteError(name="mae")
    if recipe.head == "dex" and recipe.loss == "ce":
        loss: Any = {"age_probs": keras.losses.CategoricalCrossentropy()}
        metrics: Any = {"age": [mae]}
    else:
        loss = {
            "mse": keras.losses.MeanSquaredError(),
            "mae": keras.losses.MeanAbsoluteError(),
            "huber": keras.losses.Huber(delta=3.0),  # quadratic within 3 years, linear beyond
        }[recipe.loss]
        metrics = [mae]
    train_model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit)


def _models(recipe: Recipe, resume_from: Path | None):
    """(training model, inference model). For DEX with cross-entropy the training model has two
    outputs over the same layers: ``age_probs`` (the loss) and ``age`` (the MAE metric)."""
    import keras

    from edgeage.training.model import build_age_model

    if resume_from is not None:
        train_model = keras.models.load_model(resume_from)
        if len(train_model.outputs) == 1:
            return train_model, train_model
        age = train_model.get_layer("age").output
        name = f"edgeage_resnet50_{recipe.head}"
        return train_model, keras.Model(train_model.inputs, age, name=name)
    model = build_age_model(
        recipe.image_size, recipe.head, recipe.weights, recipe.preprocessing, recipe.dropout
    )
    if recipe.head == "dex" and recipe.loss == "ce":
        probs = model.get_layer("age_probs").output
        train_model = keras.Model(model.inputs, {"age_probs": probs, "age": model.outputs[0]})
        return train_model, model
    return model, model


def _float32_copy(model, recipe: Recipe):
    """The checkpoint we hand to export: float32 layers even when training ran in
    mixed_float16, so converters see one dtype."""
    import keras

    from edgeage.training.model import build_age_model

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clone = build_age_model(
            recipe.image_size, recipe.head, None, recipe.preprocessing, recipe.dropout
        )
    finally:
        keras.mixed_precision.set_global_policy(policy)
    clone.set_weights(model.get_weights())
    return clone


def run_training(
    config: TrainConfig,
    prepared: PreparedData,
    console: Console | None = None,
    strategy: Any = None,
) -> dict[str, Any]:
    """Fit and write every output; returns the report (also written to report.json)."""
    import keras
    import tensorflow as tf

    from edgeage.training import hardware
    from edgeage.training.callbacks import EpochEnd, RichProgress
    from edgeage.training.metrics import age_metrics, mean_baseline_mae
    from edgeage.training.pipeline import training_dataset
    from edgeage.training.predict import load_predictor, predict_samples
    from edgeage.training.report import plot_report, read_history, write_json

    console = console or Console(stderr=True)
    recipe, out = config.recipe, config.out
    hw = hardware.configure(config.mixed_precision, strategy)
    keras.utils.set_random_seed(recipe.seed)
    files_dir = out if hw.chief else out / "worker-scratch"
    files_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"hardware: {hw.description}", highlight=False)

    train_samples = prepared.dataset.split("train")
    val_samples = prepared.dataset.split("val")
    steps = math.ceil(len(train_samples) / recipe.batch_size)
    state: dict[str, Any] = {"epoch": 0}
    if config.resume:
        state = json.loads((out / STATE).read_text())
    state.update(recipe=recipe.to_dict(), data=str(config.data), target=config.target)

    train_ds = training_dataset(train_samples, recipe)
    gpus = tf.config.list_physical_devices("GPU")
    with hw.strategy.scope():
        train_model, model = _models(recipe, out / LAST if config.resume else None)
        if not config.resume:
            _compile(train_model, recipe, steps, "auto" if gpus else False)

    def save_best() -> None:
        target = _float32_copy(model, recipe) if hw.mixed_precision else model
        target.save(files_dir / BEST)

    epoch_end = EpochEnd(
        inference_model=model,
        val_samples=val_samples,
        n_train=len(train_samples),
        train_batches=lambda: train_ds,
        recipe=recipe,
        run_dir=files_dir,
        state=state,
        save_best=save_best,
        save_last=lambda: train_model.save(files_dir / LAST),
        write_files=True,
    )
    callbacks = [
        epoch_end,
        keras.callbacks.TensorBoard(log_dir=str(files_dir / "tensorboard"), write_graph=False),
        RichProgress(console, recipe.epochs, steps, epoch_end),
    ]
    started = time.monotonic()
    if state["epoch"] < recipe.epochs:
        train_model.fit(
            train_ds,
            epochs=recipe.epochs,
            initial_epoch=state["epoch"],
            shuffle=False,  # the dataset shuffles itself; silences a Keras warning
            callbacks=callbacks,
            verbose=0,
        )
    else:
        console.print(
            f"already trained {state['epoch']} of {recipe.epochs} epochs", highlight=False
        )
    fit_seconds = time.monotonic() - started
    if not hw.chief:
        return {}

    predictor = load_predictor(out / BEST)
    y_true, y_pred = predict_samples(predictor, val_samples, recipe.batch_size, recipe.tta_flip)
    val = age_metrics(y_true, y_pred)
    baseline = mean_baseline_mae([s.age for s in train_samples], y_true)
    test = None
    if prepared.dataset.splits.get("test"):
        t_true, t_pred = predict_samples(
            predictor, prepared.dataset.splits["test"], recipe.batch_size, recipe.tta_flip
        )
        test = age_metrics(t_true, t_pred)
    report: dict[str, Any] = {
        "split": "val",
        **val,
        "baseline_mae": baseline,
        "tta_flip": recipe.tta_flip,
        "best_epoch": state.get("best_epoch"),
        "epochs": state.get("epoch"),
        "test": test,
        "recipe": recipe.to_dict(),
        "data": {
            "path": str(config.data),
            "layout": prepared.dataset.layout,
            "target": config.target,
            "counts": {k: len(v) for k, v in prepared.dataset.splits.items()},
            "check": prepared.check.to_dict(),
            "recrop": prepared.recrop.summary() if prepared.recrop else None,
        },
        "hardware": hw.description,
        "fit_seconds": round(fit_seconds, 1),
    }
    write_json(out / "report.json", report)
    history = read_history(out / "history.csv")
    title = (
        f"{recipe.name} recipe, {prepared.dataset.layout} data, best epoch {report['best_epoch']}"
    )
    plot_report(out / "report.png", history, y_true, y_pred, report, title)
    return report


def train(
    config: TrainConfig, console: Console | None = None, strategy: Any = None
) -> dict[str, Any]:
    """``prepare_data`` then ``run_training``: the whole run, for callers other than the CLI."""
    prepared = prepare_data(config, console)
    return run_training(config, prepared, console, strategy)
