"""The daemon's main loop: newest frame → faces → tracks → crops → age worker → events.

Data flows one way. This thread owns the detector, the tracker and both ZeroMQ sockets;
capture and the age model run in their own threads and hand over through a one-frame slot
and two queues. The loop never waits long on anything, so heartbeats and snapshot answers
keep coming while the camera is offline, and no bad frame can end it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeage.edge.capture import Capture
from edgeage.edge.config import Config
from edgeage.edge.crop import face_crop
from edgeage.edge.detector import FaceDetector
from edgeage.edge.frame import Frame
from edgeage.edge.fusion import AgeSample, fuse, sample_weight
from edgeage.edge.inference import AgeRequest, AgeWorker
from edgeage.edge.observers import PipelineObserver
from edgeage.edge.publisher import Publisher
from edgeage.edge.tracker import Track, Tracker

log = logging.getLogger("edgeage.pipeline")

MIN_FRAME_SIDE = 16  # anything smaller cannot hold a face worth estimating
RESULT_GRACE_S = 2.0  # how long an ended track waits for answers still in the age model


@dataclass
class PipelineStats:
    started: float = field(default_factory=time.monotonic)
    frames_processed: int = 0
    frame_errors: int = 0
    first_latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    all_latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    tracks_started: int = 0
    tracks_ended: int = 0
    detect_track_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))


class _Rate:
    """Events per second over the last heartbeat interval."""

    def __init__(self) -> None:
        self._last_count = 0
        self._last_t = time.monotonic()

    def update(self, count: int) -> float:
        now = time.monotonic()
        dt = now - self._last_t
        rate = (count - self._last_count) / dt if dt > 0 else 0.0
        self._last_count, self._last_t = count, now
        return round(rate, 2)


class Pipeline:
    def __init__(
        self,
        cfg: Config,
        *,
        capture: Capture,
        detector: FaceDetector,
        worker: AgeWorker,
        publisher: Publisher,
        model_info: dict[str, Any],
        input_size: int,
        crop_margin: float,
    ) -> None:
        self.cfg = cfg
        self.capture = capture
        self.detector = detector
        self.worker = worker
        self.publisher = publisher
        self.model_info = model_info
        self.input_size = input_size
        self.crop_margin = crop_margin
        self.tracker = Tracker.from_config(cfg.tracker)
        self.stats = PipelineStats()
        self.state = "starting"
        self._fps_in = _Rate()
        self._fps_processed = _Rate()
        self._next_heartbeat = 0.0
        self._last_error_log = 0.0
        self.observers: list[PipelineObserver] = []
        self._ready = False

    def _tell(self, hook: str, *args: Any) -> None:
        """Call one hook on every observer; an observer's failure never reaches the loop."""
        for observer in self.observers:
            try:
                getattr(observer, hook)(*args)
            except Exception:
                log.exception("observer %s.%s failed", type(observer).__name__, hook)

    # -- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        self.capture.start()
        self.worker.start()
        self._heartbeat()
        deadline = time.monotonic() + duration if duration else None
        try:
            while not stop.is_set():
                self._tell("on_tick")
                frame = self.capture.get(timeout=0.005)
                if frame is not None:
                    self._process(frame)
                self._drain_results()
                self._end_tracks(time.time())
                self.publisher.serve_snapshots(self.snapshot_tracks)
                if time.monotonic() >= self._next_heartbeat:
                    self._heartbeat()
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self.capture.ended and self.worker.idle and self.worker.results.empty():
                    log.info("source finished; stopping")
                    break
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop in well under 2 s: last status says 'stopping', remaining tracks end."""
        self.state = "stopping"
        self._tell("on_stopping")
        self.capture.stop(timeout=0.5)
        self.worker.stop(timeout=0.8)
        self._drain_results()
        for track in list(self.tracker.tracks.values()):
            self._publish_track_end(track)
        self.tracker.tracks.clear()
        self._heartbeat()

    # -- stages -------------------------------------------------------------------------

    def _process(self, frame: Frame) -> None:
        image = frame.image
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < MIN_FRAME_SIDE:
            self._frame_error(f"unusable frame of shape {list(image.shape)}")
            return
        start = time.perf_counter()
        try:
            faces = self.detector.detect(image, frame.ts)
        except Exception as exc:  # a corrupt frame must never end the loop
            self._frame_error(f"detection failed: {exc}")
            return
        seen = self.tracker.update(faces, frame.ts, frame.width, frame.height)
        self.stats.detect_track_ms.append((time.perf_counter() - start) * 1000.0)
        self.stats.frames_processed += 1
        if not self._ready:  # the camera delivers and the model is loaded
            self._ready = True
            self._tell("on_ready")
        now_mono = time.monotonic()
        for track in seen:
            if track.first_seen == frame.ts and track.requested == 0 and not track.samples:
                self.stats.tracks_started += 1
            if self.tracker.due(track, now_mono):
                self._request_age(track, frame, now_mono)

    def _request_age(self, track: Track, frame: Frame, now_mono: float) -> None:
        try:
            crop = face_crop(frame.image, track.face, self.input_size, self.crop_margin)
        except Exception as exc:
            self._frame_error(f"crop failed: {exc}")
            return
        weight = sample_weight(track.face.size, track.face.score)
        request = AgeRequest(track.id, crop, weight, frame.ts, first=track.estimate is None)
        if self.worker.submit(request):
            track.pending += 1
            track.requested += 1
            track.last_request = now_mono

    def _drain_results(self) -> None:
        while True:
            try:
                result = self.worker.results.get_nowait()
            except Exception:
                return
            track = self.tracker.tracks.get(result.request.track_id)
            if track is None:
                continue
            track.pending = max(track.pending - 1, 0)
            if result.age is None:
                track.requested -= 1  # ask again at the next due time
                continue
            track.samples.append(
                AgeSample(result.age, result.request.weight, result.request.frame_ts)
            )
            estimate = fuse(track.samples)
            first = track.estimate is None
            if first or estimate != track.estimate:
                track.estimate = estimate
                msg = self._publish("age", self._age_payload(track, result.request))
                latency = msg["ts"] - result.request.frame_ts
                self.stats.all_latency_ms.append(latency * 1000.0)
                self._tell("on_latency", "all", latency)
                if first:
                    self.stats.first_latency_ms.append(latency * 1000.0)
                    self._tell("on_latency", "first", latency)

    def _end_tracks(self, now: float) -> None:
        for track in list(self.tracker.tracks.values()):
            missing = now - track.last_seen
            if missing <= self.tracker.max_missing_s:
                continue
            if track.pending and missing <= self.tracker.max_missing_s + RESULT_GRACE_S:
                continue  # its last answers are still in the age model
            del self.tracker.tracks[track.id]
            self._publish_track_end(track)

    # -- messages -----------------------------------------------------------------------

    def _age_payload(self, track: Track, request: AgeRequest) -> dict[str, Any]:
        est = track.estimate
        assert est is not None
        return {
            "track": track.id,
            "frame_ts": round(request.frame_ts, 4),
            "age": est.age,
            "age_low": est.low,
            "age_high": est.high,
            "samples": est.samples,
            "check_id": est.age < self.cfg.policy.challenge_age,
            "face": {"box": track.box_fraction, "score": round(track.face.score, 3)},
            "model": self.model_info,
        }

    def _publish_track_end(self, track: Track) -> None:
        self.stats.tracks_ended += 1
        self.publisher.publish(
            "track_end",
            {
                "track": track.id,
                "age": track.estimate.age if track.estimate else None,
                "samples": len(track.samples),
                "first_seen": round(track.first_seen, 4),
                "last_seen": round(track.last_seen, 4),
            },
        )

    def _publish(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        msg = self.publisher.publish(topic, payload)
        self._tell("on_event", topic)
        return msg

    def snapshot_tracks(self) -> list[dict[str, Any]]:
        out = []
        for track in self.tracker.tracks.values():
            est = track.estimate
            out.append(
                {
                    "track": track.id,
                    "age": est.age if est else None,
                    "age_low": est.low if est else None,
                    "age_high": est.high if est else None,
                    "samples": len(track.samples),
                    "check_id": (est.age < self.cfg.policy.challenge_age) if est else None,
                    "last_seen": round(track.last_seen, 4),
                }
            )
        return out

    def _current_state(self) -> str:
        if self.state == "stopping":
            return "stopping"
        if self.capture.online:
            return "running"
        uptime = time.monotonic() - self.stats.started
        if self.capture.stats.frames_in or uptime > self.cfg.source.read_timeout_s:
            return "camera_offline"
        return "starting"

    def status_payload(self) -> dict[str, Any]:
        batch_ms = list(self.worker.batch_ms)
        return {
            "state": self.state,
            "uptime_s": round(time.monotonic() - self.stats.started, 3),
            "fps_in": self._fps_in.update(self.capture.stats.frames_in),
            "fps_processed": self._fps_processed.update(self.stats.frames_processed),
            "frames_dropped": self.capture.stats.frames_dropped,
            "tracks": len(self.tracker.tracks),
            "infer_ms_p50": round(float(np.median(batch_ms)), 2) if batch_ms else None,
            "reconnects": self.capture.stats.reconnects,
        }

    def _heartbeat(self) -> None:
        previous = self.state
        self.state = self._current_state()
        if previous != self.state and previous != "starting" and self.state != "stopping":
            log.warning("state %s -> %s", previous, self.state)
        status = self.status_payload()
        self._publish("status", status)
        self._tell("on_status", status)
        self._next_heartbeat = time.monotonic() + self.cfg.publisher.heartbeat_s

    def _frame_error(self, message: str) -> None:
        self.stats.frame_errors += 1
        now = time.monotonic()
        if now - self._last_error_log > 10.0:  # one line per 10 s, not one per frame
            log.warning("%s (%d frame errors so far)", message, self.stats.frame_errors)
            self._last_error_log = now
