"""`edgeage calibrate` on the synthetic scene and on a video file, as an installer runs it."""

from __future__ import annotations

import tomllib

import cv2
import numpy as np
import pytest

from edgeage.edge.calibrate import blurred_preview
from edgeage.edge.detector import FaceDetector
from edgeage.edge.detector_models import resolve
from edgeage.edge.synthetic import SyntheticScene
from tests.conftest import run_cli
from tests.edge.helpers import endpoints


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_calibrate_synthetic_writes_a_fragment_run_accepts(tmp_path, tiny_age_model):
    out, preview = tmp_path / "cal.toml", tmp_path / "p.jpg"
    res = run_cli(
        "calibrate",
        "--source",
        "synthetic:?faces=2",
        "--duration",
        "8",
        "--model",
        str(tiny_age_model),
        "--out",
        str(out),
        "--preview",
        str(preview),
        env={"COLUMNS": "160"},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    frag = tomllib.loads(out.read_text())
    det, age = frag["detector"], frag["age"]
    assert det["model"] in ("full", "short")
    # synthetic faces are 110-180 px: the floor must keep them and drop much smaller ones
    assert 20 <= det["min_face_px"] <= 110
    x0, y0, x1, y1 = det["roi"]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < 0.3 < 0.55 < y1 <= 1  # faces stand at y≈0.42
    assert 1 <= age["batch_max"] <= 8 and age["threads"] >= 1
    events, snapshot = endpoints()
    run = run_cli(
        "run",
        "--source",
        "synthetic:",
        "--model",
        str(tiny_age_model),
        "--calibration",
        str(out),
        "--duration",
        "2",
        env={"EDGEAGE_PUBLISHER__EVENTS": events, "EDGEAGE_PUBLISHER__SNAPSHOT": snapshot},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert preview.is_file()


def test_preview_faces_are_blurred_beyond_recognition(detector_model_dir):
    path = resolve("full", detector_model_dir)
    with (
        FaceDetector(path, video=False) as det,
        FaceDetector(path, video=False, min_confidence=0.2) as sweeper,
    ):
        for seed in range(2):
            scene = SyntheticScene(3, 15, seed=seed)
            for index in range(0, 450, 45):
                frame = scene.render(index)
                faces = det.detect(frame)
                if not faces:
                    continue
                out = blurred_preview(frame, faces, (0.1, 0.1, 0.9, 0.9), sweeper)
                plain = blurred_preview(frame, faces, None, sweeper, annotate=False)
                for f in faces:
                    x, y, w, h = (int(v) for v in f.box)
                    x, y = max(x, 0), max(y, 0)
                    before = frame[y + 4 : y + h - 4, x + 4 : x + w - 4]
                    after = plain[y + 4 : y + h - 4, x + 4 : x + w - 4]
                    if before.size:
                        assert _sharpness(after) < 0.05 * _sharpness(before)
                # nothing detectable is left, including faces the first pass overlooked
                assert det.detect(out) == [], (seed, index)


def test_calibrate_on_a_video_file(tmp_path, tiny_age_model):
    scene = SyntheticScene(1, 10, seed=5)
    video = tmp_path / "till.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    for i in range(60):
        writer.write(cv2.cvtColor(cv2.resize(scene.render(i + 20), (640, 360)), cv2.COLOR_RGB2BGR))
    writer.release()
    out = tmp_path / "cal.toml"
    res = run_cli(
        "calibrate",
        "--source",
        f"{video}?realtime=0&loop=1",
        "--duration",
        "3",
        "--model",
        str(tiny_age_model),
        "--out",
        str(out),
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert tomllib.loads(out.read_text())["detector"]["min_face_px"] >= 20


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--source", "synthetic:?faces=0"], "no face seen"),
        (["--source", "images:/nonexistent"], "no frame from the camera"),
        (["--source", "synthetic:", "--model", "/nonexistent.tflite"], "age model not found"),
    ],
)
def test_calibrate_explains_failures(args, needle, tiny_age_model, tmp_path):
    if "--model" not in args:
        args = [*args, "--model", str(tiny_age_model)]
    res = run_cli(
        "calibrate", *args, "--duration", "2", "--out", str(tmp_path / "c.toml"), timeout=60
    )
    assert res.returncode == 2
    assert needle in res.stderr.replace("\n", " ")
    assert not (tmp_path / "c.toml").exists()
