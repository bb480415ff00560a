"""Running an age model over labelled samples, behind one small interface.

``Predictor`` is what evaluation needs from a model: its input side, a label for tables and
a function from a float32 batch [N, S, S, 3] (RGB 0-255) to ages [N]. Keras checkpoints and
exported models (.tflite through LiteRT, .onnx through ONNX Runtime: the box's own runtime
code in ``edge/age_model.py``) are registered in ``LOADERS`` by file suffix, so ``edgeage
evaluate`` scores Keras, FP16 and INT8 with the same images, code and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeage.training.data import DataError, Sample


class Predictor(Protocol):
    input_size: int
    label: str

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


class KerasPredictor:
    """A Keras age model behind one traced function (traced once, reused every epoch)."""

    def __init__(self, model) -> None:  # keras.Model; untyped to keep keras out of imports
        import tensorflow as tf

        self.model = model
        self.input_size = int(model.input_shape[1])
        self.label = "keras"
        self._fn = tf.function(
            lambda x: model(x, training=False), reduce_retracing=True, autograph=False
        )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(images), dtype=np.float64).reshape(-1)


def _load_keras(path: Path) -> Predictor:
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # zip/h5/deserialisation errors come in many types
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise DataError(
            f"{path}: not a loadable Keras model ({type(exc).__name__}: {first})"
        ) from None
    if "age" not in {layer.name for layer in model.layers}:
        raise DataError(f"{path}: not an edgeage age model (no output layer named 'age')")
    return KerasPredictor(model)


class ExportedPredictor:
    """An exported model run exactly as the till runs it (same runtime wrapper, same batching
    limit), so its MAE here is the MAE on the box."""

    def __init__(self, model) -> None:  # edge.age_model.AgeModel
        self.model = model
        self.input_size = model.input_size
        self.label = model.manifest.format if model.manifest else model.runtime

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.model.predict(np.asarray(images, dtype=np.float32)).astype(np.float64)


def _load_exported(path: Path) -> Predictor:
    import os

    from edgeage.edge.age_model import AgeModelError, load_age_model

    try:
        model = load_age_model(path, threads=len(os.sched_getaffinity(0)), batch_max=16)
    except AgeModelError as exc:
        raise DataError(str(exc)) from None
    return ExportedPredictor(model)


LOADERS: dict[str, Callable[[Path], Predictor]] = {
    ".keras": _load_keras,
    ".tflite": _load_exported,
    ".onnx": _load_exported,
}


def load_predictor(path: Path) -> Predictor:
    """A predictor for a model file, chosen by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DataError(
            f"{path}: unsupported model format {path.suffix or '(none)'} "
            f"(supported: {', '.join(sorted(LOADERS))})"
        )
    return loader(path)


def predict_samples(
    predictor: Predictor, samples: Sequence[Sample], batch_size: int = 64, tta_flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(true ages, predicted ages) in sample order; ``tta_flip`` averages each prediction with
    the mirrored image's, which cancels a little of the model's left/right noise."""
    from edgeage.training.pipeline import evaluation_dataset

    dataset = evaluation_dataset(samples, predictor.input_size, batch_size)
    return predict_dataset(predictor, dataset, tta_flip)


def predict_dataset(predictor: Predictor, dataset, tta_flip: bool = False):
    """Like ``predict_samples`` over a prepared ``evaluation_dataset`` (kept between epochs so
    its decoded images stay cached)."""
    truths, preds = [], []
    for images, ages in dataset:
        pred = predictor(images)
        if tta_flip:
            pred = (pred + predictor(images[:, :, ::-1, :])) / 2.0
        truths.append(np.asarray(ages, np.float64))
        preds.append(pred)
    return np.concatenate(truths), np.concatenate(preds)
