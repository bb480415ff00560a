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
