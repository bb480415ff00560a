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
    """tflite-fp32, tflite-fp16 (weights in FP16, compute in FP32 on CPU), tflite-int8 or
    tflite-dynamic.

    INT8 quantizes the ResNet body to full integer with float32 input and output kept, so
    the runtime on the box feeds the same crops whatever the format; see ``_int8`` for the
    few cheap ops that stay in float. The batch dimension stays dynamic (Keras input shape
    ``[None, S, S, 3]``).
    """
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt == "tflite-fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif fmt == "tflite-dynamic":
        # Dynamic-range quantization: int8 weights; each inference quantizes the
        # activations with the range they have for that batch (XNNPACK's QD8 kernels), so
        # no calibration set decides them. Measured on a 224 px checkpoint trained here:
        # 0.22 y from Keras where static tflite-int8 moved 0.92 y, at 10 ms per face
        # against FP16's 33 and INT8's 5 (docs/EXPORT.md).
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif fmt == "tflite-int8":
        if calibration is None or len(calibration) == 0:
            raise ExportError("tflite-int8 needs calibration face images")
        try:
            with _quiet_stdout():
                data = _int8(conv, calibration)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"TFLite conversion ({fmt}) failed: {_first_line(exc)}") from None
        out.write_bytes(data)
        return
    elif fmt != "tflite-fp32":
        raise ExportError(f"not a TFLite format: {fmt}")
    try:
        with _quiet_stdout():
            data = conv.convert()
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError
        raise ExportError(f"TFLite conversion ({fmt}) failed: {_first_line(exc)}") from None
    out.write_bytes(data)


def _int8(conv: Any, calibration: np.ndarray) -> bytes:
    """Selective full-integer quantization: every convolution of the ResNet body in int8,
    but the frozen preprocessing convolution (input 0-255, caffe mean bias) and the head
    after the global pooling (Dense, DEX softmax over 101 bins and its expectation) in
    float32.

    Measured on the 32 px test checkpoint (DEX head): everything int8 moved the ages by
    0.60 y on average (max 3.8); the float head alone 0.31, the float preprocessing alone
    0.36, both 0.19 (max 1.4). The int8 output step of the softmax (1/256) and of the age
    (range/256, about 0.3 y) and the rounding of the 0-255 input are what the float ops
    avoid. They are under 0.1 % of ResNet50's multiply-adds, so INT8 speed is unchanged.
    Done with TFLite's selective quantization (``QuantizationDebugger`` with
    ``denylisted_nodes``) so the result is one ordinary .tflite file.
    """
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for crop in calibration:
            yield [crop[None].astype(np.float32)]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.inference_input_type = tf.float32
    conv.inference_output_type = tf.float32
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=conv, debug_dataset=lambda: iter([[calibration[:1].astype(np.float32)]])
    )
    float_nodes = float_node_names(debugger.calibrated_model)
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=float_nodes)
    return debugger.get_nondebug_quantized_model()


def float_node_names(calibrated: bytes) -> list[str]:
    """Output tensor names of the ops INT8 keeps in float: the preprocessing convolution
    (the first op, reading the model input) and every op after the last global average
    pooling (``MEAN``), i.e. the head."""
    from tensorflow.lite.tools import flatbuffer_utils as fb

    m = fb.convert_bytearray_to_object(bytearray(calibrated))
    graph = m.subgraphs[0]
    ops = [
        (fb.opcode_to_name(m, op.opcodeIndex), [graph.tensors[i].name for i in op.outputs])
        for op in graph.operators
    ]
    names: list[str] = []
    first = next((k for k, (name, _) in enumerate(ops) if name == "CONV_2D"), None)
    if first is not None and set(graph.inputs) & set(graph.operators[first].inputs):
        names += ops[first][1]
    pools = [k for k, (name, _) in enumerate(ops) if name == "MEAN"]
    if not pools:
        raise ExportError("tflite-int8: no global pooling found; is this the age model?")
    names += [n for _, outs in ops[pools[-1] + 1 :] for n in outs]
    return [n.decode() if isinstance(n, bytes) else n for n in names]


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
