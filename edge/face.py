"""A detected face: the only thing the detector hands downstream (no pixels)."""

from __future__ import annotations

from dataclasses import dataclass

# BlazeFace keypoint order (MediaPipe): the subject's right eye, left eye, nose tip,
# mouth centre, right ear tragion, left ear tragion.
RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)


@dataclass(frozen=True, slots=True)
class Face:
    """Box (x, y, w, h) and keypoints in pixels of the frame it was found in."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    @property
    def size(self) -> float:
        """Side of the face box in pixels; what `detector.min_face_px` is compared with."""
        return min(self.box[2], self.box[3])
