"""Capture in its own thread, handing frames over through a tiny buffer.

The pipeline may be slower than the camera for a moment: a burst of new customers to
estimate, or on 2 cores simply not being scheduled for a frame period while the age model
runs on both. An unbounded queue would then grow and every later frame would be late; one
slot (the newest frame only) drops a frame at every such hiccup. So the buffer holds
``buffer_frames`` frames (2 by default, like a camera driver's few DMA buffers): a stall of
one frame period costs that frame one period of latency instead of losing it, and when the
buffer is full the oldest frame is the one dropped (and counted), so latency stays bounded.
A lost source is reopened with exponential backoff; the thread never dies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from edgeage.edge.frame import Frame
from edgeage.edge.sources import FrameSource, SourceEnded, SourceError

log = logging.getLogger("edgeage.capture")


@dataclass
class CaptureStats:
    frames_in: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    read_errors: int = 0


class Capture:
    def __init__(
        self,
        source: FrameSource,
        *,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 5.0,
        read_timeout_s: float = 3.0,
        buffer_frames: int = 2,
    ) -> None:
        self._source = source
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._read_timeout_s = read_timeout_s
        self._cond = threading.Condition()
        self._frames: deque[Frame] = deque()
        self._buffer_frames = max(1, buffer_frames)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeage-capture", daemon=True)
        self.stats = CaptureStats()
        self.ended = False
        self._open = False
        self._ever_opened = False
        self._last_frame_at = 0.0

    def start(self) -> Capture:
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    @property
    def online(self) -> bool:
        """Open and delivering: a source that hangs without an error also counts as offline."""
        return self._open and time.monotonic() - self._last_frame_at < self._read_timeout_s

    def get(self, timeout: float) -> Frame | None:
        """The oldest buffered frame (frames go in camera order), waiting up to ``timeout``
        seconds for one."""
        with self._cond:
            if not self._frames:
                self._cond.wait(timeout)
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._cond.notify_all()  # a non-live source waits for room in the buffer
            return frame

    def _wait_for_room(self) -> bool:
        """Back-pressure for non-live sources: every frame is processed, none dropped."""
        with self._cond:
            while len(self._frames) >= self._buffer_frames and not self._stop.is_set():
                self._cond.wait(0.1)
        return not self._stop.is_set()

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            if len(self._frames) >= self._buffer_frames:
                self._frames.popleft()
                self.stats.frames_dropped += 1
            self._frames.append(frame)
            self._cond.notify()

    def _run(self) -> None:
        delay = self._backoff[0]
        index = 0
        while not self._stop.is_set():
            if not self._open:
                try:
                    self._source.open()
                except SourceError as exc:
                    log.warning("camera offline: %s; retrying in %.1f s", exc, delay)
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                except Exception:  # a back-end bug must not end capture for good
                    log.exception("unexpected error opening the source")
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                if self._ever_opened:
                    self.stats.reconnects += 1
                    log.info("camera back online")
                else:
                    log.info(
                        "camera opened: %s", self._source.spec.target or self._source.spec.kind
                    )
                self._open = self._ever_opened = True
                self._last_frame_at = time.monotonic()
                delay = self._backoff[0]
            if not self._source.live and not self._wait_for_room():
                break
            try:
                image = self._source.read()
            except SourceEnded:
                log.info("source ended: %s", self._source.spec.target)
                self.ended = True
                break
            except SourceError as exc:
                self.stats.read_errors += 1
                log.warning("camera lost: %s", exc)
                self._close()
                continue
            except Exception:
                self.stats.read_errors += 1
                log.exception("unexpected error reading a frame")
                self._close()
                continue
            if self._stop.is_set():
                break  # shutting down: nobody will take it, so it is neither offered nor dropped
            now = time.time()
            self._last_frame_at = time.monotonic()
            self.stats.frames_in += 1
            self._publish(Frame(image, now, index))
            index += 1
        self._close()
        with self._cond:
            self._cond.notify_all()

    def _close(self) -> None:
        self._open = False
        try:
            self._source.close()
        except Exception:
            log.exception("error closing the source")
