"""Optional Prometheus endpoint: the figures of `status`, plus latency histograms.

Off unless ``metrics.listen`` is set. Uses its own CollectorRegistry (no process-global
state), served by prometheus-client's own HTTP server thread.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from edgeage.edge.observers import PipelineObserver

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
INFER_BUCKETS_S = (0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)
STATES = ("starting", "running", "camera_offline", "stopping")


class MetricsError(Exception):
    """The endpoint cannot listen (bad address, port in use); raised at start-up."""


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise MetricsError(f"metrics.listen {listen!r} must be host:port, e.g. 127.0.0.1:9108")
    return host.strip("[]") or "127.0.0.1", int(port)


class Metrics(PipelineObserver):
    def __init__(self, camera: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, lbl = self.registry, ["camera"]
        self._camera = camera
        self.state = Gauge(
            "edgeage_state", "1 for the daemon's current state", ["camera", "state"], registry=r
        )
        self.uptime = Gauge("edgeage_uptime_seconds", "seconds since start", lbl, registry=r)
        self.fps_in = Gauge("edgeage_fps_in", "frames per second from the source", lbl, registry=r)
        self.fps_processed = Gauge(
            "edgeage_fps_processed", "frames per second processed", lbl, registry=r
        )
        self.dropped = Gauge(
            "edgeage_frames_dropped_total",
            "frames skipped because a newer one arrived",
            lbl,
            registry=r,
        )
        self.tracks = Gauge("edgeage_tracks", "customers currently tracked", lbl, registry=r)
        self.reconnects = Gauge(
            "edgeage_reconnects_total", "source reopened after loss", lbl, registry=r
        )
        self.events = Counter("edgeage_events", "events published", ["camera", "topic"], registry=r)
        self.latency = Histogram(
            "edgeage_latency_seconds",
            "frame capture to age event published",
            ["camera", "kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.infer = Histogram(
            "edgeage_inference_seconds",
            "one age-model call (a batch)",
            lbl,
            buckets=INFER_BUCKETS_S,
            registry=r,
        )
        self._server: Any = None

    def serve(self, listen: str) -> None:
        host, port = parse_listen(listen)
        try:
            self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise MetricsError(
                f"metrics endpoint cannot listen on {listen}: {exc.strerror}"
            ) from None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- observer calls from the pipeline --------------------------------------------------

    def on_status(self, status: dict[str, Any]) -> None:
        c = self._camera
        for state in STATES:
            self.state.labels(c, state).set(1.0 if status["state"] == state else 0.0)
        self.uptime.labels(c).set(status["uptime_s"])
        self.fps_in.labels(c).set(status["fps_in"])
        self.fps_processed.labels(c).set(status["fps_processed"])
        self.dropped.labels(c).set(status["frames_dropped"])
        self.tracks.labels(c).set(status["tracks"])
        self.reconnects.labels(c).set(status["reconnects"])

    def on_event(self, topic: str) -> None:
        self.events.labels(self._camera, topic).inc()

    def on_latency(self, kind: str, seconds: float) -> None:
        self.latency.labels(self._camera, kind).observe(seconds)

    def on_inference(self, seconds: float) -> None:
        self.infer.labels(self._camera).observe(seconds)
