"""Data layouts, the data check, bad input on the CLI (exit 2, one line) and `data inspect`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeage.training.check import check_dataset
from edgeage.training.data import DataError, load_dataset
from edgeage.training.explore import inspect_dataset
from edgeage.training.synthetic import write_appa_layout, write_seed_layout
from tests.conftest import run_cli


def test_seed_layout_validation_is_the_first_quarter_of_rows(seed_data: Path) -> None:
    ds = load_dataset(seed_data)
    names = [line.split(",")[0] for line in (seed_data / "labels.csv").read_text().split()[1:]]
    assert ds.layout == "seed"
    assert [s.path.name for s in ds.split("val")] == names[:50]
    assert [s.path.name for s in ds.split("train")] == names[50:]
    with pytest.raises(DataError, match="no test split"):
        ds.split("test")
    with pytest.raises(DataError, match="real ages only"):
        load_dataset(seed_data, target="apparent")


def test_appa_layout_real_and_apparent_targets(appa_data: Path) -> None:
    real = load_dataset(appa_data, "real")
    apparent = load_dataset(appa_data, "apparent")
    assert real.layout == "appa-real"
    assert {k: len(v) for k, v in real.splits.items()} == {"train": 64, "val": 32, "test": 32}
    first = real.split("train")[0]
    assert first.path.name == "000000.jpg_face.jpg" and first.path.parent.name == "train"
    assert real.split("val")[0].path.parent.name == "valid"
    assert [s.age for s in real.split("test")] != [s.age for s in apparent.split("test")]


def _gray_jpeg(path: Path) -> None:
    cv2.imwrite(str(path), np.full((40, 40), 128, np.uint8))


def test_check_skips_and_counts_each_problem(tmp_path: Path) -> None:
    root = write_seed_layout(tmp_path / "d", 12, size=32, seed=5)
    files = root / "final_files"
    (files / "000001.jpg").unlink()  # missing
    (files / "000002.jpg").write_bytes(b"\xff\xd8\xffnot really a jpeg")  # unreadable
    _gray_jpeg(files / "000003.jpg")  # grayscale
    shutil.copy(files / "000005.jpg", files / "000006.jpg")  # duplicate bytes
    lines = (root / "labels.csv").read_text().splitlines()
    lines[5] = "000004.jpg,150"  # age out of range
    lines.append(lines[8])  # the same file listed twice
    (root / "labels.csv").write_text("\n".join(lines) + "\n")

    ds = load_dataset(root)
    report = check_dataset(ds)
    assert report.counts == {
        "missing": 1,
        "unreadable": 1,
        "grayscale": 1,
        "age_out_of_range": 1,
        "duplicate": 2,
    }
    assert report.total == 13 and report.kept == 7
    assert "skipped 6 of 13 images" in report.summary()
    with pytest.raises(DataError, match="found 6 of 13"):
        check_dataset(load_dataset(root), strict=True)

    result = run_cli("data", "check", "--data", str(root))
    assert result.returncode == 0
    assert "skipped 6 of 13 images" in result.stdout
    result = run_cli("data", "check", "--data", str(root), "--strict")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: (d / "labels.csv").write_text(""), "empty file"),
        (lambda d: (d / "labels.csv").write_text("file_name,real_age\n"), "no rows"),
        (lambda d: (d / "labels.csv").write_text("name,age\na.jpg,3\n"), "missing column(s)"),
        (
            lambda d: (d / "labels.csv").write_text("file_name,real_age\na.jpg,30\nb.jpg,40\n"),
            "no usable images",
        ),
        (lambda d: (d / "gt_avg_train.csv").write_text("file_name,real_age\n"), "missing column"),
        (lambda d: (d / "readme.txt").write_text("hello"), "no labels.csv"),
        (lambda d: shutil.rmtree(d), "not a directory"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, setup, message: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    setup(data)
    result = run_cli("train", "--out", str(tmp_path / "run"), "--data", str(data))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    # The same readers serve `data inspect` and `evaluate` (checked in-process: cheaper).
    with pytest.raises(DataError, match=re.escape(message)):
        inspect_dataset(data, tmp_path / "insp")
    assert not (tmp_path / "run" / "model.keras").exists()


def test_train_refuses_to_overwrite_and_resume_needs_a_run(seed_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli("train", "--data", str(seed_data), "--out", str(out), "--resume")
    assert result.returncode == 2 and "nothing to resume" in result.stderr
    out.mkdir()
    (out / "state.json").write_text("{}")
    result = run_cli("train", "--data", str(seed_data), "--out", str(out))
    assert result.returncode == 2 and "already holds a run" in result.stderr


def test_evaluate_bad_input(seed_data: Path, tmp_path: Path) -> None:
    result = run_cli(
        "evaluate",
        "--model",
        str(tmp_path / "m.keras"),
        "--data",
        str(seed_data),
        "--split",
        "test",
    )
    assert result.returncode == 2 and "no test split" in result.stderr
    (tmp_path / "m.pt").write_bytes(b"x")
    result = run_cli("evaluate", "--model", str(tmp_path / "m.pt"), "--data", str(seed_data))
    assert result.returncode == 2 and "unsupported model format" in result.stderr
    (tmp_path / "m.tflite").write_bytes(b"x" * 64)  # corrupt export: refused, one line
    result = run_cli("evaluate", "--model", str(tmp_path / "m.tflite"), "--data", str(seed_data))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")


def test_data_inspect_writes_its_files(tmp_path: Path) -> None:
    data = write_appa_layout(tmp_path / "appa", 20, 8, 8, size=32, seed=9)
    _gray_jpeg(data / "valid" / "000020.jpg_face.jpg")
    out = tmp_path / "inspect"
    result = run_cli("data", "inspect", "--data", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["layout"] == "appa-real"
    assert stats["listed"] == {"train": 20, "val": 8, "test": 8}
    assert stats["usable"] == {"train": 20, "val": 7, "test": 8}
    assert stats["check"]["counts"]["grayscale"] == 1
    assert stats["ages"]["n"] == 35 and 1 <= stats["ages"]["min"] <= stats["ages"]["max"] <= 80
    assert sum(stats["ages"]["by_band"].values()) == 35
    for name in ("age_histogram.png", "samples.png"):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 200
