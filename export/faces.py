"""Face crops for INT8 calibration and for verification, made by the serving crop.

The calibration set decides the INT8 value ranges, so it must look like what the till feeds
the model: every image goes through ``edge.crop.face_crop``. Training photos are already
face crops, so each image is taken whole (``full_image_face``, margin 0): exactly the
framing the model learnt from.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeage.edge.crop import face_crop, full_image_face
from edgeage.export.formats import ExportError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


def load_face_crops(
    source: Path | list[Path], size: int, samples: int, margin: float = 0.0
) -> np.ndarray:
    """Up to ``samples`` crops, float32 RGB 0-255 [N, size, size, 3], from a folder of photos
    or a list of photo files, spread evenly over them so every run uses the same ones."""
    if isinstance(source, list):
        files, where = source, f"{len(source)} listed photos"
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise ExportError(f"{folder}: calibration data folder not found")
        files, where = image_files(folder), str(folder)
    if not files:
        raise ExportError(f"{where}: no images (.jpg, .png, ...) to calibrate and verify on")
    if len(files) > samples:
        idx = np.linspace(0, len(files) - 1, samples).round().astype(int)
        files = [files[i] for i in idx]
    crops = []
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        crops.append(face_crop(rgb, full_image_face(rgb), size, margin))
    if not crops:
        raise ExportError(f"{where}: none of the {len(files)} images could be read")
    return np.stack(crops).astype(np.float32)


def synthetic_crops(size: int, n: int, seed: int = 0) -> np.ndarray:
    """Smooth random images: enough to check an untrained model's file, never to calibrate
    a real one."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (n, 8, 8, 3)).astype(np.float32)
    big = [cv2.resize(s, (size, size), interpolation=cv2.INTER_CUBIC) for s in small]
    return np.clip(np.stack(big), 0, 255).astype(np.float32)
