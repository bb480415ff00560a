"""Assembling the daemon from a Config, checking everything that can be checked at start-up.

Every failure here is a one-line StartupError (exit code 2): a missing or broken model, a
source URI that cannot mean anything, a port in use. Once ``build`` returns, nothing the
outside world does (camera unplugged, bad frames, bad requests) stops the daemon.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeage.edge import detector_models
from edgeage.edge.age_model import AgeModel, AgeModelError, load_age_model
from edgeage.edge.capture import Capture
from edgeage.edge.config import Config
from edgeage.edge.detector import DetectorError, FaceDetector
from edgeage.edge.inference import AgeWorker
from edgeage.edge.metrics import Metrics, MetricsError
from edgeage.edge.notify import SystemdNotifier
from edgeage.edge.observers import SystemdObserver
from edgeage.edge.pipeline import Pipeline
from edgeage.edge.publisher import Publisher, PublisherError
from edgeage.edge.security import (
    SecurityError,
    ServerKeys,
    is_loopback_endpoint,
    load_server_keys,
)
from edgeage.edge.sources import BadSourceURI, make_source

log = logging.getLogger("edgeage.daemon")


class StartupError(Exception):
    """The daemon cannot start with this configuration; one line for the operator."""


@dataclass
class Daemon:
    cfg: Config
    pipeline: Pipeline
    detector: FaceDetector
    publisher: Publisher
    model: AgeModel
    metrics: Metrics | None
    notifier: SystemdNotifier

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        # Everything built so far (MediaPipe, LiteRT, ZeroMQ, pydantic: over 100,000 objects)
        # lives as long as the process. Left to the collector, each full collection walks
        # them all and holds the GIL for 15-35 ms, a whole frame at 30 fps, and the camera
        # frame that arrives meanwhile is dropped. Frozen, they are never scanned again.
        gc.freeze()
        try:
            self.pipeline.run(stop, duration)
        finally:
            self.close()

    def close(self) -> None:
        self.detector.close()
        self.publisher.close()
        self.notifier.close()
        if self.metrics is not None:
            self.metrics.close()


def open_detector(cfg: Config, *, video: bool = True) -> FaceDetector:
    path = detector_models.resolve(cfg.detector.model, cfg.detector.model_dir)
    try:
        return FaceDetector(
            path,
            min_confidence=cfg.detector.min_confidence,
            min_face_px=cfg.detector.min_face_px,
            roi=cfg.detector.roi,
            video=video,
        )
    except DetectorError as exc:
        raise StartupError(str(exc)) from None


def open_age_model(cfg: Config, path: Path | None = None) -> AgeModel:
    path = path or cfg.age.model
    if path is None:
        raise StartupError(
            "no age model configured: set age.model (or --model), or try `edgeage demo`"
        )
    a = cfg.age
    try:
        model = load_age_model(
            Path(path),
            runtime=a.runtime,
            threads=a.threads,
            batch_max=a.batch_max,
            providers=a.providers,
            input_size=a.input_size,
            crop_margin=a.crop_margin,
        )
    except AgeModelError as exc:
        raise StartupError(str(exc)) from None
    warm_up(model, a.batch_max)
    return model


def warm_up(model: AgeModel, batch_max: int) -> None:
    """Run the largest batch once, then one crop, before the first customer.

    The runtime sizes its memory arena on the first call at each batch size (about 0.1 s for
    ResNet50); after the largest one, smaller batches reuse it. Doing that here keeps the
    cost out of the first customer's latency and out of the processing loop's first frames.
    """
    s = model.input_size
    try:
        model.predict(np.zeros((max(batch_max, 1), s, s, 3), np.float32))
        model.predict(np.zeros((1, s, s, 3), np.float32))
    except Exception as exc:  # a model that cannot run a batch is unusable: say so now
        raise StartupError(
            f"{model.path}: the age model fails on a batch of {batch_max}: {exc}"
        ) from None


def model_info(model: AgeModel) -> dict[str, object]:
    return {"name": model.name, "sha256": model.sha256, "trained": model.trained}


def check_exposure(cfg: Config) -> ServerKeys | None:
    """Refuse to publish age estimates to the network in the clear, unless told to."""
    p = cfg.publisher
    if p.curve is not None:
        keys = load_server_keys(p.curve.server_secret_key, p.curve.clients_dir)
        log.info("CURVE on: only clients with a key in %s can connect", p.curve.clients_dir)
        return keys
    for name, endpoint in (("events", p.events), ("snapshot", p.snapshot)):
        if is_loopback_endpoint(endpoint):
            continue
        if not p.allow_insecure:
            raise SecurityError(
                f"publisher.{name} = {endpoint} is reachable from the network but CURVE is not "
                "configured: set publisher.curve (see `edgeage keys generate`), bind to "
                "127.0.0.1, or set publisher.allow_insecure = true"
            )
        log.warning(
            "publisher.%s = %s is reachable from the network WITHOUT encryption or "
            "authentication (publisher.allow_insecure = true)",
            name,
            endpoint,
        )
    return None


def build(cfg: Config) -> Daemon:
    """Open everything in the order that fails fastest and cheapest."""
    s = cfg.source
    try:
        source = make_source(
            s.uri, width=s.width, height=s.height, fps=s.fps, timeout_s=s.read_timeout_s
        )
    except BadSourceURI as exc:
        raise StartupError(str(exc)) from None
    model = open_age_model(cfg)
    detector = open_detector(cfg)
    try:
        keys = check_exposure(cfg)
    except SecurityError as exc:
        detector.close()
        raise StartupError(str(exc)) from None
    try:
        publisher = Publisher(
            cfg.publisher.events,
            cfg.publisher.snapshot,
            s.camera_id,
            sndhwm=cfg.publisher.sndhwm,
            curve=keys,
        )
    except PublisherError as exc:
        detector.close()
        raise StartupError(str(exc)) from None
    if not model.trained:
        log.warning(
            "age model %s is UNTRAINED: every age is a placeholder until a trained "
            "model is exported and configured",
            model.name,
        )
    log.info(
        "age model %s (%s, %d px, sha256 %s)",
        model.name,
        model.runtime,
        model.input_size,
        model.sha256[:12],
    )
    log.info(
        "events on %s, snapshots on %s", publisher.events_endpoint, publisher.snapshot_endpoint
    )
    metrics = None
    if cfg.metrics.listen:
        metrics = Metrics(s.camera_id)
        try:
            metrics.serve(cfg.metrics.listen)
        except MetricsError as exc:
            detector.close()
            publisher.close()
            raise StartupError(str(exc)) from None
        log.info("metrics on http://%s/metrics", cfg.metrics.listen)
    capture = Capture(
        source,
        reconnect_min_s=s.reconnect_min_s,
        reconnect_max_s=s.reconnect_max_s,
        read_timeout_s=s.read_timeout_s,
        buffer_frames=s.buffer_frames,
    )
    worker = AgeWorker(
        model,
        batch_max=cfg.age.batch_max,
        batch_wait_ms=cfg.age.batch_wait_ms,
        on_batch=metrics.on_inference if metrics else None,
    )
    pipeline = Pipeline(
        cfg,
        capture=capture,
        detector=detector,
        worker=worker,
        publisher=publisher,
        model_info=model_info(model),
        input_size=model.input_size,
        crop_margin=model.crop_margin,
    )
    notifier = SystemdNotifier()
    if notifier.enabled:
        pipeline.observers.append(SystemdObserver(notifier))
    if metrics:
        pipeline.observers.append(metrics)
    return Daemon(cfg, pipeline, detector, publisher, model, metrics, notifier)
