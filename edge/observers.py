"""What the pipeline tells the outside world besides ZeroMQ: systemd and Prometheus.

The pipeline calls these hooks from its own loop; an observer must return quickly and must
never raise into the loop (the pipeline guards each call anyway).
"""

from __future__ import annotations

from typing import Any

from edgeage.edge.notify import SystemdNotifier


class PipelineObserver:
    """No-op base: subclasses override what they care about."""

    def on_ready(self) -> None: ...

    def on_tick(self) -> None: ...

    def on_status(self, status: dict[str, Any]) -> None: ...

    def on_event(self, topic: str) -> None: ...

    def on_latency(self, kind: str, seconds: float) -> None: ...

    def on_inference(self, seconds: float) -> None: ...

    def on_stopping(self) -> None: ...


class SystemdObserver(PipelineObserver):
    def __init__(self, notifier: SystemdNotifier) -> None:
        self.notifier = notifier

    def on_ready(self) -> None:
        self.notifier.ready()

    def on_tick(self) -> None:
        self.notifier.watchdog()

    def on_status(self, status: dict[str, Any]) -> None:
        self.notifier.status(
            f"{status['state']}: {status['fps_processed']:.1f}/{status['fps_in']:.1f} fps, "
            f"{status['tracks']} tracks, {status['frames_dropped']} dropped"
        )

    def on_stopping(self) -> None:
        self.notifier.stopping()
