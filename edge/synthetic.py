"""`synthetic:` — a built-in checkout scene for demos, tests and benchmarks.

A real face photo (scikit-image's bundled astronaut, so nothing is downloaded) is composited
onto a drawn checkout background. Customers walk in from the side, stand at the till for a
few seconds and leave. Everything is a pure function of the frame index and the options, so
two runs with the same seed show the same customers at the same moments.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

WIDTH, HEIGHT = 1280, 720
WALK_S = 0.8  # walking in, and walking out
STAND_S = 3.0  # at the till
GAP_MIN_S, GAP_MAX_S = 0.8, 1.6  # nobody in the lane between customers


@dataclass(frozen=True)
class Visit:
    """One customer's visit in one lane: arrives at ``start``, gone at ``end`` (seconds)."""

    lane: int
    number: int
    start: float
    scale: float
    flip: bool
    tint: float

    @property
    def end(self) -> float:
        return self.start + 2 * WALK_S + STAND_S


def _face_patch() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head with a soft elliptical alpha mask, so the edges blend."""
    from skimage import data  # a dependency of the synthetic source only

    photo = data.astronaut()  # 512×512 RGB; the face box is about (173, 67, 103, 103)
    head = np.ascontiguousarray(photo[15:245, 120:330])
    h, w = head.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ellipse = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    alpha = np.clip((1.0 - ellipse) * 4.0, 0.0, 1.0)
    return head, alpha


class SyntheticScene:
    """Frames of the scene at ``fps``, with ``faces`` lanes that each hold at most one
    customer at a time."""

    def __init__(self, faces: int = 2, fps: float = 15.0, seed: int = 0) -> None:
        if faces < 0 or faces > 20:
            raise ValueError("faces must be between 0 and 20")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.faces = faces
        self.fps = fps
        self.seed = seed
        self._lanes: dict[int, tuple[list[Visit], np.random.Generator]] = {}
        # Scaled face images of the visits on screen only; dropped when a visit ends.
        self._patches: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    @cached_property
    def background(self) -> np.ndarray:
        img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        ramp = np.linspace(170, 110, HEIGHT, dtype=np.float32)[:, None]
        img[..., 0] = ramp * 0.95
        img[..., 1] = ramp
        img[..., 2] = ramp * 0.9
        cv2.rectangle(img, (0, 560), (WIDTH, HEIGHT), (90, 90, 100), -1)  # the counter
        cv2.rectangle(img, (1040, 420), (1240, 560), (40, 40, 45), -1)  # the till
        for x in range(60, WIDTH, 180):  # shelves behind
            cv2.rectangle(img, (x, 40), (x + 120, 300), (150, 120, 90), 3)
        return img

    @cached_property
    def _head(self) -> tuple[np.ndarray, np.ndarray]:
        return _face_patch()

    def _lane(self, lane: int, until_s: float) -> list[Visit]:
        """This lane's visits starting before ``until_s``, generated once and kept: a long
        run must not redo its whole history every frame."""
        visits, rng = self._lanes.setdefault(lane, ([], np.random.default_rng([self.seed, lane])))
        while not visits or visits[-1].start < until_s:
            if visits:
                t = visits[-1].end + rng.uniform(GAP_MIN_S, GAP_MAX_S)
            else:
                t = rng.uniform(0.0, 1.0) + 0.3 * lane
            visits.append(
                Visit(
                    lane,
                    len(visits),
                    t,
                    scale=float(rng.uniform(0.75, 1.05)),
                    flip=bool(rng.integers(0, 2)),
                    tint=float(rng.uniform(0.85, 1.1)),
                )
            )
        return visits

    def visits(self, until_s: float) -> list[Visit]:
        """Every visit that starts before ``until_s``, in start order."""
        out = [
            v for lane in range(self.faces) for v in self._lane(lane, until_s) if v.start < until_s
        ]
        return sorted(out, key=lambda v: v.start)

    def active(self, t: float) -> list[Visit]:
        """The visits under way at scene time ``t`` (at most one per lane)."""
        out = []
        for lane in range(self.faces):
            visits = self._lane(lane, t + 1e-9)
            i = bisect.bisect_right(visits, t, key=lambda v: v.start) - 1
            if i >= 0 and visits[i].start <= t < visits[i].end:
                out.append(visits[i])
        return out

    def _lane_x(self, lane: int) -> float:
        """Where a customer in this lane stands, as the centre x in pixels."""
        slots = max(self.faces, 1)
        return WIDTH * (lane + 0.5) / slots

    def _position(self, visit: Visit, t: float) -> tuple[float, float] | None:
        rel = t - visit.start
        if rel < 0 or rel >= visit.end - visit.start:
            return None
        stand_x = self._lane_x(visit.lane)
        off_left, off_right = -160.0, WIDTH + 160.0
        enter_from = off_left if visit.lane % 2 == 0 else off_right
        leave_to = off_right if visit.lane % 2 == 0 else off_left
        if rel < WALK_S:
            x = enter_from + (stand_x - enter_from) * (rel / WALK_S)
        elif rel < WALK_S + STAND_S:
            x = stand_x + 6.0 * math.sin(rel * 2.0)  # people sway a little
        else:
            k = (rel - WALK_S - STAND_S) / WALK_S
            x = stand_x + (leave_to - stand_x) * k
        y = 300.0 + 4.0 * math.sin(rel * 3.0)
        return x, y

    def _patch(self, visit: Visit) -> tuple[np.ndarray, np.ndarray]:
        key = (visit.lane, visit.number)
        if key not in self._patches:
            head, alpha = self._head
            zoom = visit.scale * 1.6
            size = (int(head.shape[1] * zoom), int(head.shape[0] * zoom))
            img = cv2.resize(head, size, interpolation=cv2.INTER_AREA).astype(np.float32)
            a = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
            if visit.flip:
                img, a = img[:, ::-1], a[:, ::-1]
            self._patches[key] = (np.clip(img * visit.tint, 0, 255), a[..., None])
        return self._patches[key]

    def render(self, index: int) -> np.ndarray:
        """Frame number ``index`` (RGB, 1280×720)."""
        t = index / self.fps
        frame = self.background.copy()
        on_screen = self.active(t)
        for key in set(self._patches) - {(v.lane, v.number) for v in on_screen}:
            del self._patches[key]
        for visit in on_screen:
            pos = self._position(visit, t)
            if pos is None:
                continue
            img, alpha = self._patch(visit)
            ph, pw = img.shape[:2]
            x0, y0 = int(pos[0] - pw / 2), int(pos[1] - ph / 2)
            fx0, fy0 = max(x0, 0), max(y0, 0)
            fx1, fy1 = min(x0 + pw, WIDTH), min(y0 + ph, HEIGHT)
            if fx1 <= fx0 or fy1 <= fy0:
                continue
            sub = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
            region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
            a = alpha[sub]
            frame[fy0:fy1, fx0:fx1] = (img[sub] * a + region * (1.0 - a)).astype(np.uint8)
        return frame
