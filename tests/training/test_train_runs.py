"""End-to-end training runs on generated data (see conftest.py for the runs themselves)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import pytest

from tests.conftest import run_cli
from tests.training.conftest import Runs, assert_ok

# The session fixture trains three tiny models concurrently; on a loaded 2-core machine that
# can outlast the suite-wide 300 s default.
pytestmark = pytest.mark.timeout(900)

OUTPUTS = ("model.keras", "history.csv", "report.json", "report.png", "state.json", "last.keras")
REPORT_KEYS = {
    "mae",
    "rmse",
    "cs5",
    "mae_by_band",
    "under18_estimated_25_plus",
    "over25_estimated_under_25",
    "baseline_mae",
    "recipe",
    "test",
}


def _history(run: Path) -> list[dict[str, str]]:
    with (run / "history.csv").open() as fh:
        return list(csv.DictReader(fh))


def _report(run: Path) -> dict:
    return json.loads((run / "report.json").read_text())


def _check_outputs(run: Path, epochs: int) -> dict:
    for name in OUTPUTS:
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").rglob("events.out.tfevents*")), "no TensorBoard events"
    assert [int(r["epoch"]) for r in _history(run)] == list(range(1, epochs + 1))
    image = cv2.imread(str(run / "report.png"))
    assert image is not None and image.shape[1] > 1000  # three panels side by side
    report = _report(run)
    assert set(report) >= REPORT_KEYS
    assert list(report["mae_by_band"]) == ["0-12", "13-17", "18-24", "25-34", "35-49", "50+"]
    return report


def test_best_recipe_writes_everything_and_beats_the_mean(runs: Runs) -> None:
    assert_ok(runs.logs["best"], 1)
    report = _check_outputs(runs.best, 4)
    assert report["recipe"]["name"] == "best" and report["tta_flip"] is True
    assert report["data"]["layout"] == "seed" and report["test"] is None
    # The generated ages are uniform over 1-80: predicting the mean is off by ~20 years.
    assert report["baseline_mae"] > 15
    assert report["mae"] < 0.7 * report["baseline_mae"], report
    stdout = runs.logs["best"][0].stdout
    assert "val MAE" in stdout and "predict-the-mean" in stdout


def test_seed_recipe_on_appa_real_writes_everything(runs: Runs) -> None:
    assert_ok(runs.logs["seed"][:1], 1)
    assert "epoch 1/1" in runs.logs["seed"][0].stderr
    report = _check_outputs(runs.seed, 2)  # after the resume below
    assert report["recipe"]["name"] == "seed"
    assert report["recipe"]["image_size"] == 32  # the first run's overrides survive resuming
    assert report["data"]["layout"] == "appa-real"
    assert report["test"]["n"] == 32  # APPA-REAL's test split is scored too


def test_resume_under_mirrored_strategy_over_two_logical_cpus(runs: Runs) -> None:
    assert_ok(runs.logs["seed"], 2)
    stdout = runs.logs["seed"][1].stdout
    assert "REPLICAS 2 HARDWARE MirroredStrategy over 2 replica(s)" in stdout
    assert "epoch 2/2" in runs.logs["seed"][1].stderr
    assert "epoch 1/" not in runs.logs["seed"][1].stderr  # resumed, not restarted
    state = json.loads((runs.seed / "state.json").read_text())
    assert state["epoch"] == 2 and state["recipe"]["bn_reestimate_batches"] == 2


def test_evaluate_reproduces_the_report(runs: Runs, seed_data: Path, appa_data: Path) -> None:
    assert_ok(runs.logs["best"], 1)
    result = run_cli(
        "evaluate",
        "--model",
        str(runs.best / "model.keras"),
        "--data",
        str(seed_data),
        "--tta",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    report = _report(runs.best)
    assert metrics["split"] == "val" and metrics["n"] == report["n"]
    assert metrics["mae"] == pytest.approx(report["mae"], abs=1e-3)
    assert metrics["under18_estimated_25_plus"] == pytest.approx(
        report["under18_estimated_25_plus"]
    )
