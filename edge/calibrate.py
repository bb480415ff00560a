"""`edgeage calibrate`: fitting the daemon to one till's camera, on site.

An installer runs it once with customers (or a colleague) in front of the camera. It
measures the camera as delivered, watches where and how large faces appear, times the age
model on this box, and proposes the few settings that depend on the spot: min_face_px, a
region of interest around the till zone, the detector model, and the batching knobs.
Nothing is saved but numbers, and, only when asked, one preview frame with every face
blurred.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeage.edge.age_model import AgeModel
from edgeage.edge.capture import Capture
from edgeage.edge.config import toml_value
from edgeage.edge.detector import FaceDetector
from edgeage.edge.face import Face

DARK_MEAN = 60.0  # mean luma (0-255) below this: too dark for reliable detection
LOW_CONTRAST_STD = 25.0
BLUR_LAPLACIAN_VAR = 50.0  # variance of the Laplacian below this: out of focus
SHORT_RANGE_FACE_FRACTION = 0.22  # faces this large (of frame height) suit short-range


@dataclass
class CameraReport:
    frames: int
    fps: float
    width: int
    height: int
    brightness: float
    contrast: float
    sharpness: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class FaceReport:
    frames_with_faces: int
    faces: int
    size_px: dict[str, float]  # percentiles p10, p50, p90 of face box side
    centres: list[tuple[float, float]]  # as fractions of the frame
    boxes: list[tuple[float, float, float, float]]  # pixels, for the preview


@dataclass
class ModelTiming:
    ms_per_batch: dict[int, float]

    def per_face(self, n: int) -> float:
        return self.ms_per_batch[n] / n


@dataclass
class Proposal:
    min_face_px: int | None
    roi: tuple[float, float, float, float] | None
    detector_model: str | None
    batch_max: int
    batch_wait_ms: float
    threads: int
    notes: list[str] = field(default_factory=list)

    def fragment(self, header: str) -> str:
        """The TOML fragment `edgeage run` merges over its config."""
        det: dict[str, Any] = {}
        if self.detector_model:
            det["model"] = self.detector_model
        if self.min_face_px is not None:
            det["min_face_px"] = self.min_face_px
        if self.roi is not None:
            det["roi"] = [round(v, 3) for v in self.roi]
        age = {
            "batch_max": self.batch_max,
            "batch_wait_ms": self.batch_wait_ms,
            "threads": self.threads,
        }
        lines = [f"# {line}" for line in header.splitlines()]
        for name, values in (("detector", det), ("age", age)):
            if values:
                lines += ["", f"[{name}]"]
                lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def measure_camera(
    frames: list[np.ndarray], count: int, elapsed_s: float, asked_fps: float | None
) -> CameraReport:
    """Picture quality from a sample of ``frames``; the rate from all ``count`` frames."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames[:: max(len(frames) // 30, 1)]]
    brightness = float(np.mean([g.mean() for g in grey]))
    contrast = float(np.mean([g.std() for g in grey]))
    sharpness = float(np.median([cv2.Laplacian(g, cv2.CV_64F).var() for g in grey]))
    h, w = frames[0].shape[:2]
    fps = count / elapsed_s if elapsed_s > 0 else 0.0
    report = CameraReport(
        count, round(fps, 2), w, h, round(brightness, 1), round(contrast, 1), round(sharpness, 1)
    )
    if brightness < DARK_MEAN:
        report.warnings.append(
            f"the picture is too dark (mean brightness {brightness:.0f} of "
            "255): add light at the till or raise the camera's exposure"
        )
    if contrast < LOW_CONTRAST_STD:
        report.warnings.append(
            f"the picture is flat (contrast {contrast:.0f}): check for glare or a dirty lens"
        )
    if sharpness < BLUR_LAPLACIAN_VAR:
        report.warnings.append(
            f"the picture looks out of focus (sharpness {sharpness:.0f}): "
            "focus the lens on the customer's position"
        )
    if asked_fps and fps < 0.8 * asked_fps:
        report.warnings.append(
            f"the camera delivers {fps:.1f} fps, below the {asked_fps:g} "
            "fps asked for: check the camera's settings and the cable/network"
        )
    if min(w, h) < 360:
        report.warnings.append(f"the resolution {w}x{h} is low: faces may be too small")
    return report


def watch_faces(detections: list[tuple[list[Face], int, int]]) -> FaceReport:
    sizes, centres, boxes = [], [], []
    with_faces = 0
    for faces, w, h in detections:
        if faces:
            with_faces += 1
        for f in faces:
            sizes.append(f.size)
            cx, cy = f.centre
            centres.append((cx / w, cy / h))
            boxes.append(f.box)
    pct = {f"p{p}": round(float(np.percentile(sizes, p)), 1) for p in (10, 50, 90)} if sizes else {}
    return FaceReport(with_faces, len(sizes), pct, centres, boxes)


def time_model(
    model: AgeModel, batches: tuple[int, ...] = (1, 2, 4, 8), repeats: int = 3
) -> ModelTiming:
    s = model.input_size
    rng = np.random.default_rng(0)
    out = {}
    for n in batches:
        crops = rng.uniform(0, 255, (n, s, s, 3)).astype(np.float32)
        model.predict(crops)  # warm-up: allocation for this batch size
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.predict(crops)
            times.append((time.perf_counter() - t0) * 1000.0)
        out[n] = round(float(np.median(times)), 3)
    return ModelTiming(out)


def propose(camera: CameraReport, faces: FaceReport, timing: ModelTiming) -> Proposal:
    notes: list[str] = []
    min_face_px = roi = detector_model = None
    if faces.faces:
        # Ignore faces clearly smaller than the customers at the till: people queueing.
        min_face_px = max(20, int(faces.size_px["p10"] * 0.6))
        xs = np.array([c[0] for c in faces.centres])
        ys = np.array([c[1] for c in faces.centres])
        pad = faces.size_px["p50"] / max(camera.width, 1)
        x0, x1 = np.percentile(xs, 2) - 2 * pad, np.percentile(xs, 98) + 2 * pad
        pad_y = faces.size_px["p50"] / max(camera.height, 1)
        y0, y1 = np.percentile(ys, 2) - 2 * pad_y, np.percentile(ys, 98) + 2 * pad_y
        roi = (max(0.0, float(x0)), max(0.0, float(y0)), min(1.0, float(x1)), min(1.0, float(y1)))
        share = faces.size_px["p50"] / max(camera.height, 1)
        detector_model = "short" if share >= SHORT_RANGE_FACE_FRACTION else "full"
        notes.append(
            f"median face {faces.size_px['p50']:.0f} px ({share:.0%} of the frame "
            f"height): {detector_model}-range detector"
        )
    # Batch as large as costs at most 1.5× a single crop, so a lone new customer never
    # waits long behind others; wait for company no longer than a tenth of one call.
    one = timing.ms_per_batch[1]
    batch_max = max(n for n, ms in timing.ms_per_batch.items() if n == 1 or ms <= 1.5 * one + 0.05)
    best = min(timing.ms_per_batch, key=timing.per_face)
    notes.append(
        f"age model {one:.1f} ms for one face, {timing.per_face(best):.1f} ms per face "
        f"at batch {best}"
    )
    return Proposal(
        min_face_px,
        roi,
        detector_model,
        batch_max,
        round(min(max(one * 0.1, 1.0), 20.0), 1),
        min(os.cpu_count() or 1, 4),
        notes,
    )


def _blur_box(out: np.ndarray, box: tuple[float, float, float, float]) -> tuple[int, ...] | None:
    """Pixelate, then blur the whole head around ``box``: only a colour blob survives."""
    h, w = out.shape[:2]
    x, y, bw, bh = box
    pad = 0.5 * max(bw, bh)  # the whole head: hair and ears help a detector too
    x0, y0 = max(int(x - pad), 0), max(int(y - pad), 0)
    x1, y1 = min(int(x + bw + pad), w), min(int(y + bh + pad), h)
    if x1 <= x0 or y1 <= y0:
        return None
    region = out[y0:y1, x0:x1]
    small = cv2.resize(
        region, (max((x1 - x0) // 32, 1), max((y1 - y0) // 32, 1)), interpolation=cv2.INTER_AREA
    )
    block = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    out[y0:y1, x0:x1] = cv2.GaussianBlur(block, (0, 0), sigmaX=max(x1 - x0, 8) / 6)
    return x0, y0, x1, y1


def blurred_preview(
    frame: np.ndarray,
    faces: list[Face],
    roi: tuple[float, float, float, float] | None,
    detector: FaceDetector | None = None,
    passes: int = 3,
    annotate: bool = True,
) -> np.ndarray:
    """An annotated copy of one frame, every face blurred beyond recognition first.

    With ``detector`` (IMAGE mode, low confidence), the blurred copy is searched again and
    anything face-like that the first pass missed is blurred too, up to ``passes`` times:
    a face the calibration detector overlooked must not survive into a file.
    """
    out = frame.copy()
    boxes = [b for f in faces if (b := _blur_box(out, f.box)) is not None]
    for _ in range(passes if detector is not None else 0):
        missed = detector.detect(out)
        if not missed:
            break
        boxes += [b for f in missed if (b := _blur_box(out, f.box)) is not None]
    if not annotate:
        return out
    h, w = out.shape[:2]
    for x0, y0, x1, y1 in boxes:
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 200, 0), 2)
    if roi is not None:
        rx0, ry0, rx1, ry1 = roi
        cv2.rectangle(
            out, (int(rx0 * w), int(ry0 * h)), (int(rx1 * w), int(ry1 * h)), (0, 255, 0), 3
        )
        cv2.putText(
            out,
            "ROI",
            (int(rx0 * w) + 8, int(ry0 * h) + 30),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.0,
            (0, 255, 0),
            2,
        )
    return out


@dataclass
class CalibrationRun:
    camera: CameraReport
    faces: FaceReport
    timing: ModelTiming
    proposal: Proposal
    preview: np.ndarray | None


class CalibrationError(Exception):
    """Calibration cannot give advice (no camera, no face); the message says what to do."""


def calibrate(
    capture: Capture,
    detector: FaceDetector,
    model: AgeModel,
    duration_s: float,
    asked_fps: float | None,
    want_preview: bool,
    progress: Callable[[float], None] | None = None,
    preview_detector: FaceDetector | None = None,
) -> CalibrationRun:
    capture.start()
    try:
        frames_for_camera: list[np.ndarray] = []
        detections: list[tuple[list[Face], int, int]] = []
        best: tuple[int, np.ndarray | None, list[Face]] = (0, None, [])
        first_at: float | None = None
        count = 0
        start = time.monotonic()
        deadline = start + duration_s
        while time.monotonic() < deadline:
            if progress:
                progress(min((time.monotonic() - start) / duration_s, 1.0))
            frame = capture.get(timeout=0.2)
            if frame is None:
                if capture.ended:
                    break
                continue
            if first_at is None:
                first_at = time.monotonic()
            count += 1
            if len(frames_for_camera) < 60:
                frames_for_camera.append(frame.image)
            faces = detector.detect(frame.image, frame.ts)
            detections.append((faces, frame.width, frame.height))
            if want_preview and len(faces) > best[0]:
                best = (len(faces), frame.image.copy(), faces)
        elapsed = time.monotonic() - (first_at or start)
    finally:
        capture.stop()
    if not frames_for_camera:
        raise CalibrationError(
            "no frame from the camera during calibration: check source.uri, the cable or "
            "network, and that this user may open the device (group 'video')"
        )
    camera = measure_camera(frames_for_camera, count, elapsed, asked_fps)
    faces = watch_faces(detections)
    if not faces.faces:
        raise CalibrationError(
            f"no face seen in {duration_s:g} s ({count} frames): stand where customers stand, "
            "facing the camera, and run it again; check the camera points at the till and "
            "the picture is lit" + ("" if not camera.warnings else f" ({camera.warnings[0]})")
        )
    timing = time_model(model)
    proposal = propose(camera, faces, timing)
    preview = (
        blurred_preview(best[1], best[2], proposal.roi, preview_detector)
        if want_preview and best[1] is not None
        else None
    )
    return CalibrationRun(camera, faces, timing, proposal, preview)


def save_preview(image_rgb: np.ndarray, path: Path) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
