"""``--recrop``: crop training photos the way the till will, with the edge's own detector and
``face_crop``, so training learns from exactly the framing the daemon feeds the model.

Crops are cached as PNG files named by a hash of the source file (path, size, mtime) and the
crop settings, so a second run, or a resumed one, detects nothing again; changing the image
size, margin or detector model gives new files instead of stale ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from edgeage.training.data import DataError, Sample


@dataclass
class RecropStats:
    detected: int = 0
    no_face: int = 0  # no face found: the whole photo is used as the face box
    cached: int = 0

    def summary(self) -> str:
        return (
            f"recrop: {self.detected} detected, {self.no_face} without a detectable face "
            f"(whole photo used), {self.cached} from cache"
        )


def cache_key(source: Path, size: int, margin: float, detector: Path, min_confidence: float) -> str:
    st = source.stat()
    text = (
        f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{size}|{margin}|"
        f"{detector.name}|{min_confidence}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def recrop_samples(
    samples: list[Sample],
    size: int,
    cache_dir: Path,
    margin: float | None = None,
    detector_model: Path | None = None,
    min_confidence: float = 0.5,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Sample], RecropStats]:
    """The samples re-pointed at cached crops of ``size`` pixels."""
    from edgeage.edge.crop import DEFAULT_MARGIN, face_crop, full_image_face
    from edgeage.edge.detector import DetectorError, FaceDetector
    from edgeage.edge.detector_models import resolve

    margin = DEFAULT_MARGIN if margin is None else margin
    model_path = Path(detector_model) if detector_model else resolve("full", None)
    cache_dir.mkdir(parents=True, exist_ok=True)
    stats = RecropStats()
    out: list[Sample] = []
    detector = None
    try:
        for i, sample in enumerate(samples):
            target = cache_dir / (
                cache_key(sample.source, size, margin, model_path, min_confidence) + ".png"
            )
            if target.exists():
                stats.cached += 1
            else:
                if detector is None:
                    try:
                        detector = FaceDetector(
                            model_path, min_confidence=min_confidence, video=False
                        )
                    except DetectorError as exc:
                        raise DataError(str(exc)) from None
                bgr = cv2.imread(str(sample.source), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise DataError(f"{sample.source}: cannot read the photo to recrop")
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                faces = detector.detect(rgb)
                if faces:
                    face = max(faces, key=lambda f: (f.size, f.score))
                    stats.detected += 1
                else:
                    face = full_image_face(rgb)
                    stats.no_face += 1
                crop = face_crop(rgb, face, size, margin)
                tmp = target.with_suffix(".tmp.png")
                cv2.imwrite(str(tmp), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
                tmp.replace(target)  # a crash never leaves a half-written cache entry
            out.append(Sample(target, sample.age, sample.source, sample.split))
            if on_progress is not None:
                on_progress(i + 1)
    finally:
        if detector is not None:
            detector.close()
    return out, stats
