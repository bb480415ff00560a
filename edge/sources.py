"""Frame sources behind one small interface: open, read the next RGB frame, close.

``source.uri`` forms: a camera index ("0") or ``/dev/videoN`` (V4L2 through OpenCV),
``rtsp://`` and ``http(s)://`` streams (MJPEG included), a video file (played at its own
frame rate like a camera; ``?realtime=0`` reads as fast as possible, ``?loop=1`` loops),
``images:DIR`` (stills, ``?fps=F&loop=1``) and ``synthetic:`` (``?faces=N&fps=F&seed=S``).

Pacing lives here, not in the pipeline: a file or a synthetic scene delivers frames at the
rate a camera would, so the rest of the daemon cannot tell them apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from edgeage.edge.synthetic import SyntheticScene

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class SourceError(Exception):
    """The source is unavailable right now (may come back): the capture loop retries."""


class SourceEnded(Exception):
    """A finite source (file or image folder without loop) has delivered its last frame."""


class BadSourceURI(ValueError):
    """The URI cannot mean any source: refused at start-up with exit code 2."""


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "camera", "stream", "file", "images", "synthetic"
    target: str
    options: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.options.get(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise BadSourceURI(f"source option {name}={raw!r} must be 0 or 1")

    def number(self, name: str, default: float, *, lo: float, hi: float) -> float:
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadSourceURI(f"source option {name}={raw!r} is not a number") from None
        if not lo <= value <= hi:
            raise BadSourceURI(f"source option {name}={raw} must be between {lo:g} and {hi:g}")
        return value


_OPTIONS = {
    "synthetic": {"faces", "fps", "seed", "realtime"},
    "file": {"realtime", "loop"},
    "images": {"fps", "loop"},
    "camera": set(),
    "stream": set(),
}


def parse_uri(uri: str) -> SourceSpec:
    """Classify a source URI; raises BadSourceURI for anything that cannot be a source."""
    uri = uri.strip()
    if not uri:
        raise BadSourceURI("source uri is empty")
    if uri.isdigit():
        return SourceSpec("camera", uri)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("rtsp", "rtsps", "http", "https"):
        if not parts.netloc:
            raise BadSourceURI(f"source uri {uri!r} has no host")
        return SourceSpec("stream", uri)
    if uri.startswith("/dev/video"):
        return SourceSpec("camera", uri)
    if scheme in ("synthetic", "images"):
        body = uri[len(scheme) + 1 :]
        body, _, query = body.partition("?")
        kind, target = scheme, body
        if kind == "images" and not target:
            raise BadSourceURI("images: needs a directory, e.g. images:/path/to/dir")
    elif scheme == "file":
        kind, target, query = "file", parts.path, parts.query
    elif scheme and len(scheme) > 1:  # one letter would be a Windows drive; we are on Linux
        raise BadSourceURI(
            f"source uri {uri!r}: unknown scheme {scheme!r} (use a camera index, /dev/videoN, "
            "rtsp://, http(s)://, a video file, images:DIR or synthetic:)"
        )
    else:
        target, _, query = uri.partition("?")
        kind = "file"
    try:
        raw = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise BadSourceURI(f"source uri {uri!r}: malformed options {query!r}") from None
    options = {k: v[-1] for k, v in raw.items()}
    unknown = set(options) - _OPTIONS[kind]
    if unknown:
        raise BadSourceURI(
            f"source uri {uri!r}: unknown option(s) {', '.join(sorted(unknown))} for {kind}"
        )
    spec = SourceSpec(kind, target, options)
    _check_options(spec)
    return spec


def _check_options(spec: SourceSpec) -> None:
    if spec.kind == "synthetic":
        spec.number("faces", 2, lo=0, hi=20)
        spec.number("fps", 15, lo=0.1, hi=240)
        spec.number("seed", 0, lo=0, hi=2**31)
        spec.flag("realtime", True)
    elif spec.kind == "file":
        spec.flag("realtime", True)
        spec.flag("loop", False)
    elif spec.kind == "images":
        spec.number("fps", 1, lo=0.01, hi=240)
        spec.flag("loop", False)


class FrameSource:
    """Base class: ``open`` may raise SourceError; ``read`` returns RGB pixels or raises
    SourceError (lost) / SourceEnded (finished)."""

    spec: SourceSpec
    # A live source (camera, stream, anything paced in real time) does not wait for us:
    # frames we are too slow for are dropped. A non-live one (a file or scene read with
    # ?realtime=0) waits until the pipeline took the previous frame, so none is lost.
    live: bool = True

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass

    @property
    def nominal_fps(self) -> float | None:
        return None


class _Pacer:
    """Sleeps so frames come out at ``fps`` like a camera; never catches up in a burst."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self.next_t = 0.0

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self.next_t > now:
            time.sleep(self.next_t - now)
            now = self.next_t
        # A slow reader does not get a burst of frames afterwards, just like a camera.
        self.next_t = max(self.next_t + self.period, now)


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class OpenCVSource(FrameSource):
    """Cameras, network streams and video files through OpenCV's FFmpeg / V4L2 back-ends."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        timeout_s: float = 3.0,
    ) -> None:
        self.spec = spec
        self._want = (width, height, fps)
        self._timeout_ms = int(timeout_s * 1000)
        self._cap: cv2.VideoCapture | None = None
        self._pacer = _Pacer(None)
        self._loop = spec.flag("loop", False) if spec.kind == "file" else False
        self._realtime = spec.flag("realtime", True) if spec.kind == "file" else False
        self.live = not (spec.kind == "file" and not self._realtime)

    def open(self) -> None:
        self.close()
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self._timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self._timeout_ms,
        ]
        if self.spec.kind == "camera":
            target: str | int = (
                int(self.spec.target) if self.spec.target.isdigit() else self.spec.target
            )
            cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        else:
            if self.spec.kind == "file" and not Path(self.spec.target).is_file():
                raise SourceError(f"{self.spec.target}: no such video file")
            cap = cv2.VideoCapture(self.spec.target, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.spec.target}")
        width, height, fps = self._want
        if self.spec.kind == "camera":
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        file_fps = cap.get(cv2.CAP_PROP_FPS) if self.spec.kind == "file" else 0
        self._pacer = _Pacer(file_fps if self._realtime and file_fps > 0 else None)

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise SourceError("source is not open")
        self._pacer.wait()
        ok, bgr = self._cap.read()
        if not ok or bgr is None or bgr.size == 0:
            if self.spec.kind == "file":
                if self._loop and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                    ok, bgr = self._cap.read()
                    if ok and bgr is not None and bgr.size:
                        return _to_rgb(bgr)
                if not self._loop and Path(self.spec.target).is_file():
                    raise SourceEnded(self.spec.target)
            raise SourceError(f"no frame from {self.spec.target}")
        return _to_rgb(bgr)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    @property
    def nominal_fps(self) -> float | None:
        if self._cap is None:
            return None
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        return fps if fps and fps > 0 else None


class ImageFolderSource(FrameSource):
    """Still photos from a folder, in name order, at ``?fps=`` (default 1)."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self._files: list[Path] = []
        self._pos = 0
        self._loop = spec.flag("loop", False)
        self._pacer = _Pacer(spec.number("fps", 1, lo=0.01, hi=240))

    def open(self) -> None:
        folder = Path(self.spec.target)
        if not folder.is_dir():
            raise SourceError(f"{folder}: no such image folder")
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"{folder}: no images in folder")
        self._pos = 0

    def read(self) -> np.ndarray:
        if self._pos >= len(self._files):
            if not self._loop:
                raise SourceEnded(self.spec.target)
            self._pos = 0
        self._pacer.wait()
        path = self._files[self._pos]
        self._pos += 1
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SourceError(f"{path}: unreadable image")
        return _to_rgb(bgr)

    @property
    def nominal_fps(self) -> float | None:
        return 1.0 / self._pacer.period if self._pacer.period else None


class SyntheticSource(FrameSource):
    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.scene = SyntheticScene(
            faces=int(spec.number("faces", 2, lo=0, hi=20)),
            fps=spec.number("fps", 15, lo=0.1, hi=240),
            seed=int(spec.number("seed", 0, lo=0, hi=2**31)),
        )
        self.live = spec.flag("realtime", True)
        self._pacer = _Pacer(self.scene.fps if self.live else None)
        self._index = 0
        self._t0 = 0.0

    def open(self) -> None:
        self._t0 = time.monotonic()
        self._pacer = _Pacer(self.scene.fps if self.live else None)
        self._index = 0

    def read(self) -> np.ndarray:
        self._pacer.wait()
        index = self._index
        if self.live:
            # Scene time follows the wall clock, so frames a slow consumer skips are gone.
            index = max(index, int((time.monotonic() - self._t0) * self.scene.fps))
        self._index = index + 1
        return self.scene.render(index)

    @property
    def nominal_fps(self) -> float | None:
        return self.scene.fps


def make_source(
    uri: str,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    timeout_s: float = 3.0,
) -> FrameSource:
    spec = parse_uri(uri)
    if spec.kind == "synthetic":
        return SyntheticSource(spec)
    if spec.kind == "images":
        return ImageFolderSource(spec)
    return OpenCVSource(spec, width=width, height=height, fps=fps, timeout_s=timeout_s)
