"""Shared fixtures. Everything here is real: real files, real processes, real models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Quiet the C++ runtimes (TensorFlow, MediaPipe, LiteRT) in subprocesses and here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")


def edgeage_cmd(*args: str) -> list[str]:
    """The installed console script, run as a real process."""
    exe = Path(sys.executable).with_name("edgeage")
    return [str(exe), *args]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        edgeage_cmd(*args), capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd
    )


@pytest.fixture(scope="session")
def detector_model_dir() -> Path:
    """The detector models `make setup` fetched; tests never download anything."""
    from edgeage.edge.detector_models import default_model_dir, status

    model_dir = default_model_dir()
    states = status(model_dir)
    if any(s.state != "ok" for s in states):
        pytest.fail(f"detector models missing in {model_dir}: run `make setup` first")
    return model_dir


def build_tiny_age_model(out_dir: Path, input_size: int = 64) -> Path:
    """A small real TFLite age model (FP32) with a manifest: age = 10 + mean pixel / 4, so
    different faces get different ages. Built with TensorFlow in the test process; the
    daemon under test loads it with LiteRT in its own process."""
    import datetime
    import hashlib

    import keras
    import tensorflow as tf

    from edgeage import __version__
    from edgeage.edge.manifest import Manifest, ModelInput, ModelOutput, write_manifest

    inputs = keras.Input((input_size, input_size, 3), name="face")
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    x = keras.layers.Dense(
        1,
        name="age",
        kernel_initializer=keras.initializers.Constant(1 / 12),
        bias_initializer=keras.initializers.Constant(10.0),
    )(x)
    model = keras.Model(inputs, x)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "age.tflite"
    path.write_bytes(converter.convert())
    manifest = Manifest(
        name="tiny-test-model",
        format="tflite-fp32",
        model_file=path.name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        input=ModelInput(shape=[None, input_size, input_size, 3]),
        output=ModelOutput(head="regression"),
        crop_margin=0.4,
        trained=True,
        created=datetime.datetime.now(datetime.UTC).isoformat(),
        edgeage_version=__version__,
    )
    write_manifest(manifest, path.with_suffix(".json"))
    return path


@pytest.fixture(scope="session")
def tiny_age_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_age_model(tmp_path_factory.mktemp("tiny-model"))
