"""`edgeage listen`: the reference till client (zguide Clone: subscribe, snapshot, events)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
import zmq

from edgeage.cli.common import console, fail

TOPICS = ("age", "track_end", "status")


def _secure(sock: zmq.Socket, keys: tuple[bytes, bytes, bytes] | None) -> None:
    if keys is not None:
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = keys


def _snapshot(
    ctx: zmq.Context, endpoint: str, timeout_s: float, keys: tuple[bytes, bytes, bytes] | None
) -> dict | None:
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    _secure(req, keys)
    req.connect(endpoint)
    try:
        req.send(json.dumps({"cmd": "snapshot"}).encode())
        if req.poll(int(timeout_s * 1000)):
            return json.loads(req.recv())
        return None
    finally:
        req.close()


def _line(topic: str, msg: dict) -> str:
    if topic == "age":
        flag = "CHECK ID" if msg.get("check_id") else "ok"
        return (
            f"age       track {msg['track']:>4}  {msg['age']:5.1f} y "
            f"[{msg['age_low']:.1f}-{msg['age_high']:.1f}]  samples {msg['samples']}  "
            f"{flag}"
        )
    if topic == "track_end":
        age = "-" if msg["age"] is None else f"{msg['age']:.1f} y"
        return f"track_end track {msg['track']:>4}  {age}  samples {msg['samples']}"
    if topic == "status":
        return (
            f"status    {msg['state']:<14} fps {msg['fps_in']:5.1f}/"
            f"{msg['fps_processed']:5.1f}  tracks {msg['tracks']}  dropped "
            f"{msg['frames_dropped']}  infer p50 {msg['infer_ms_p50']} ms"
        )
    return f"{topic} {msg}"


def listen(
    events: str = typer.Option("tcp://127.0.0.1:5556", "--events", help="PUB endpoint"),
    snapshot: str | None = typer.Option(
        "tcp://127.0.0.1:5557", "--snapshot", help="snapshot endpoint ('' to skip)"
    ),
    count: int | None = typer.Option(None, "--count", "-n", min=1, help="stop after N events"),
    topic: list[str] = typer.Option(
        [], "--topic", "-t", help="age, track_end or status (repeatable; default all)"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    client_key: Path | None = typer.Option(
        None, "--client-key", help="this till's CURVE secret key file (NAME.key_secret)"
    ),
    server_key: Path | None = typer.Option(
        None, "--server-key", help="the daemon's CURVE public key file (server.key)"
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="stop after this many seconds"
    ),
) -> None:
    """Print the daemon's events. Subscribes first, then asks for a snapshot, and drops
    events the snapshot already covers, so a late-joining till misses nothing."""
    for t in topic:
        if t not in TOPICS:
            fail(f"unknown topic {t!r} (use one of {', '.join(TOPICS)})")
    keys = None
    if (client_key is None) != (server_key is None):
        fail("--client-key and --server-key go together")
    if client_key is not None and server_key is not None:
        from edgeage.edge.security import SecurityError, load_client_keys

        try:
            keys = load_client_keys(client_key, server_key)
        except SecurityError as exc:
            fail(str(exc))
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    _secure(sub, keys)
    try:
        sub.connect(events)
    except zmq.ZMQError as exc:
        fail(f"cannot connect to {events}: {exc}")
    for t in topic or [""]:
        sub.setsockopt_string(zmq.SUBSCRIBE, t)
    after_seq = 0
    if snapshot:
        time.sleep(0.2)  # let the subscription reach the publisher before the snapshot
        snap = _snapshot(ctx, snapshot, 2.0, keys)
        if snap is None:
            if not as_json:
                console.print(
                    f"[yellow]no snapshot from {snapshot}; showing live events only[/]",
                    highlight=False,
                )
        elif "seq" in snap:
            after_seq = snap["seq"]
            if as_json:
                print(json.dumps({"snapshot": snap}), flush=True)
            else:
                console.print(
                    f"snapshot seq {snap['seq']}: {len(snap['tracks'])} track(s)", highlight=False
                )
    seen = 0
    deadline = time.monotonic() + duration if duration else None
    try:
        while count is None or seen < count:
            wait = 500 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if deadline is not None and wait == 0:
                break
            if not sub.poll(min(wait, 500)):
                continue
            name, data = sub.recv_multipart()[:2]
            msg = json.loads(data)
            if after_seq:
                if msg.get("seq", 0) <= after_seq:
                    continue  # already covered by the snapshot
                after_seq = 0  # caught up; a daemon restart (seq from 1) must not be hidden
            seen += 1
            if as_json:
                print(json.dumps({"topic": name.decode(), **msg}), flush=True)
            else:
                console.print(_line(name.decode(), msg), highlight=False)
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
