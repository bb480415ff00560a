"""The single definition of "a face crop", shared by serving and training.

The daemon feeds the age model exactly what this function produces, and training
(`--recrop`) and INT8 calibration call the same function, so a model never sees crops at
the till that differ from the ones it learnt on.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edgeage.edge.face import LEFT_EYE, RIGHT_EYE, Face

DEFAULT_MARGIN = 0.4


def eye_angle(face: Face) -> float:
    """Roll of the head in radians, from the line through the eyes (0 when unknown)."""
    if len(face.keypoints) <= LEFT_EYE:
        return 0.0
    (rx, ry), (lx, ly) = face.keypoints[RIGHT_EYE], face.keypoints[LEFT_EYE]
    # The subject's right eye appears on the image's left, so dx is normally positive.
    return math.atan2(ly - ry, lx - rx)


def face_crop(
    image: np.ndarray, face: Face, size: int, margin: float = DEFAULT_MARGIN
) -> np.ndarray:
    """Rotate so the eyes are level, take a square of side max(w, h) * (1 + margin) around the
    box centre and resize it to size × size.

    One warpAffine does rotation, cropping and scaling together, touching only the output
    pixels, so the cost does not depend on the frame's resolution. Parts of the square outside
    the frame (a face cut by the edge) repeat the border pixels instead of failing.
    """
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    cx, cy = face.centre
    side = max(face.box[2], face.box[3]) * (1.0 + margin)
    if side <= 0 or not math.isfinite(side):
        raise ValueError("face box has no area")
    scale = size / side
    angle = eye_angle(face)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # Maps a source point p to R(-angle)·(p - c)·scale + size/2.
    matrix = np.array(
        [[cos, sin, size / 2 - cos * cx - sin * cy], [-sin, cos, size / 2 + sin * cx - cos * cy]],
        dtype=np.float64,
    )
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def full_image_face(image: np.ndarray) -> Face:
    """A face covering the whole image, for training photos that are already face crops."""
    h, w = image.shape[:2]
    return Face(box=(0.0, 0.0, float(w), float(h)), score=1.0)
