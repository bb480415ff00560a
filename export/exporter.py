"""One export: convert, verify, then (and only then) place the model and its manifest.

The model is written into a scratch folder inside ``out_dir`` and moved into place after it
passed verification, so a failed export leaves no model file behind and never replaces a
good one that was already there.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edgeage import __version__
from edgeage.edge.crop import DEFAULT_MARGIN
from edgeage.edge.detector_models import sha256_of
from edgeage.edge.manifest import Manifest, ModelInput, ModelOutput, manifest_path, write_manifest
from edgeage.export import convert
from edgeage.export.checkpoint import find_key, load_checkpoint, training_metrics
from edgeage.export.faces import load_face_crops
from edgeage.export.formats import FORMATS, TFTRT_MISSING, ExportError, tensorrt_available
from edgeage.export.verify import OverTolerance, Verification, verify_export

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    model_path: Path
    manifest_path: Path
    manifest: Manifest
    verification: Verification


@dataclass
class Source:
    """Where the Keras model came from, for the manifest."""

    name: str
    checkpoint: Path | None = None
    checkpoint_sha256: str | None = None
    head: str = "dex"
    crop_margin: float = DEFAULT_MARGIN
    trained: bool = True
    training_metrics: dict[str, Any] | None = None


def export_keras_model(
    model: Any,
    fmt: str,
    out_dir: Path,
    *,
    crops: np.ndarray,
    source: Source,
    calibration: np.ndarray | None = None,
    tolerance: float | None = None,
    threads: int = 2,
) -> ExportResult:
    """Export an in-memory Keras age model; ``crops`` are the faces verification runs on
    (and INT8 calibrates on unless ``calibration`` is given)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    spec = FORMATS[fmt]
    if fmt == "tftrt-fp16":
        if not tensorrt_available():
            raise ExportError(TFTRT_MISSING)
        raise ExportError("tftrt-fp16 export is not implemented; use --format onnx")
    tolerance = spec.tolerance_years if tolerance is None else tolerance
    size = int(model.inputs[0].shape[1])
    if crops.shape[1:] != (size, size, 3):
        raise ExportError(f"verification crops are {crops.shape[1:]}, the model takes {size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    keras_ages = model.predict(crops, batch_size=16, verbose=0).reshape(-1).astype(np.float32)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        tmp_model = scratch / spec.filename
        if spec.runtime == "onnxruntime":
            convert.to_onnx(model, tmp_model)
        else:
            calib = calibration if calibration is not None else crops
            convert.to_tflite(model, fmt, tmp_model, calib if fmt == "tflite-int8" else None)
        try:
            verification = verify_export(
                tmp_model,
                runtime=spec.runtime,
                crops=crops,
                keras_ages=keras_ages,
                tolerance=tolerance,
                threads=threads,
            )
        except OverTolerance as exc:
            if fmt != "tflite-int8":
                raise
            raise OverTolerance(
                f"{exc}; --format tflite-dynamic quantizes activations per face and is "
                "usually much closer, at about half INT8's speed"
            ) from None
        manifest = Manifest(
            name=f"{source.name}-{fmt}",
            format=fmt,
            model_file=spec.filename,
            sha256=sha256_of(tmp_model),
            input=ModelInput(shape=[None, size, size, 3]),
            output=ModelOutput(head=source.head),
            crop_margin=source.crop_margin,
            trained=source.trained,
            source_checkpoint=str(source.checkpoint) if source.checkpoint else None,
            source_checkpoint_sha256=source.checkpoint_sha256,
            training_metrics=source.training_metrics,
            verification=verification.as_dict(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            edgeage_version=__version__,
        )
        final = out_dir / spec.filename
        os.replace(tmp_model, final)
        write_manifest(manifest, manifest_path(final))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(final, manifest_path(final), manifest, verification)


def export_checkpoint(
    checkpoint: Path,
    fmt: str,
    out_dir: Path,
    *,
    calibration_data: Path | None = None,
    samples: int = 128,
    tolerance: float | None = None,
    crop_margin: float | None = None,
    threads: int = 2,
    trained: bool = True,
) -> ExportResult:
    """Export a training checkpoint: the run's report and config supply the crop margin,
    the training metrics and (when no folder is given) where its face images are."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "tftrt-fp16" and not tensorrt_available():
        raise ExportError(TFTRT_MISSING)  # before the slow checkpoint load
    ckpt = load_checkpoint(checkpoint)
    run_margin = find_key(ckpt.run_info, "crop_margin")
    if crop_margin is None:
        crop_margin = float(run_margin) if run_margin is not None else DEFAULT_MARGIN
    elif run_margin is not None and abs(float(run_margin) - crop_margin) > 1e-6:
        log.warning("--crop-margin %s overrides the run's crop_margin %s", crop_margin, run_margin)
    folder = calibration_data or _run_images(ckpt.run_info)
    if folder is None:
        raise ExportError(
            "no face images to verify (and calibrate) on: pass --calibration-data DIR, "
            "a folder of face photos such as the validation split"
        )
    crops = load_face_crops(folder, ckpt.input_size, samples)
    source = Source(
        name=checkpoint.parent.name or checkpoint.stem,
        checkpoint=checkpoint.resolve(),
        checkpoint_sha256=ckpt.sha256,
        head=ckpt.head,
        crop_margin=crop_margin,
        trained=trained,
        training_metrics=training_metrics(ckpt.report),
    )
    return export_keras_model(
        ckpt.model, fmt, out_dir, crops=crops, source=source, tolerance=tolerance, threads=threads
    )


def _run_images(run_info: dict[str, Any]) -> Path | list[Path] | None:
    """The training run's validation photos: read with the training package's own data
    reader (same split as training) when the report names the data set, else a folder the
    run recorded."""
    report = run_info.get("report.json") or {}
    data = report.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str):
        recipe = report.get("recipe") if isinstance(report.get("recipe"), dict) else {}
        try:
            from edgeage.training.data import DataError, load_dataset

            dataset = load_dataset(
                Path(data["path"]),
                target=data.get("target", "real"),
                validation_split=float(recipe.get("validation_split", 0.25)),
            )
            val = [s.path for s in dataset.split("val") if s.path.is_file()]
        except (ImportError, DataError, ValueError) as exc:
            log.warning("cannot read the run's validation split: %s", exc)
        else:
            if val:
                return val
    for keys in (("val_dir", "validation_dir", "val_images"), ("data_dir", "images")):
        value = find_key(run_info, *keys)
        if isinstance(value, str) and Path(value).is_dir():
            return Path(value)
    return None
