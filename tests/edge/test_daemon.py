"""End to end: `edgeage run` in its own process on synthetic:, with real subscribers."""

from __future__ import annotations

import itertools
import signal
import time

import jsonschema
import pytest

from tests.edge.helpers import (
    Subscriber,
    endpoints,
    request,
    schemas,
    start_daemon,
    stop_daemon,
)

RUN_S = 14


@pytest.fixture(scope="module")
def synthetic_run(tiny_age_model):
    """One daemon run shared by several assertions: 2 customers at a time, 15 fps."""
    events, snapshot = endpoints()
    sub = Subscriber(events)
    time.sleep(0.3)
    proc = start_daemon(
        ["run", "--source", "synthetic:?faces=2&fps=15&seed=1", "--model", str(tiny_age_model)],
        events,
        snapshot,
    )
    assert sub.wait_for(lambda t, m: t == "status" and m["state"] == "running", 30), (
        "daemon never reported running"
    )
    snaps = []
    bad = []
    deadline = time.monotonic() + RUN_S
    while time.monotonic() < deadline:
        snaps.append(request(snapshot, [b'{"cmd": "snapshot"}']))
        bad.append(request(snapshot, [b"not json"]))
        bad.append(request(snapshot, [b'{"cmd": "reboot"}']))
        bad.append(request(snapshot, [b"[1, 2]"]))
        bad.append(request(snapshot, [b'{"cmd":', b"snapshot}"]))
        time.sleep(1.0)
    took, err = stop_daemon(proc, signal.SIGTERM)
    time.sleep(0.3)
    sub.close()
    return {
        "sub": sub,
        "snaps": snaps,
        "bad": bad,
        "stop_s": took,
        "stderr": err,
        "rc": proc.returncode,
    }


def test_every_message_validates_and_seq_has_no_gaps(synthetic_run):
    sub = synthetic_run["sub"]
    schema = schemas()
    assert {"age", "track_end", "status"} <= set(schema)
    for topic, msg in sub.messages:
        jsonschema.validate(msg, schema[topic])
    seqs = [m["seq"] for _, m in sub.messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sub.frames_per_message == {2}


def test_every_customer_gets_an_age_and_a_track_end(synthetic_run):
    sub = synthetic_run["sub"]
    ages = sub.of("age")
    ends = sub.of("track_end")
    ended = {m["track"] for m in ends}
    # synthetic seed 1: about 2 customers every 5.5 s, so a 14 s run sees at least 4
    assert len(ended) >= 4
    aged = {m["track"] for m in ages}
    assert ended <= aged, f"tracks ended without an age: {sorted(ended - aged)}"
    for end in ends:
        assert end["age"] is not None and end["samples"] >= 1
    first = {}
    for m in ages:
        first.setdefault(m["track"], m)
        assert m["age_low"] <= m["age"] <= m["age_high"]
        assert m["check_id"] == (m["age"] < 25)
        assert m["model"]["name"] == "tiny-test-model" and m["model"]["trained"] is True
        assert m["ts"] >= m["frame_ts"]
    assert all(m["samples"] == 1 for m in first.values())


def test_status_about_once_a_second_and_clean_stop(synthetic_run):
    statuses = synthetic_run["sub"].of("status")
    gaps = [b["ts"] - a["ts"] for a, b in itertools.pairwise(statuses)]
    assert len(statuses) >= RUN_S - 2
    assert max(gaps[:-1]) < 1.6
    assert statuses[-1]["state"] == "stopping"
    assert any(s["state"] == "running" and s["fps_in"] > 5 for s in statuses)
    assert synthetic_run["rc"] == 0
    assert synthetic_run["stop_s"] < 2.0, synthetic_run["stderr"][-2000:]


def test_snapshot_and_bad_requests(synthetic_run):
    schema = schemas()
    snaps = [s for s in synthetic_run["snaps"] if s is not None]
    assert len(snaps) >= len(synthetic_run["snaps"]) - 1
    for snap in snaps:
        jsonschema.validate(snap, schema["snapshot"])
    assert any(snap["tracks"] for snap in snaps)
    errors = [b for b in synthetic_run["bad"] if b is not None]
    assert len(errors) >= len(synthetic_run["bad"]) - 2
    for reply in errors:
        jsonschema.validate(reply, schema["error"])


def test_nothing_but_numbers_leaves_the_process(synthetic_run):
    # A 64×64 RGB crop alone is 12 KiB; events are small JSON objects.
    assert synthetic_run["sub"].max_bytes < 2048
