"""Tracking: which face in this frame is which customer from the previous frames.

Greedy association on box overlap (IoU) between each track's *predicted* box (its last box
moved by its recent velocity) and the new faces, so a customer walking briskly past the
camera stays one customer. A centre-distance fallback covers a face that was seen a moment
ago but whose box jumped; it is not used after a longer gap, so the next customer stepping
into the same spot gets a new track. A track ends when it has not been seen for
``max_missing_s``; its id is never reused in the daemon's lifetime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgeage.edge.face import Face
from edgeage.edge.fusion import AgeEstimate, AgeSample

if TYPE_CHECKING:
    from edgeage.edge.config import TrackerConfig

RECENT_S = 0.25  # the centre-distance fallback only bridges gaps this short


@dataclass
class Track:
    id: int
    face: Face
    first_seen: float  # frame ts (unix seconds)
    last_seen: float
    frame_width: int
    frame_height: int
    samples: list[AgeSample] = field(default_factory=list)
    estimate: AgeEstimate | None = None
    pending: int = 0  # crops sent to the age model and not yet answered
    requested: int = 0  # crops ever sent
    last_request: float = -math.inf  # monotonic seconds
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second, smoothed

    def predicted_box(self, ts: float) -> tuple[float, float, float, float]:
        """Where the face should be at ``ts`` if it keeps moving as it did (at most 0.5 s)."""
        dt = min(max(ts - self.last_seen, 0.0), 0.5)
        x, y, w, h = self.face.box
        return (x + self.velocity[0] * dt, y + self.velocity[1] * dt, w, h)

    def move_to(self, face: Face, ts: float) -> None:
        dt = ts - self.last_seen
        if dt > 0:
            (ox, oy), (nx, ny) = self.face.centre, face.centre
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            self.velocity = (0.5 * self.velocity[0] + 0.5 * vx, 0.5 * self.velocity[1] + 0.5 * vy)
        self.face, self.last_seen = face, ts

    @property
    def box_fraction(self) -> list[float]:
        """The face box as fractions of the frame: what events carry, resolution-free."""
        x, y, w, h = self.face.box
        fw, fh = self.frame_width, self.frame_height
        return [round(x / fw, 4), round(y / fh, 4), round(w / fw, 4), round(h / fh, 4)]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    def __init__(
        self,
        *,
        iou_min: float = 0.2,
        max_missing_s: float = 1.0,
        reinfer_ms: float = 250.0,
        samples_max: int = 8,
    ) -> None:
        self.iou_min = iou_min
        self.max_missing_s = max_missing_s
        self.reinfer_s = reinfer_ms / 1000.0
        self.samples_max = samples_max
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    @classmethod
    def from_config(cls, t: TrackerConfig) -> Tracker:
        return cls(
            iou_min=t.iou_min,
            max_missing_s=t.max_missing_s,
            reinfer_ms=t.reinfer_ms,
            samples_max=t.samples_max,
        )

    def update(self, faces: list[Face], ts: float, width: int, height: int) -> list[Track]:
        """Associate this frame's faces; returns the tracks seen in this frame."""
        pairs = []
        for tid, track in self.tracks.items():
            predicted = track.predicted_box(ts)
            recent = ts - track.last_seen <= RECENT_S
            for fi, face in enumerate(faces):
                score = iou(predicted, face.box)
                if score < self.iou_min:
                    if not recent:
                        continue
                    px, py, pw, ph = predicted
                    fx, fy = face.centre
                    reach = 1.0 * max(pw, ph)
                    if math.hypot(px + pw / 2 - fx, py + ph / 2 - fy) > reach:
                        continue
                    score = 0.01  # a match, but any overlapping candidate wins
                pairs.append((score, tid, fi))
        pairs.sort(reverse=True)
        used_tracks: set[int] = set()
        used_faces: set[int] = set()
        seen = []
        for _, tid, fi in pairs:
            if tid in used_tracks or fi in used_faces:
                continue
            used_tracks.add(tid)
            used_faces.add(fi)
            track = self.tracks[tid]
            track.move_to(faces[fi], ts)
            track.frame_width, track.frame_height = width, height
            seen.append(track)
        for fi, face in enumerate(faces):
            if fi not in used_faces:
                track = Track(self._next_id, face, ts, ts, width, height)
                self._next_id += 1
                self.tracks[track.id] = track
                seen.append(track)
        return seen

    def expire(self, now: float) -> list[Track]:
        """Remove and return the tracks unseen for longer than max_missing_s."""
        gone = [t for t in self.tracks.values() if now - t.last_seen > self.max_missing_s]
        for track in gone:
            del self.tracks[track.id]
        return gone

    def due(self, track: Track, now_mono: float) -> bool:
        """Whether this track should send a crop to the age model now.

        A new track goes at once; then one crop every reinfer_ms until samples_max crops
        were sent, then never again: the age model's cost grows with customers, not frames.
        """
        if track.pending or track.requested >= self.samples_max:
            return False
        return now_mono - track.last_request >= self.reinfer_s
