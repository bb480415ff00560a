"""Training fixtures: small generated datasets in both layouts, and the real training runs
(CLI processes) that several tests then read.

Tracing ResNet50's training step costs ~20 s of single-threaded Python per process whatever
the image size, so the runs are few, tiny (32 px, a few hundred images), session-scoped, started
concurrently to use both CI cores, and started early so the quick tests overlap them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgeage.training.synthetic import write_appa_layout, write_seed_layout
from tests.conftest import edgeage_cmd

TINY = ["--weights", "none", "--image-size", "32", "--batch-size", "16"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="session")
def seed_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seed_layout(tmp_path_factory.mktemp("seed") / "data", 200, size=40, seed=1)


@pytest.fixture(scope="session")
def appa_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_appa_layout(tmp_path_factory.mktemp("appa") / "data", 64, 32, 32, size=40, seed=2)


@dataclass
class Runs:
    best: Path  # --recipe best on the seed layout
    seed: Path  # --recipe seed on APPA-REAL, 1 epoch; then resumed to 2 under MirroredStrategy
    logs: dict[str, list[subprocess.CompletedProcess[str]]]


# Resumes the seed run under MirroredStrategy over two logical CPU devices: checks resume,
# the strategy and BatchNorm re-estimation on mirrored variables in one process.
MIRRORED_SCRIPT = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
from edgeage.training.train import TrainConfig, resume_recipe, train
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
out = Path(sys.argv[2])
recipe = resume_recipe(out).with_overrides(epochs=2, bn_reestimate_batches=2)
report = train(TrainConfig(Path(sys.argv[1]), out, recipe, resume=True), strategy=strategy)
print("REPLICAS", strategy.num_replicas_in_sync, "HARDWARE", report["hardware"])
"""


def _chain(commands: list[list[str]], results: list[subprocess.CompletedProcess[str]]) -> None:
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=800)
        results.append(result)
        if result.returncode != 0:
            return


@pytest.fixture(scope="session")
def background_runs(
    seed_data: Path, appa_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Runs, list[threading.Thread]]:
    """Start the training processes without waiting for them."""
    root = tmp_path_factory.mktemp("runs")
    best, seed = root / "best", root / "seed"
    chains = {
        "best": [
            edgeage_cmd(
                "train",
                "--data",
                str(seed_data),
                "--out",
                str(best),
                "--recipe",
                "best",
                *TINY,
                "--epochs",
                "4",
                "--lr",
                "1e-3",
                "--bn-reestimate",
                "4",
            ),
        ],
        "seed": [
            edgeage_cmd(
                "train",
                "--data",
                str(appa_data),
                "--out",
                str(seed),
                "--recipe",
                "seed",
                *TINY,
                "--epochs",
                "1",
            ),
            [sys.executable, "-c", MIRRORED_SCRIPT, str(appa_data), str(seed)],
        ],
    }
    logs: dict[str, list[subprocess.CompletedProcess[str]]] = {k: [] for k in chains}
    threads = [threading.Thread(target=_chain, args=(cmds, logs[k])) for k, cmds in chains.items()]
    for thread in threads:
        thread.start()
    return Runs(best, seed, logs), threads


@pytest.fixture(scope="session", autouse=True)
def _start_training_early(request: pytest.FixtureRequest) -> None:
    """When any selected test needs the runs, start them with the first training test, so the
    quick tests run while the models train."""
    if any("runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("background_runs")


@pytest.fixture(scope="session")
def runs(background_runs: tuple[Runs, list[threading.Thread]]) -> Runs:
    result, threads = background_runs
    for thread in threads:
        thread.join()
    return result


def assert_ok(results: list[subprocess.CompletedProcess[str]], count: int) -> None:
    assert len(results) >= count, "a previous step failed"
    for result in results[:count]:
        assert result.returncode == 0, result.stderr[-3000:]
