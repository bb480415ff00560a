"""Real daemons in real processes, and real ZeroMQ subscribers, for the edge tests."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import zmq

from tests.conftest import REPO, edgeage_cmd

PROTOCOL = REPO / "docs" / "protocol.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoints() -> tuple[str, str]:
    return f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"


def schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas exactly as docs/protocol.md states them."""
    text = PROTOCOL.read_text()
    found = re.findall(r"### schema: (\w+)\s+```json\n(.*?)```", text, flags=re.S)
    return {name: json.loads(body) for name, body in found}


def start_daemon(
    args: list[str],
    events: str,
    snapshot: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[str]:
    full = dict(os.environ)
    full.update(
        {
            "EDGEAGE_PUBLISHER__EVENTS": events,
            "EDGEAGE_PUBLISHER__SNAPSHOT": snapshot,
            "GLOG_minloglevel": "2",
        }
    )
    full.update(env or {})
    return subprocess.Popen(
        edgeage_cmd(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        cwd=cwd,
    )


def stop_daemon(
    proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 10
) -> tuple[float, str]:
    """Signal the daemon; returns (seconds it took to exit, its stderr)."""
    start = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"daemon did not stop within {timeout} s:\n{err[-3000:]}") from None
    return time.monotonic() - start, err


class Subscriber:
    """A real SUB socket reading in a thread; keeps (topic, message, size) for assertions."""

    def __init__(self, endpoint: str, topics: tuple[str, ...] = ("",)) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.max_bytes = 0
        self.frames_per_message: set[int] = set()
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        for t in topics:
            self._sock.setsockopt_string(zmq.SUBSCRIBE, t)
        self._sock.connect(endpoint)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._sock.poll(100):
                frames = self._sock.recv_multipart()
                self.frames_per_message.add(len(frames))
                self.max_bytes = max(self.max_bytes, sum(len(f) for f in frames))
                self.messages.append((frames[0].decode(), json.loads(frames[1])))

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [m for t, m in self.messages if t == topic]

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(t, m) for t, m in list(self.messages)):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
        self._ctx.term()


def request(endpoint: str, frames: list[bytes], timeout_ms: int = 2000) -> dict | None:
    ctx = zmq.Context.instance()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send_multipart(frames)
        if req.poll(timeout_ms):
            return json.loads(req.recv())
        return None
    finally:
        req.close()
