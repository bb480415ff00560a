from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data

from edgeage.edge.crop import eye_angle, face_crop
from edgeage.edge.detector import DetectorError, FaceDetector
from edgeage.edge.detector_models import resolve
from edgeage.edge.face import Face
from edgeage.edge.fusion import AgeSample, fuse, sample_weight
from edgeage.edge.tracker import Tracker, iou


@pytest.fixture(scope="module")
def detector(detector_model_dir):
    with FaceDetector(resolve("full", detector_model_dir), video=False) as det:
        yield det


def test_astronaut_has_one_face(detector):
    faces = detector.detect(data.astronaut())
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 180  # her face, not the flag
    assert len(faces[0].keypoints) == 6 and faces[0].score > 0.7


def test_crop_levels_the_eyes(detector):
    img = data.astronaut()
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((224, 120), 20, 1.0), (512, 512))
    face = detector.detect(rot)[0]
    assert abs(math.degrees(eye_angle(face))) > 12  # the photo really is tilted
    crop = face_crop(rot, face, 192, 0.6)
    assert crop.shape == (192, 192, 3)
    again = detector.detect(crop)
    assert len(again) == 1
    assert abs(math.degrees(eye_angle(again[0]))) < 6


def test_crop_of_a_face_cut_by_the_edge_and_grayscale():
    img = np.zeros((100, 100), np.uint8)
    face = Face((-40.0, 70.0, 80.0, 80.0), 0.9)
    crop = face_crop(img, face, 64)
    assert crop.shape == (64, 64, 3)
    with pytest.raises(ValueError):
        face_crop(img, Face((0.0, 0.0, 0.0, 0.0), 0.9), 64)


@pytest.mark.parametrize("shape", [(1, 1, 3), (720, 1280, 3), (40, 40, 3)])
def test_detector_survives_odd_frames(detector, shape):
    assert detector.detect(np.zeros(shape, np.uint8)) == []


def test_roi_and_min_face(detector_model_dir):
    img = data.astronaut()
    path = resolve("full", detector_model_dir)
    with FaceDetector(path, video=False, roi=(0.6, 0.0, 1.0, 1.0)) as det:
        assert det.detect(img) == []
    with FaceDetector(path, video=False, min_face_px=300) as det:
        assert det.detect(img) == []


def test_bad_detector_model(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(DetectorError, match="not a usable face detector model"):
        FaceDetector(bad)
    with pytest.raises(DetectorError, match="not found"):
        FaceDetector(tmp_path / "missing.tflite")


def test_tracker_follows_moving_faces_and_ends_them():
    tr = Tracker(iou_min=0.2, max_missing_s=1.0, reinfer_ms=250, samples_max=3)
    a = tr.update(
        [Face((100, 100, 100, 100), 0.9), Face((600, 100, 100, 100), 0.9)], 0.0, 1280, 720
    )
    ids = sorted(t.id for t in a)
    b = tr.update(
        [Face((640, 105, 100, 100), 0.9), Face((170, 100, 100, 100), 0.9)], 0.1, 1280, 720
    )
    assert sorted(t.id for t in b) == ids  # fast walker matched by centre distance
    assert tr.expire(0.9) == []
    assert sorted(t.id for t in tr.expire(1.2)) == ids
    c = tr.update([Face((100, 100, 100, 100), 0.9)], 1.3, 1280, 720)
    assert c[0].id not in ids  # ids are never reused


def test_scheduling_caps_samples():
    tr = Tracker(reinfer_ms=100, samples_max=2)
    track = tr.update([Face((0, 0, 50, 50), 0.9)], 0.0, 100, 100)[0]
    assert tr.due(track, 10.0)
    track.requested, track.last_request = 1, 10.0
    assert not tr.due(track, 10.05)
    assert tr.due(track, 10.11)
    track.requested = 2
    assert not tr.due(track, 99.0)


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_fusion_is_robust_and_narrows():
    one = fuse([AgeSample(30.0, 1.0, 0.0)])
    assert one.age == 30.0 and one.low < 30 < one.high
    many = fuse([AgeSample(a, 1.0, 0.0) for a in (29, 30, 31, 30, 29.5, 30.5, 70)])
    assert 29 < many.age < 31.5  # the outlier 70 barely moves it
    steady = fuse([AgeSample(30.0, 1.0, 0.0)] * 6)
    assert steady.high - steady.low < one.high - one.low
    weighted = fuse([AgeSample(20.0, 1.0, 0.0), AgeSample(40.0, 0.1, 0.0)])
    assert weighted.age < 30
    assert sample_weight(200, 1.0) > sample_weight(50, 1.0) > sample_weight(50, 0.1)


def test_brisk_walker_stays_one_track_and_next_customer_is_new():
    tr = Tracker(iou_min=0.2, max_missing_s=1.0)
    ids = set()
    for i in range(10):  # 110 px per frame at 15 fps with a 120 px face: no overlap at all
        seen = tr.update([Face((100.0 + 110 * i, 200, 120, 120), 0.9)], i / 15, 1280, 720)
        ids |= {t.id for t in seen}
    assert len(ids) == 1
    # someone steps into the last spot 0.6 s later: not the same customer
    later = tr.update([Face((1090.0, 200, 120, 120), 0.9)], 9 / 15 + 0.6, 1280, 720)
    assert later[0].id not in ids
