"""Keras age model -> a file the till runs. Verification is elsewhere (verify.py); these
functions only convert, and raise ExportError with one line when the converter fails."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgeage.export.formats import ExportError


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Keras' export prints its SavedModel signature on stdout; keep stdout for results."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def to_tflite(model: Any, fmt: str, out: Path, calibration: np.ndarray | None = None) -> None:
    """tflite-fp32, tflite-fp16 (weights in FP16, compute in FP32 on CPU) or tflite-int8.

    INT8 is full-integer (every op int8, ``TFLITE_BUILTINS_INT8`` only) with float32 input
    and output kept, so the runtime on the box feeds the same crops whatever the format.
    The batch dimension stays dynamic (Keras input shape ``[None, S, S, 3]``).
    """
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt == "tflite-fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif fmt == "tflite-int8":
        if calibration is None or len(calibration) == 0:
            raise ExportError("tflite-int8 needs calibration face images")

        def representative() -> Iterator[list[np.ndarray]]:
            for crop in calibration:
                yield [crop[None].astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.float32
        conv.inference_output_type = tf.float32
    elif fmt != "tflite-fp32":
        raise ExportError(f"not a TFLite format: {fmt}")
    try:
        with _quiet_stdout():
            data = conv.convert()
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError
        raise ExportError(f"TFLite conversion ({fmt}) failed: {_first_line(exc)}") from None
    out.write_bytes(data)


def to_onnx(model: Any, out: Path, opset: int = 17) -> None:
    """ONNX through tf2onnx from a tf.function with a dynamic batch dimension.

    Keras 3 models are not what ``tf2onnx.convert.from_keras`` expects, but a traced
    function over the model converts cleanly; the input is named ``face`` and the output
    ``age``, as in the Keras model.
    """
    import tensorflow as tf
    import tf2onnx

    size = int(model.inputs[0].shape[1])
    spec = (tf.TensorSpec([None, size, size, 3], tf.float32, name="face"),)

    @tf.function(input_signature=spec)
    def serve(face: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"age": model(face, training=False)}

    try:
        with _quiet_stdout():
            tf2onnx.convert.from_function(
                serve, input_signature=spec, opset=opset, output_path=str(out)
            )
    except Exception as exc:
        raise ExportError(f"ONNX conversion failed: {_first_line(exc)}") from None
