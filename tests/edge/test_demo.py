"""`edgeage demo` as a newcomer runs it: the untrained ResNet50 demo model (built once by the
export code in a subprocess and cached), the synthetic scene, and `edgeage listen --json`
beside it."""

from __future__ import annotations

import json
import subprocess
import time

import jsonschema

from tests.conftest import edgeage_cmd
from tests.edge.helpers import endpoints, schemas, start_daemon


def test_demo_with_listen(tmp_path):
    events, snapshot = endpoints()
    # Build (or reuse) the demo model first, so the listener below sees the whole run.
    warm = start_daemon(["demo", "--duration", "0.5"], events, snapshot)
    out, err = warm.communicate(timeout=900)
    assert warm.returncode == 0, err[-3000:]
    listener = subprocess.Popen(
        edgeage_cmd(
            "listen", "--events", events, "--snapshot", snapshot, "--json", "--duration", "26"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    demo = start_daemon(["demo", "--duration", "20"], events, snapshot)
    _, demo_err = demo.communicate(timeout=120)
    out, _ = listener.communicate(timeout=60)
    assert demo.returncode == 0, demo_err[-3000:]
    assert "UNTRAINED" in demo_err
    lines = [json.loads(x) for x in out.splitlines()]
    msgs = [m for m in lines if "topic" in m]
    schema = schemas()
    for m in msgs:
        body = {k: v for k, v in m.items() if k != "topic"}
        jsonschema.validate(body, schema[m["topic"]])
    seqs = [m["seq"] for m in msgs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    ages = [m for m in msgs if m["topic"] == "age"]
    ends = [m for m in msgs if m["topic"] == "track_end"]
    assert ages and all(m["model"]["trained"] is False for m in ages)
    ended = {m["track"] for m in ends}
    aged = {m["track"] for m in ages}
    assert len(ended) >= 4, ends
    assert ended <= aged, [m for m in ends if m["track"] not in aged]
    statuses = [m for m in msgs if m["topic"] == "status"]
    assert 18 <= len(statuses) <= 24
