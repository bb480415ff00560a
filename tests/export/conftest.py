"""A small trained age checkpoint and a folder of face-like photos, built once per session.

The checkpoint is the real ResNet50 age model of ``training/model.py`` at 32 px with its
head trained for a few steps on generated images whose brightness pattern encodes the age,
so its answers spread over decades (a collapsed export is detectable) and it is "trained"
in the sense export cares about. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

SIZE = 32
PHOTO = 48  # photos are larger than the model input, so the crop really resizes


def generated_faces(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images in 0-255 whose stripe contrast grows with the age label."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(5, 80, n).astype(np.float32)
    base = rng.uniform(0, 80, (n, 1, 1, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / size
    stripes = (0.5 + 0.5 * np.sin(xx * 6 + yy * 3))[None, :, :, None]
    img = base + (age[:, None, None, None] / 80 * 170) * stripes
    img = img + rng.normal(0, 8, (n, size, size, 3))
    return np.clip(img, 0, 255).astype(np.float32), age


@pytest.fixture(scope="session")
def face_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 photos in the training data's seed layout (labels.csv + final_files/); returns the
    photo folder, whose parent is the data set the run's report names."""
    import cv2

    root = tmp_path_factory.mktemp("data")
    folder = root / "final_files"
    folder.mkdir()
    imgs, ages = generated_faces(48, PHOTO, seed=1)
    rows = ["file_name,real_age"]
    for i, (img, age) in enumerate(zip(imgs, ages, strict=True)):
        bgr = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{i:03d}.png"), bgr)
        rows.append(f"{i:03d}.png,{round(float(age))}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, face_dir: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from edgeage.training.model import build_age_model

    keras.utils.set_random_seed(0)
    model = build_age_model(input_size=SIZE, head="dex", weights=None, preprocessing="caffe")
    for layer in model.layers:
        if isinstance(layer, keras.Model):  # the backbone: keep it (and its BN) frozen
            layer.trainable = False
    model.compile(keras.optimizers.Adam(3e-3), loss="mae")
    x, y = generated_faces(128, SIZE, seed=0)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    run = tmp_path_factory.mktemp("run")
    path = run / "model.keras"
    model.save(path)
    report = {
        "metrics": {"val_mae": 9.5},
        "crop_margin": 0.35,
        "data": {"path": str(face_dir.parent), "target": "real"},
        "recipe": {"validation_split": 0.5},
    }
    (run / "report.json").write_text(json.dumps(report))
    return path
