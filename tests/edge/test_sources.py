from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edgeage.edge.capture import Capture
from edgeage.edge.sources import (
    BadSourceURI,
    SourceEnded,
    SourceError,
    make_source,
    parse_uri,
)
from edgeage.edge.synthetic import SyntheticScene


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("0", "camera"),
        ("/dev/video2", "camera"),
        ("rtsp://cam.local/live", "stream"),
        ("http://127.0.0.1:8080/video.mjpg", "stream"),
        ("clip.mp4", "file"),
        ("/data/clip.mp4?loop=1&realtime=0", "file"),
        ("images:/photos?fps=2", "images"),
        ("synthetic:", "synthetic"),
        ("synthetic:?faces=3&fps=30&seed=4", "synthetic"),
    ],
)
def test_uri_kinds(uri, kind):
    assert parse_uri(uri).kind == kind


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("", "empty"),
        ("foo://bar", "unknown scheme"),
        ("http://", "no host"),
        ("synthetic:?faces=abc", "not a number"),
        ("synthetic:?faces=99", "between"),
        ("synthetic:?face=2", "unknown option"),
        ("clip.mp4?loop=maybe", "must be 0 or 1"),
        ("images:", "needs a directory"),
    ],
)
def test_nonsense_uris_are_refused(uri, needle):
    with pytest.raises(BadSourceURI, match=needle):
        parse_uri(uri)


def test_synthetic_scene_is_deterministic_and_has_customers():
    a, b = SyntheticScene(2, 15, seed=3), SyntheticScene(2, 15, seed=3)
    assert np.array_equal(a.render(40), b.render(40))
    assert not np.array_equal(a.render(40), SyntheticScene(2, 15, seed=4).render(40))
    frame = a.render(60)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8
    visits = a.visits(20.0)
    assert len(visits) >= 6 and {v.lane for v in visits} == {0, 1}
    assert not np.array_equal(frame, a.background)  # someone is there at 4 s


def _write_video(path, frames: int = 12, fps: float = 10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(frames):
        img = np.full((120, 160, 3), i * 20 % 255, np.uint8)
        writer.write(img)
    writer.release()


def test_video_file_fast_and_end_and_loop(tmp_path):
    video = tmp_path / "clip.avi"
    _write_video(video)
    src = make_source(f"{video}?realtime=0")
    src.open()
    got = 0
    with pytest.raises(SourceEnded):
        while True:
            frame = src.read()
            assert frame.shape == (120, 160, 3)
            got += 1
    assert got == 12
    looped = make_source(f"{video}?realtime=0&loop=1")
    looped.open()
    assert all(looped.read().shape == (120, 160, 3) for _ in range(30))


def test_video_file_plays_at_its_own_rate(tmp_path):
    video = tmp_path / "clip.avi"
    _write_video(video, frames=6, fps=10.0)
    src = make_source(str(video))
    src.open()
    start = time.monotonic()
    for _ in range(6):
        src.read()
    # 6 frames at 10 fps take about half a second; as fast as possible would be ~ms
    assert time.monotonic() - start > 0.35


def test_missing_file_is_offline_not_fatal(tmp_path):
    src = make_source(str(tmp_path / "later.mp4"))
    with pytest.raises(SourceError):
        src.open()


def test_image_folder_with_grayscale_and_broken_files(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((50, 60), np.uint8))  # grayscale
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((50, 60, 3), np.uint8))
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    src = make_source(f"images:{tmp_path}?fps=200")
    src.open()
    assert src.read().shape == (50, 60, 3)
    assert src.read().shape == (50, 60, 3)
    with pytest.raises(SourceError):
        src.read()
    with pytest.raises(SourceEnded):
        src.read()


@pytest.mark.parametrize("buffer_frames", [1, 2])
def test_capture_keeps_the_newest_frames_in_order_and_counts_the_rest(buffer_frames):
    cap = Capture(make_source("synthetic:?faces=0&fps=60"), buffer_frames=buffer_frames)
    cap.start()
    time.sleep(1.0)  # nobody takes frames: all but the newest buffer_frames are dropped
    cap.stop()
    n = cap.stats.frames_in
    assert n >= 20
    assert cap.stats.frames_dropped == n - buffer_frames
    taken = [cap.get(timeout=0.0) for _ in range(buffer_frames + 1)]
    assert [f.index for f in taken[:-1]] == list(range(n - buffer_frames, n))  # camera order
    assert taken[-1] is None


def test_capture_retries_a_source_that_never_opens(tmp_path):
    cap = Capture(
        make_source(str(tmp_path / "nope.mp4")), reconnect_min_s=0.05, reconnect_max_s=0.1
    ).start()
    try:
        time.sleep(0.5)
        assert not cap.online and cap.get(timeout=0.05) is None
        assert cap._thread.is_alive()
    finally:
        cap.stop()
