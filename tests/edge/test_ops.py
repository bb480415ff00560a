"""systemd notify protocol against a real AF_UNIX datagram socket, and the metrics endpoint
scraped over HTTP."""

from __future__ import annotations

import itertools
import socket
import threading
import time
import urllib.request

from edgeage.edge.config import load_config
from edgeage.edge.daemon import build
from edgeage.edge.observers import PipelineObserver
from tests.edge.helpers import endpoints, free_port, start_daemon, stop_daemon


class NotifySocket:
    """What systemd listens on: collects (monotonic time, datagram) pairs."""

    def __init__(self, path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.got: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.got.append((time.monotonic(), data.decode()))

    def times(self, line: str) -> list[float]:
        return [t for t, d in self.got if line in d.split("\n")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


def test_notify_ready_watchdog_stopping(tmp_path, tiny_age_model):
    ns = NotifySocket(tmp_path / "notify.sock")
    events, snapshot = endpoints()
    usec = 1_000_000
    proc = start_daemon(
        ["run", "--source", "synthetic:?faces=2", "--model", str(tiny_age_model)],
        events,
        snapshot,
        env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": str(usec)},
    )
    try:
        deadline = time.monotonic() + 30
        while not ns.times("READY=1") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ns.times("READY=1"), ns.got[:5]
        time.sleep(5)
    finally:
        stop_daemon(proc)
        time.sleep(0.3)
        ns.close()
    ready = ns.times("READY=1")[0]
    pings = [t for t in ns.times("WATCHDOG=1") if t >= ready]
    assert len(pings) >= 8
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) <= usec / 1e6 / 2, gaps
    assert any(d.startswith("STATUS=running") for _, d in ns.got)
    assert ns.times("STOPPING=1")
    assert len(ns.times("READY=1")) == 1


class Freeze(PipelineObserver):
    """Blocks the processing loop once, for ``seconds``, from inside it."""

    def __init__(self, after_status: int, seconds: float) -> None:
        self.after, self.seconds, self.count = after_status, seconds, 0
        self.frozen_at: float | None = None

    def on_status(self, status) -> None:
        self.count += 1
        if self.count == self.after:
            self.frozen_at = time.monotonic()
            time.sleep(self.seconds)


def test_frozen_loop_stops_the_watchdog(tmp_path, tiny_age_model, monkeypatch):
    ns = NotifySocket(tmp_path / "n.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "n.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    events, snapshot = endpoints()
    cfg = load_config(
        None,
        overrides={
            "source": {"uri": "synthetic:?faces=1"},
            "age": {"model": str(tiny_age_model)},
            "publisher": {"events": events, "snapshot": snapshot},
        },
    )
    daemon = build(cfg)
    freeze = Freeze(after_status=3, seconds=2.0)
    daemon.pipeline.observers.append(freeze)
    stop = threading.Event()
    runner = threading.Thread(target=daemon.run, args=(stop, 6.0))
    runner.start()
    runner.join(20)
    ns.close()
    assert not runner.is_alive()
    assert freeze.frozen_at is not None
    pings = ns.times("WATCHDOG=1")
    during = [t for t in pings if freeze.frozen_at + 0.05 < t < freeze.frozen_at + 1.95]
    after = [t for t in pings if t > freeze.frozen_at + 2.0]
    assert during == []  # the loop was stuck: systemd would restart the service
    assert len(after) >= 3  # and it pings again once the loop moves


def test_metrics_endpoint(tiny_age_model):
    port = free_port()
    events, snapshot = endpoints()
    proc = start_daemon(
        ["run", "--source", "synthetic:?faces=2", "--model", str(tiny_age_model)],
        events,
        snapshot,
        env={"EDGEAGE_METRICS__LISTEN": f"127.0.0.1:{port}"},
    )
    try:
        body = ""
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                body = (
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
                    .read()
                    .decode()
                )
            except OSError:
                continue
            if 'edgeage_latency_seconds_count{camera="till-1",kind="first"}' in body:
                break
    finally:
        stop_daemon(proc)
    assert 'edgeage_state{camera="till-1",state="running"} 1.0' in body
    assert "edgeage_fps_in{" in body and "edgeage_inference_seconds_bucket{" in body
    assert 'edgeage_latency_seconds_count{camera="till-1",kind="first"}' in body
    assert 'edgeage_events_total{camera="till-1",topic="status"}' in body


def test_metrics_bad_listen_is_refused(tiny_age_model):
    from tests.conftest import run_cli

    res = run_cli(
        "run",
        "--source",
        "synthetic:",
        "--model",
        str(tiny_age_model),
        env={"EDGEAGE_METRICS__LISTEN": "nonsense"},
    )
    assert res.returncode == 2 and "metrics.listen" in res.stderr


def test_logs_json_and_journald(tiny_age_model):
    import json
    import re

    from tests.conftest import run_cli

    events, snapshot = endpoints()
    env = {"EDGEAGE_PUBLISHER__EVENTS": events, "EDGEAGE_PUBLISHER__SNAPSHOT": snapshot}
    res = run_cli(
        "run",
        "--source",
        "synthetic:?faces=1",
        "--model",
        str(tiny_age_model),
        "--duration",
        "2",
        "--log-format",
        "json",
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    ours = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert any(doc["msg"].startswith("age model tiny-test-model") for doc in ours)
    assert all({"ts", "level", "logger", "msg"} <= set(doc) for doc in ours)
    res = run_cli(
        "run",
        "--source",
        "synthetic:?faces=1",
        "--model",
        str(tiny_age_model),
        "--duration",
        "2",
        env={**env, "JOURNAL_STREAM": "8:1234"},
    )
    lines = [x for x in res.stderr.splitlines() if "edgeage.daemon" in x]
    assert lines and all(re.match(r"(INFO|WARNING) edgeage\.daemon: ", x) for x in lines)
    bad = run_cli(
        "run",
        "--source",
        "synthetic:",
        "--model",
        str(tiny_age_model),
        "--log-format",
        "xml",
        env=env,
    )
    assert bad.returncode == 2 and "logging.format" in bad.stderr
