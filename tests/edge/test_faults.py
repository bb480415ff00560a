"""Start-up refusals, a camera that goes away and comes back, subscribers that misbehave,
and the edge commands with TensorFlow made unimportable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import pytest
import zmq
from skimage import data

from tests.conftest import run_cli
from tests.edge.helpers import Subscriber, endpoints, free_port, start_daemon, stop_daemon
from tests.edge.mjpeg_server import MjpegCamera


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def corrupt_models(tmp_path_factory, tiny_age_model):
    d = tmp_path_factory.mktemp("bad-models")
    (d / "random.tflite").write_bytes(bytes(range(256)) * 40)
    (d / "truncated.tflite").write_bytes(tiny_age_model.read_bytes()[:600])
    return d


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--source", "foo://bar"], {}, "unknown scheme"),
        (["--source", "synthetic:?faces=x"], {}, "not a number"),
        (["--model", "{bad}/missing.tflite"], {}, "age model not found"),
        (["--model", "{bad}/random.tflite"], {}, "random.tflite"),
        (["--model", "{bad}/truncated.tflite"], {}, "truncated.tflite"),
        ([], {"EDGEAGE_DETECTOR__MODEL_DIR": "/nonexistent"}, "face detector model not found"),
        ([], {"EDGEAGE_TRACKER__SAMPLES_MAX": "0"}, "tracker.samples_max"),
    ],
)
def test_bad_start_up_exits_2_with_one_line(args, env, needle, corrupt_models, tiny_age_model):
    args = [a.format(bad=corrupt_models) for a in args]
    if "--model" not in args:
        args += ["--model", str(tiny_age_model)]
    events, snapshot = endpoints()
    full_env = {"EDGEAGE_PUBLISHER__EVENTS": events, "EDGEAGE_PUBLISHER__SNAPSHOT": snapshot, **env}
    res = (
        run_cli("run", "--source", "synthetic:", *args, env=full_env, timeout=60)
        if "--source" not in args
        else run_cli("run", *args, env=full_env, timeout=60)
    )
    assert res.returncode == 2, res.stderr[-2000:]
    lines = _error_lines(res.stderr)
    assert len(lines) == 1 and needle in lines[0], res.stderr[-2000:]


def test_no_age_model_and_port_in_use(tiny_age_model):
    res = run_cli("run", "--source", "synthetic:", timeout=60)
    assert res.returncode == 2 and "no age model configured" in res.stderr
    ctx = zmq.Context.instance()
    taken = ctx.socket(zmq.PUB)
    port = free_port()
    taken.bind(f"tcp://127.0.0.1:{port}")
    try:
        res = run_cli(
            "run",
            "--source",
            "synthetic:",
            "--model",
            str(tiny_age_model),
            env={"EDGEAGE_PUBLISHER__EVENTS": f"tcp://127.0.0.1:{port}"},
            timeout=60,
        )
    finally:
        taken.close(linger=0)
    assert res.returncode == 2
    assert "cannot bind events socket" in _error_lines(res.stderr)[0]


def test_http_camera_lost_and_back(tiny_age_model):
    camera = MjpegCamera(free_port(), fps=10).start()
    events, snapshot = endpoints()
    sub = Subscriber(events, ("status",))
    proc = start_daemon(
        ["run", "--source", camera.url, "--model", str(tiny_age_model)],
        events,
        snapshot,
        env={"EDGEAGE_SOURCE__READ_TIMEOUT_S": "1", "EDGEAGE_SOURCE__RECONNECT_MAX_S": "1"},
    )
    try:
        assert sub.wait_for(lambda t, m: m["state"] == "running", 30), "never running"
        camera.stop()
        assert sub.wait_for(lambda t, m: m["state"] == "camera_offline", 10)
        time.sleep(2.0)
        assert proc.poll() is None, "daemon died without its camera"
        camera.start()
        back = time.monotonic()
        assert sub.wait_for(
            lambda t, m: (
                m["state"] == "running" and m["reconnects"] >= 1 and m["ts"] > time.time() - 1.5
            ),
            10,
        )
        assert time.monotonic() - back < 5.0
    finally:
        camera.stop()
        stop_daemon(proc)
        sub.close()


def test_slow_and_absent_subscribers_change_nothing(tiny_age_model):
    events, snapshot = endpoints()
    ctx = zmq.Context()
    stuck = ctx.socket(zmq.SUB)  # subscribes and never reads
    stuck.setsockopt(zmq.RCVHWM, 1)
    stuck.setsockopt(zmq.LINGER, 0)
    stuck.setsockopt_string(zmq.SUBSCRIBE, "")
    stuck.connect(events)
    good = Subscriber(events)
    proc = start_daemon(
        [
            "run",
            "--source",
            "synthetic:?faces=3&fps=15",
            "--model",
            str(tiny_age_model),
            "--duration",
            "8",
        ],
        events,
        snapshot,
        env={"EDGEAGE_PUBLISHER__SNDHWM": "20"},  # a mark of 2 dropped bursts for the good one too
    )
    try:
        proc.wait(timeout=60)
        time.sleep(0.3)
    finally:
        stuck.close()
        ctx.term()
        good.close()
    assert proc.returncode == 0
    seqs = [m["seq"] for _, m in good.messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # subscribers join a moment late
    running = [m for m in good.of("status") if m["state"] == "running"]
    assert running
    processed = sum(m["fps_processed"] for m in running) / len(running)
    offered = sum(m["fps_in"] for m in running) / len(running)
    assert processed >= 0.8 * offered


BLOCK_TF = (
    "raise ModuleNotFoundError('TensorFlow is blocked in this test: the edge must not import it')\n"
)


@pytest.fixture(scope="module")
def no_tf_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("block-tf")
    for name in ("tensorflow", "keras"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(BLOCK_TF)
    return {"PYTHONPATH": str(root)}


def test_estimate_finds_the_astronaut_without_tensorflow(tmp_path, tiny_age_model, no_tf_env):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    res = run_cli("estimate", str(photo), "--model", str(tiny_age_model), "--json", env=no_tf_env)
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(doc["faces"]) == 1
    assert 5 < doc["faces"][0]["age"] < 100


def test_run_without_tensorflow(tiny_age_model, no_tf_env):
    events, snapshot = endpoints()
    sub = Subscriber(events, ("age",))
    proc = start_daemon(
        [
            "run",
            "--source",
            "synthetic:?faces=1",
            "--model",
            str(tiny_age_model),
            "--duration",
            "5",
        ],
        events,
        snapshot,
        env=no_tf_env,
    )
    proc.wait(timeout=60)
    sub.close()
    assert proc.returncode == 0, proc.stderr.read()[-2000:] if proc.stderr else ""
    assert sub.of("age")


def test_listen_prints_json_lines(tiny_age_model):
    events, snapshot = endpoints()
    proc = start_daemon(
        [
            "run",
            "--source",
            "synthetic:?faces=1",
            "--model",
            str(tiny_age_model),
            "--duration",
            "8",
        ],
        events,
        snapshot,
    )
    try:
        res = run_cli(
            "listen",
            "--events",
            events,
            "--snapshot",
            snapshot,
            "--json",
            "--count",
            "5",
            "--topic",
            "status",
            timeout=30,
        )
    finally:
        stop_daemon(proc)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert "snapshot" in lines[0]
    statuses = [x for x in lines if x.get("topic") == "status"]
    assert len(statuses) == 5


def test_nonexistent_image_for_estimate(tiny_age_model):
    res = run_cli("estimate", str(Path("/nonexistent.png")), "--model", str(tiny_age_model))
    assert res.returncode == 2 and "not a readable image" in res.stderr
