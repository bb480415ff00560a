"""Training fixtures: small generated datasets in both layouts, and the real training runs
(CLI processes) that several tests then read.

Tracing ResNet50's training step costs ~20 s of single-threaded Python per process whatever
the image size, so the runs are few, tiny (32 px, a few hundred images), session-scoped, and
started concurrently to use both CI cores.
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
    seed: Path  # --recipe seed on APPA-REAL, 1 epoch, then --resume to 2
    mirrored: Path  # Python API under MirroredStrategy over 2 logical CPUs
    logs: dict[str, list[subprocess.CompletedProcess[str]]]


MIRRORED_SCRIPT = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
from edgeage.training.recipe import get_recipe
from edgeage.training.train import TrainConfig, train
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
recipe = get_recipe("best", weights="none", image_size=32, batch_size=16, epochs=1,
                     bn_reestimate_batches=2)
report = train(TrainConfig(Path(sys.argv[1]), Path(sys.argv[2]), recipe), strategy=strategy)
print("REPLICAS", strategy.num_replicas_in_sync, "HARDWARE", report["hardware"])
"""


def _chain(commands: list[list[str]], results: list[subprocess.CompletedProcess[str]]) -> None:
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)
        results.append(result)
        if result.returncode != 0:
            return


@pytest.fixture(scope="session")
def runs(seed_data: Path, appa_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("runs")
    best, seed, mirrored = root / "best", root / "seed", root / "mirrored"
    mirrored_data = root / "mirrored-data"
    write_seed_layout(mirrored_data, 48, size=32, seed=3)
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
                "5",
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
            edgeage_cmd(
                "train", "--data", str(appa_data), "--out", str(seed), "--resume", "--epochs", "2"
            ),
        ],
        "mirrored": [
            [sys.executable, "-c", MIRRORED_SCRIPT, str(mirrored_data), str(mirrored)],
        ],
    }
    logs: dict[str, list[subprocess.CompletedProcess[str]]] = {k: [] for k in chains}
    threads = [threading.Thread(target=_chain, args=(cmds, logs[k])) for k, cmds in chains.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Runs(best, seed, mirrored, logs)


def assert_ok(results: list[subprocess.CompletedProcess[str]], count: int) -> None:
    assert len(results) == count, "a previous step failed"
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
