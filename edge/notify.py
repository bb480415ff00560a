"""systemd's notify protocol, spoken directly: a few datagrams on $NOTIFY_SOCKET.

READY=1 once the camera delivers and the model is loaded, STATUS= with the figures a
`systemctl status` reader wants, WATCHDOG=1 from the processing loop itself (so a hung loop
stops the pings and systemd restarts the service), STOPPING=1 on shutdown. Outside systemd
($NOTIFY_SOCKET unset) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("edgeage.notify")


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self._address: str | bytes | None = None
        self._sock: socket.socket | None = None
        path = env.get("NOTIFY_SOCKET")
        if path:
            # "@name" is Linux's abstract namespace: a leading NUL byte.
            self._address = b"\0" + path[1:].encode() if path.startswith("@") else path
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.watchdog_interval_s: float | None = None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if usec and usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            # systemd asks for a ping at least every half of the timeout; a tenth less leaves
            # room for one slow pass of the loop.
            self.watchdog_interval_s = int(usec) / 1e6 / 2.0 * 0.9
        self._next_ping = 0.0
        self.ready_sent = False

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *assignments: str) -> bool:
        if self._sock is None or self._address is None:
            return False
        try:
            self._sock.sendto("\n".join(assignments).encode(), self._address)
            return True
        except OSError as exc:  # systemd restarting, socket gone: never fatal
            log.debug("notify failed: %s", exc)
            return False

    def ready(self) -> None:
        if not self.ready_sent:
            self.ready_sent = self.send("READY=1", "STATUS=running")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        """Call from the processing loop on every pass; pings at most at the needed rate."""
        if self.watchdog_interval_s is None:
            return
        now = time.monotonic()
        if now >= self._next_ping:
            self.send("WATCHDOG=1")
            self._next_ping = now + self.watchdog_interval_s

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
