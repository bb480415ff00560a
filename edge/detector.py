"""Face detection with the MediaPipe Tasks FaceDetector (BlazeFace) in VIDEO mode."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from edgeage.edge.face import Face
from edgeage.edge.native_logs import quiet_native_stderr


class DetectorError(Exception):
    """The detector model cannot be loaded; raised at start-up only."""


@contextlib.contextmanager
def _without_tensorflow() -> Iterator[None]:
    """MediaPipe imports TensorFlow at import time when it is installed (for docs and file
    I/O it can do without). Hide it during the import so the edge stays TF-free even in a
    development environment that has TensorFlow for training."""
    if "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        del sys.modules["tensorflow"]


with _without_tensorflow():
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import face_detector as mp_face
    from mediapipe.tasks.python.vision.core.vision_task_running_mode import (
        VisionTaskRunningMode,
    )


class FaceDetector:
    """Finds faces in RGB frames. Use as a context manager: MediaPipe's task must be closed
    before interpreter exit or it raises from its finaliser."""

    def __init__(
        self,
        model_path: Path,
        *,
        min_confidence: float = 0.5,
        min_face_px: int = 1,
        roi: tuple[float, float, float, float] | None = None,
        video: bool = True,
    ) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise DetectorError(
                f"{model_path}: face detector model not found (run `edgeage models fetch`)"
            )
        options = mp_face.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=VisionTaskRunningMode.VIDEO if video else VisionTaskRunningMode.IMAGE,
            min_detection_confidence=min_confidence,
        )
        try:
            with quiet_native_stderr():
                self._task = mp_face.FaceDetector.create_from_options(options)
                # Warm up on a blank frame: the first call initialises the graph, which would
                # otherwise add its cost (and its log lines) to the first customer.
                blank = mp.Image(
                    image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)
                )
                if video:
                    self._task.detect_for_video(blank, 0)
                else:
                    self._task.detect(blank)
        except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with long text
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DetectorError(
                f"{model_path}: not a usable face detector model ({first})"
            ) from None
        self._video = video
        self._min_face_px = min_face_px
        self._roi = roi
        self._last_ts_ms = 0

    def detect(self, rgb: np.ndarray, ts: float = 0.0) -> list[Face]:
        """Faces in one frame (H×W×3 uint8 RGB); ts in seconds must grow in VIDEO mode."""
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self._video:
            ts_ms = max(int(ts * 1000), self._last_ts_ms + 1)
            self._last_ts_ms = ts_ms
            result = self._task.detect_for_video(image, ts_ms)
        else:
            result = self._task.detect(image)
        h, w = rgb.shape[:2]
        faces = []
        for det in result.detections:
            bb = det.bounding_box
            kps = tuple((k.x * w, k.y * h) for k in (det.keypoints or ()))
            score = det.categories[0].score if det.categories else 0.0
            face = Face(
                (float(bb.origin_x), float(bb.origin_y), float(bb.width), float(bb.height)),
                float(score),
                kps,
            )
            if face.size >= self._min_face_px and self._in_roi(face, w, h):
                faces.append(face)
        return faces

    def _in_roi(self, face: Face, w: int, h: int) -> bool:
        if self._roi is None:
            return True
        cx, cy = face.centre
        x0, y0, x1, y1 = self._roi
        return x0 * w <= cx <= x1 * w and y0 * h <= cy <= y1 * h

    def close(self) -> None:
        if self._task is not None:
            with quiet_native_stderr():
                self._task.close()
            self._task = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
