"""The age model on the box: one small interface over LiteRT (``.tflite``) and ONNX Runtime
(``.onnx``), so the daemon never cares which format export produced.

Everything that can be wrong with a model file (corrupt, truncated, foreign, the wrong input
shape, a manifest for another model) is found here, at load time, and reported as one
``AgeModelError`` line; a till must not discover it on the first customer. This module never
imports TensorFlow: only numpy, LiteRT and (lazily) ONNX Runtime.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from edgeage.edge.detector_models import sha256_of
from edgeage.edge.manifest import Manifest, ManifestError, read_manifest

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "litert", "onnxruntime")
_SUFFIX_RUNTIME = {".tflite": "litert", ".onnx": "onnxruntime"}
_TFLITE_ID = b"TFL3"


class AgeModelError(Exception):
    """An unusable age model; the message is one line for the operator."""


class AgeModel:
    """A loaded age model: float32 RGB 0-255 crops ``[N, S, S, 3]`` in, years ``[N]`` out.

    Backends implement ``_run`` for one batch of at most ``batch_max`` crops; ``predict``
    validates the input once and splits larger batches, so callers may pass any N >= 1.
    """

    runtime: str = ""
    # True while the model answers N crops in one call; export checks it for batch 1..16.
    batching: bool = True

    def __init__(
        self,
        path: Path,
        *,
        sha256: str,
        manifest: Manifest | None,
        input_size: int,
        crop_margin: float,
        batch_max: int,
    ) -> None:
        self.path = path
        self.name = manifest.name if manifest else path.stem
        self.sha256 = sha256
        self.manifest = manifest
        self.trained = bool(manifest.trained) if manifest else False
        self.input_size = input_size
        self.crop_margin = crop_margin
        self.batch_max = max(1, batch_max)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        s = self.input_size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3) or crops.shape[0] < 1:
            raise ValueError(f"expected crops of shape [N, {s}, {s}, 3], got {list(crops.shape)}")
        crops = np.ascontiguousarray(crops, dtype=np.float32)
        parts = [
            self._run(crops[i : i + self.batch_max]) for i in range(0, len(crops), self.batch_max)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """Same as ``predict``: lets ``edgeage evaluate`` use an AgeModel as its Predictor."""
        return self.predict(crops)

    def _run(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"AgeModel({self.runtime}, {self.name}, {self.sha256[:12]}, "
            f"{self.input_size}px, trained={self.trained})"
        )


def _years(out: np.ndarray, n: int) -> np.ndarray:
    """The age output as [n]; models emit [n, 1] (the contract) or [n]."""
    if out.size != n:
        raise RuntimeError(f"age model returned {out.size} values for {n} crops")
    return out.reshape(n).astype(np.float32, copy=False)


class LiteRTAgeModel(AgeModel):
    """LiteRT with one interpreter resized to each batch size as it comes.

    Resizing costs a re-allocation only on the first use of a size (about 0.1 s for
    ResNet50), while one interpreter per batch size would pack the weights once per size.
    Models converted with a fixed batch of 1 are run crop by crop.
    """

    runtime = "litert"

    def __init__(self, path: Path, *, threads: int, **kw: Any) -> None:
        super().__init__(path, **kw)
        from ai_edge_litert.interpreter import Interpreter

        head = _head_bytes(path, 8)
        if len(head) < 8 or head[4:8] != _TFLITE_ID:
            raise AgeModelError(f"{path}: not a TFLite model (no TFL3 identifier)")
        try:
            self._interp = Interpreter(model_path=str(path), num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise AgeModelError(f"{path}: cannot load TFLite model: {_one_line(exc)}") from None
        inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise AgeModelError(
                f"{path}: an age model has one input and one output, this one has "
                f"{len(inputs)} and {len(outputs)}"
            )
        self._in, self._out = inputs[0]["index"], outputs[0]["index"]
        sig = [int(d) for d in inputs[0].get("shape_signature", inputs[0]["shape"])]
        _check_input(path, sig, np.dtype(inputs[0]["dtype"]).name, self.input_size)
        self.batching = sig[0] == -1  # can this model take more than one crop per call?
        self._allocated = int(inputs[0]["shape"][0])

    def _resize(self, n: int) -> None:
        if n != self._allocated:
            self._interp.resize_tensor_input(
                self._in, [n, self.input_size, self.input_size, 3], strict=True
            )
            self._interp.allocate_tensors()
            self._allocated = n

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        self._resize(len(batch))
        self._interp.set_tensor(self._in, batch)
        self._interp.invoke()
        return self._interp.get_tensor(self._out)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if n > 1 and self.batching:
            try:
                out = self._invoke(batch)
                if out.shape[0] == n:
                    return _years(out, n)
            except (ValueError, RuntimeError) as exc:
                log.warning("%s: batch of %d failed (%s)", self.path.name, n, _one_line(exc))
            log.warning("%s: model does not batch; running crop by crop", self.path.name)
            self.batching = False
        return np.concatenate([_years(self._invoke(batch[i : i + 1]), 1) for i in range(n)])


class OnnxAgeModel(AgeModel):
    """ONNX Runtime; the execution providers come from the config (CPU by default), so an
    NVIDIA box runs the same file through CUDA or TensorRT."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, *, threads: int, providers: list[str] | None, **kw: Any) -> None:
        super().__init__(path, **kw)
        try:
            import onnxruntime as ort
        except ImportError:
            raise AgeModelError(
                f"{path}: onnxruntime is not installed (pip install onnxruntime)"
            ) from None
        wanted = list(providers or ["CPUExecutionProvider"])
        available = ort.get_available_providers()
        usable = [p for p in wanted if p in available]
        if not usable:
            raise AgeModelError(
                f"none of the ONNX Runtime providers {wanted} is available here "
                f"(available: {', '.join(available)})"
            )
        if len(usable) < len(wanted):
            missing = [p for p in wanted if p not in available]
            log.warning("ONNX Runtime providers not available, skipped: %s", ", ".join(missing))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=usable)
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... classes
            raise AgeModelError(f"{path}: cannot load ONNX model: {_one_line(exc)}") from None
        inputs, outputs = self._sess.get_inputs(), self._sess.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise AgeModelError(
                f"{path}: an age model has one input and one output, this one has "
                f"{len(inputs)} and {len(outputs)}"
            )
        sig = [d if isinstance(d, int) else -1 for d in inputs[0].shape]
        dtype = {"tensor(float)": "float32"}.get(inputs[0].type, inputs[0].type)
        _check_input(path, sig, dtype, self.input_size)
        self.batching = sig[0] == -1
        self._in_name, self._out_name = inputs[0].name, outputs[0].name
        self.providers = self._sess.get_providers()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if self.batching or n == 1:
            out = self._sess.run([self._out_name], {self._in_name: batch})[0]
            return _years(out, n)
        return np.concatenate(
            [
                _years(self._sess.run([self._out_name], {self._in_name: batch[i : i + 1]})[0], 1)
                for i in range(n)
            ]
        )


def _head_bytes(path: Path, n: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


def _check_input(path: Path, sig: list[int], dtype: str, size: int) -> None:
    """Input must be [batch, S, S, 3] float32 with S the size the manifest or config says."""
    if len(sig) != 4 or sig[3] != 3 or dtype != "float32":
        raise AgeModelError(
            f"{path}: not an age model: input is {dtype} {sig}, expected float32 "
            f"[N, {size}, {size}, 3]"
        )
    if sig[1] != size or sig[2] != size:
        raise AgeModelError(
            f"{path}: model input is {sig[1]}x{sig[2]} but {size}x{size} is expected "
            "(set age.input_size, or check the manifest)"
        )


def _pick_runtime(path: Path, runtime: str) -> str:
    by_suffix = _SUFFIX_RUNTIME.get(path.suffix.lower())
    if runtime not in RUNTIMES:
        raise AgeModelError(f"unknown age runtime {runtime!r} (one of {', '.join(RUNTIMES)})")
    if runtime == "auto":
        if by_suffix is None:
            raise AgeModelError(
                f"{path}: cannot tell the runtime from the suffix {path.suffix!r}; "
                "use .tflite or .onnx, or set age.runtime"
            )
        return by_suffix
    if by_suffix is not None and by_suffix != runtime:
        raise AgeModelError(f"{path}: a {path.suffix} model cannot run under {runtime}")
    return runtime


def load_age_model(
    path: Path,
    *,
    runtime: str = "auto",
    threads: int = 2,
    batch_max: int = 8,
    providers: list[str] | None = None,
    input_size: int = 224,
    crop_margin: float = 0.4,
) -> AgeModel:
    """Load and check an age model; the manifest beside it (if any) overrides the config's
    input size and crop margin, because they are facts about how the model was trained."""
    path = Path(path)
    if not path.is_file():
        raise AgeModelError(f"{path}: age model not found")
    if path.stat().st_size == 0:
        raise AgeModelError(f"{path}: age model file is empty")
    chosen = _pick_runtime(path, runtime)
    try:
        manifest = read_manifest(path)
    except ManifestError as exc:
        raise AgeModelError(str(exc)) from None
    if manifest is not None:
        fmt_runtime = "onnxruntime" if manifest.format == "onnx" else "litert"
        if manifest.format == "tftrt-fp16" or fmt_runtime != chosen:
            raise AgeModelError(
                f"{path}: manifest says format {manifest.format}, which {chosen} cannot run"
            )
        input_size, crop_margin = manifest.input_size, manifest.crop_margin
        digest = manifest.sha256  # read_manifest has just checked it against the file
    else:
        digest = sha256_of(path)
    common: dict[str, Any] = dict(
        sha256=digest,
        manifest=manifest,
        input_size=input_size,
        crop_margin=crop_margin,
        batch_max=batch_max,
        threads=threads,
    )
    if chosen == "litert":
        return LiteRTAgeModel(path, **common)
    return OnnxAgeModel(path, providers=providers, **common)
