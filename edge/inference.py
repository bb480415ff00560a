"""The age model in its own thread, fed micro-batches of crops from all tracks.

Crops from several customers (and several frames) share one model call: up to
``batch_max`` crops, waiting at most ``batch_wait_ms`` after the first for company, so a
lone new customer is never held back long and a crowd costs fewer calls.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger("edgeage.inference")


class Predictor(Protocol):
    def predict(self, crops: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class AgeRequest:
    track_id: int
    crop: np.ndarray  # S×S×3 RGB uint8; lives in memory only
    weight: float
    frame_ts: float
    first: bool = False  # a new customer's first sample jumps the queue


@dataclass(frozen=True, slots=True)
class AgeResult:
    request: AgeRequest
    age: float | None  # None when the model call failed


class AgeWorker:
    def __init__(
        self,
        model: Predictor,
        *,
        batch_max: int = 8,
        batch_wait_ms: float = 5.0,
        max_queue: int = 256,
        on_batch: Callable[[float], None] | None = None,
    ) -> None:
        self._model = model
        self._batch_max = batch_max
        self._wait_s = batch_wait_ms / 1000.0
        # Entries are (priority, order, request); None is the stop sentinel. First samples
        # of new customers go before refinements of customers already estimated.
        self._in: queue.PriorityQueue[tuple[int, int, AgeRequest | None]] = queue.PriorityQueue(
            max_queue
        )
        self._order = itertools.count()
        self.results: queue.Queue[AgeResult] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="edgeage-age", daemon=True)
        self.batch_ms: deque[float] = deque(maxlen=200)
        self.batches = 0
        self.inferences = 0
        self.errors = 0
        self.rejected = 0
        self._busy = threading.Event()
        self._on_batch = on_batch  # called in this thread with each call's seconds

    def start(self) -> AgeWorker:
        self._thread.start()
        return self

    def submit(self, request: AgeRequest) -> bool:
        """Queue a crop; False when the queue is full (the track simply asks again later)."""
        try:
            self._in.put_nowait((0 if request.first else 1, next(self._order), request))
            return True
        except queue.Full:
            self.rejected += 1
            return False

    @property
    def idle(self) -> bool:
        return self._in.empty() and not self._busy.is_set()

    def stop(self, timeout: float = 1.5) -> None:
        with contextlib.suppress(queue.Full):
            self._in.put_nowait((-1, next(self._order), None))
        self._thread.join(timeout)

    def _collect(self) -> list[AgeRequest] | None:
        first = self._in.get()[2]
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self._wait_s
        while len(batch) < self._batch_max:
            remaining = deadline - time.monotonic()
            try:
                entry = self._in.get(timeout=remaining) if remaining > 0 else self._in.get_nowait()
            except queue.Empty:
                break
            if entry[2] is None:
                self._in.put_nowait(entry)  # stop after this batch
                break
            batch.append(entry[2])
        return batch

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            self._busy.set()
            try:
                start = time.perf_counter()
                ages = self._model.predict(np.stack([r.crop for r in batch]).astype(np.float32))
                took = time.perf_counter() - start
                self.batch_ms.append(took * 1000.0)
                if self._on_batch is not None:
                    self._on_batch(took)
                self.batches += 1
                self.inferences += len(batch)
                for req, age in zip(batch, np.asarray(ages, dtype=np.float64).ravel(), strict=True):
                    ok = bool(np.isfinite(age))
                    self.results.put(AgeResult(req, float(age) if ok else None))
            except Exception:
                self.errors += 1
                log.exception("age model failed on a batch of %d", len(batch))
                for req in batch:
                    self.results.put(AgeResult(req, None))
            finally:
                self._busy.clear()
