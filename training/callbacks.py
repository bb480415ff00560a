"""What happens between epochs: validate (after re-estimating BatchNorm statistics where the
recipe asks), keep the best checkpoint, write history and the resume state, show progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from edgeage.training.batchnorm import BatchNormReestimator
from edgeage.training.metrics import age_metrics
from edgeage.training.pipeline import evaluation_dataset
from edgeage.training.predict import KerasPredictor, predict_dataset
from edgeage.training.report import append_history, write_json


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    lr = optimizer.learning_rate
    return float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))


class EpochEnd(keras.callbacks.Callback):
    """Must come first in the callback list: it adds ``val_mae`` to the epoch's logs, which
    the TensorBoard and progress callbacks after it then see.

    Validation is done here rather than by ``fit(validation_data=…)`` because Keras validates
    before any callback runs, and the BatchNorm re-estimation has to happen in between.
    """

    def __init__(
        self,
        *,
        inference_model: keras.Model,
        val_samples: list,
        n_train: int,
        train_batches: Callable[[], Any],
        recipe,
        run_dir: Path,
        state: dict[str, Any],
        save_best: Callable[[], None],
        save_last: Callable[[], None],
        write_files: bool,
    ) -> None:
        super().__init__()
        self.inference_model = inference_model
        self.predictor = KerasPredictor(inference_model)
        self.reestimate = (
            BatchNormReestimator(inference_model) if recipe.bn_reestimate_batches else None
        )
        self.val_dataset = evaluation_dataset(val_samples, recipe.image_size, recipe.batch_size)
        self.n_train = n_train
        self.train_batches = train_batches
        self.recipe = recipe
        self.run_dir = run_dir
        self.state = state
        self.save_best = save_best
        self.save_last = save_last
        self.write_files = write_files
        self.last_improved = False
        self._started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        train_seconds = time.monotonic() - self._started
        if self.reestimate is not None:
            images = (x for x, _ in self.train_batches().take(self.recipe.bn_reestimate_batches))
            self.reestimate(images)
        y_true, y_pred = predict_dataset(self.predictor, self.val_dataset, self.recipe.tta_flip)
        metrics = age_metrics(y_true, y_pred)
        train_mae = logs.get("mae", logs.get("age_mae"))
        logs.update(val_mae=metrics["mae"], val_rmse=metrics["rmse"])
        row = {
            "epoch": epoch + 1,
            "loss": logs.get("loss"),
            "mae": train_mae,
            "val_mae": metrics["mae"],
            "val_rmse": metrics["rmse"],
            "lr": current_lr(self.model.optimizer),
            "seconds": round(train_seconds, 2),
            "images_per_second": round(self.n_train / max(train_seconds, 1e-9), 1),
        }
        improved = metrics["mae"] < self.state.get("best_val_mae", float("inf"))
        if improved:
            self.state.update(best_val_mae=metrics["mae"], best_epoch=epoch + 1)
            self.save_best()
        self.state["epoch"] = epoch + 1
        self.last_improved = improved
        if self.write_files:
            append_history(self.run_dir / "history.csv", row)
            self.save_last()
            write_json(self.run_dir / "state.json", self.state)


class RichProgress(keras.callbacks.Callback):
    """A bar per epoch and one summary line after it (Keras' own bar is off)."""

    def __init__(self, console: Console, epochs: int, steps: int, epoch_end: EpochEnd) -> None:
        super().__init__()
        self.console, self.epochs, self.steps = console, epochs, steps
        self.epoch_end = epoch_end
        self.progress: Progress | None = None
        self.task = None
        self._started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.monotonic()
        self.progress = Progress(
            TextColumn(f"epoch {epoch + 1}/{self.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=self.steps, info="")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.progress is not None and self.task is not None:
            loss = (logs or {}).get("loss")
            info = f"loss {float(loss):.3f}" if loss is not None else ""
            self.progress.update(self.task, completed=batch + 1, info=info)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        logs = logs or {}
        mae = logs.get("mae", logs.get("age_mae"))
        parts = [f"epoch {epoch + 1}/{self.epochs}", f"loss {float(logs.get('loss', np.nan)):.3f}"]
        if mae is not None:
            parts.append(f"mae {float(mae):.2f}")
        if "val_mae" in logs:
            parts.append(
                f"val_mae {logs['val_mae']:.2f}"
                + (" (best)" if self.epoch_end.last_improved else "")
            )
        parts.append(f"{time.monotonic() - self._started:.0f} s")
        self.console.print("  ".join(parts), highlight=False)
