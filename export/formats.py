"""The export formats, what file each produces and how strict its verification is."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_FORMAT = "tflite-fp16"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str
    tolerance_years: float  # default bound on the mean |Keras - exported| in years
    runtime: str  # the edge runtime that runs it (edge/age_model.py)


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("tflite-fp16", "age.tflite", 0.1, "litert"),
        ExportFormat("tflite-fp32", "age.tflite", 0.1, "litert"),
        # Full-integer quantization moves answers by a few tenths of a year on real faces.
        ExportFormat("tflite-int8", "age.tflite", 0.5, "litert"),
        # Int8 weights, activations quantized per inference with their own range: int8
        # arithmetic like tflite-int8, so held to the same bound.
        ExportFormat("tflite-dynamic", "age.tflite", 0.5, "litert"),
        ExportFormat("onnx", "age.onnx", 0.1, "onnxruntime"),
        ExportFormat("tftrt-fp16", "saved_model", 0.1, "tftrt"),
    )
}


class ExportError(Exception):
    """The export cannot be done or did not pass verification; one line for the user."""


def tensorrt_available() -> bool:
    """Whether this TensorFlow build has TF-TRT. pip wheels from 2.18 on do not."""
    import tensorflow as tf

    return bool(tf.sysconfig.get_build_info().get("is_tensorrt_build", False))


TFTRT_MISSING = (
    "tftrt-fp16 needs a TensorFlow build with TensorRT, and this one has none "
    "(pip TensorFlow dropped it after 2.17); use --format onnx and run it on the box with "
    "ONNX Runtime's TensorRT execution provider (age.providers = "
    '["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])'
)
