"""Events for the till over ZeroMQ: a PUB socket for events and a REP socket for snapshots.

Every message is two frames, ``[topic, JSON]``, and carries one ``seq`` counter shared by
all topics, so a subscriber sees a gap as a gap. A till that joins late follows the zguide
"Clone" pattern: subscribe first, then ask the snapshot socket for the current tracks and
drop events whose ``seq`` is not newer than the snapshot's. See docs/protocol.md.

Sending never blocks the pipeline: PUB drops at the high-water mark for a slow subscriber,
and sends are non-blocking, so no subscriber — slow, dead or absent — changes anything
upstream. Only numbers are sent: no pixels ever reach a socket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import zmq

from edgeage.edge.security import CurveGuard, ServerKeys

log = logging.getLogger("edgeage.publisher")

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 4096
TOPICS = ("age", "track_end", "status")


class PublisherError(Exception):
    """An endpoint cannot be bound (bad address, port in use); raised at start-up."""


class Publisher:
    def __init__(
        self,
        events: str,
        snapshot: str,
        camera: str,
        *,
        sndhwm: int = 1000,
        curve: ServerKeys | None = None,
    ) -> None:
        self.camera = camera
        self.seq = 0
        self.sent = 0
        self.dropped = 0
        self.bad_requests = 0
        # Our own context: the CURVE authenticator lives in it, and nothing is shared with
        # other code in the process.
        self._ctx = zmq.Context()
        self.guard = CurveGuard(self._ctx, curve) if curve is not None else None
        self._pub = self._ctx.socket(zmq.PUB)
        self._pub.setsockopt(zmq.SNDHWM, sndhwm)
        self._pub.setsockopt(zmq.LINGER, 0)
        self._rep = self._ctx.socket(zmq.REP)
        self._rep.setsockopt(zmq.LINGER, 0)
        # A peer sending a frame larger than this is disconnected by libzmq before we read.
        self._rep.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)
        self._rep.setsockopt(zmq.SNDTIMEO, 0)
        if self.guard is not None:
            self.guard.secure(self._pub)
            self.guard.secure(self._rep)
        for sock, endpoint, what in (
            (self._pub, events, "events"),
            (self._rep, snapshot, "snapshot"),
        ):
            try:
                sock.bind(endpoint)
            except zmq.ZMQError as exc:
                self.close()
                raise PublisherError(f"cannot bind {what} socket to {endpoint}: {exc}") from None
        self.events_endpoint = self._pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.snapshot_endpoint = self._rep.getsockopt_string(zmq.LAST_ENDPOINT)

    def publish(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Stamp and send one event; returns the full message (for tests and the snapshot)."""
        self.seq += 1
        message = {
            "v": PROTOCOL_VERSION,
            "seq": self.seq,
            "camera": self.camera,
            "ts": round(time.time(), 4),
            **payload,
        }
        data = json.dumps(message, separators=(",", ":")).encode()
        try:
            self._pub.send_multipart([topic.encode(), data], flags=zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1
        return message

    def serve_snapshots(self, tracks: Callable[[], list[dict[str, Any]]], limit: int = 16) -> int:
        """Answer up to ``limit`` waiting snapshot requests without blocking; returns how many.

        Anything that is not ``{"cmd": "snapshot"}`` gets ``{"v": 1, "error": ...}`` and the
        daemon carries on.
        """
        if self.guard is not None:
            self.guard.poll()
        served = 0
        while served < limit:
            try:
                frames = self._rep.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            except zmq.ZMQError:
                break
            reply = self._answer(frames, tracks)
            # A requester that left is simply not answered; REP forgets its envelope.
            with contextlib.suppress(zmq.ZMQError):
                self._rep.send(json.dumps(reply, separators=(",", ":")).encode(), flags=zmq.NOBLOCK)
            served += 1
        return served

    def _answer(
        self, frames: list[bytes], tracks: Callable[[], list[dict[str, Any]]]
    ) -> dict[str, Any]:
        error = None
        if len(frames) != 1:
            error = "expected a single-frame request"
        elif len(frames[0]) > MAX_REQUEST_BYTES:
            error = "request too large"
        else:
            try:
                req = json.loads(frames[0].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                req = None
                error = "request is not JSON"
            if error is None:
                if not isinstance(req, dict):
                    error = "request must be a JSON object"
                elif req.get("cmd") != "snapshot":
                    error = "unknown cmd (only 'snapshot' is supported)"
        if error:
            self.bad_requests += 1
            return {"v": PROTOCOL_VERSION, "error": error}
        return {
            "v": PROTOCOL_VERSION,
            "seq": self.seq,
            "camera": self.camera,
            "ts": round(time.time(), 4),
            "tracks": tracks(),
        }

    def close(self, linger_ms: int = 200) -> None:
        """Close both sockets, giving the last events (the 'stopping' status) a moment to
        leave; a subscriber that is not reading does not delay shutdown beyond linger_ms."""
        if self.guard is not None:
            self.guard.close()
        for sock in (getattr(self, "_pub", None), getattr(self, "_rep", None)):
            if sock is not None and not sock.closed:
                sock.close(linger=linger_ms if sock is getattr(self, "_pub", None) else 0)
        if not self._ctx.closed:
            self._ctx.term()
