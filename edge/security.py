"""Who may listen: ZeroMQ CURVE for both sockets, and refusing open doors by default.

Age estimates are personal data. By default both sockets bind to loopback; binding any
other address without CURVE is refused at start-up unless the operator sets
``publisher.allow_insecure`` explicitly. With CURVE, only clients whose public key is in
``clients_dir`` complete the handshake (``zmq.auth``'s authenticator answers ZAP requests);
a refused client receives nothing, and the refusal is logged at most once a minute.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

log = logging.getLogger("edgeage.security")

REFUSAL_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
)
REFUSAL_LOG_EVERY_S = 60.0


class SecurityError(Exception):
    """An insecure or unusable security setting; refused at start-up."""


def is_loopback_endpoint(endpoint: str) -> bool:
    """True for endpoints only this machine can reach: loopback TCP, ipc://, inproc://."""
    scheme = endpoint.split("://", 1)[0].lower()
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = (urlsplit(endpoint).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name or a host name: reachable from outside


@dataclass(frozen=True)
class ServerKeys:
    public: bytes
    secret: bytes
    clients_dir: Path


def load_server_keys(secret_file: Path, clients_dir: Path) -> ServerKeys:
    if not secret_file.is_file():
        raise SecurityError(
            f"{secret_file}: CURVE secret key file not found "
            "(make one with `edgeage keys generate`)"
        )
    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except (ValueError, OSError) as exc:
        raise SecurityError(f"{secret_file}: not a CURVE key file ({exc})") from None
    if secret is None:
        raise SecurityError(f"{secret_file}: holds only a public key; give the .key_secret file")
    if not clients_dir.is_dir():
        raise SecurityError(f"{clients_dir}: directory of allowed client keys not found")
    if not any(clients_dir.glob("*.key")):
        raise SecurityError(
            f"{clients_dir}: no client public keys (*.key) in it; no till could connect"
        )
    return ServerKeys(public, secret, clients_dir)


def load_client_keys(client_secret: Path, server_public: Path) -> tuple[bytes, bytes, bytes]:
    """(client public, client secret, server public) for a subscriber."""
    try:
        public, secret = zmq.auth.load_certificate(str(client_secret))
        server, _ = zmq.auth.load_certificate(str(server_public))
    except (ValueError, OSError) as exc:
        raise SecurityError(f"cannot read CURVE keys: {exc}") from None
    if secret is None:
        raise SecurityError(f"{client_secret}: holds no secret key; give the .key_secret file")
    return public, secret, server


def generate_keys(directory: Path, names: list[str]) -> list[tuple[Path, Path]]:
    """Key pairs NAME.key (public, to share) and NAME.key_secret (to keep) in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        if (directory / f"{name}.key_secret").exists():
            raise SecurityError(f"{directory / (name + '.key_secret')} exists; not overwritten")
        public, secret = zmq.auth.create_certificates(str(directory), name)
        Path(secret).chmod(0o600)
        out.append((Path(public), Path(secret)))
    return out


class CurveGuard:
    """Starts the ZAP authenticator and watches both sockets for refused handshakes."""

    def __init__(self, ctx: zmq.Context, keys: ServerKeys) -> None:
        self.keys = keys
        self.refused = 0
        self._auth = ThreadAuthenticator(ctx)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(keys.clients_dir))
        self._monitors: list[zmq.Socket] = []
        self._last_log = -REFUSAL_LOG_EVERY_S
        self._since_log = 0

    def secure(self, sock: zmq.Socket) -> None:
        sock.curve_secretkey = self.keys.secret
        sock.curve_publickey = self.keys.public
        sock.curve_server = True
        self._monitors.append(sock.get_monitor_socket(REFUSAL_EVENTS))

    def poll(self) -> None:
        """Count refused handshakes without blocking; log them at most once a minute."""
        for mon in self._monitors:
            while mon.poll(0):
                try:
                    event = recv_monitor_message(mon, flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                self.refused += 1
                self._since_log += 1
                del event
        now = time.monotonic()
        if self._since_log and now - self._last_log >= REFUSAL_LOG_EVERY_S:
            log.warning("refused %d connection(s) without an allowed CURVE key", self._since_log)
            self._since_log = 0
            self._last_log = now

    def close(self) -> None:
        for mon in self._monitors:
            mon.close(linger=0)
        self._monitors.clear()
        self._auth.stop()
