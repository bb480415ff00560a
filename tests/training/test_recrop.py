"""`--recrop` uses the edge's detector and `face_crop`, and caches its crops."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from edgeage.training.data import APPA_COLUMNS, load_dataset
from edgeage.training.recipe import get_recipe
from edgeage.training.recrop import recrop_samples
from edgeage.training.synthetic import synthetic_face
from edgeage.training.train import TrainConfig, prepare_data


@pytest.fixture()
def appa_with_originals(tmp_path: Path) -> Path:
    """APPA-REAL layout whose first photo is a real face (the astronaut) with its original."""
    root = tmp_path / "appa"
    rng = np.random.default_rng(0)
    astronaut = skimage.data.astronaut()  # RGB 512x512, one face
    for stem in ("train", "valid"):
        (root / stem).mkdir(parents=True)
        rows = [",".join(APPA_COLUMNS)]
        for i in range(2):
            name = f"{stem}{i}.jpg"
            if stem == "train" and i == 0:
                cv2.imwrite(str(root / stem / name), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
                crop = astronaut[30:230, 130:330]
            else:
                crop = synthetic_face(30, 48, rng)
            cv2.imwrite(
                str(root / stem / f"{name}_face.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
            )
            rows.append(f"{name},20,30.0,3.0,30")
        (root / f"gt_avg_{stem}.csv").write_text("\n".join(rows) + "\n")
    return root


def test_recrop_detects_crops_and_caches(
    appa_with_originals: Path, tmp_path: Path, detector_model_dir: Path
) -> None:
    samples = load_dataset(appa_with_originals).split("train")
    assert samples[0].source.name == "train0.jpg"  # the original photo, not the crop
    cache = tmp_path / "cache"
    model = detector_model_dir / "face_detection_full_range_sparse.tflite"
    out, stats = recrop_samples(samples, 64, cache, detector_model=model)
    assert (stats.detected, stats.no_face, stats.cached) == (1, 1, 0)
    crop = cv2.imread(str(out[0].path))
    assert crop.shape == (64, 64, 3)
    assert out[0].age == samples[0].age and out[0].split == "train"
    again, stats = recrop_samples(samples, 64, cache, detector_model=model)
    assert stats.cached == 2 and [s.path for s in again] == [s.path for s in out]
    # Other settings, other files: never a stale crop.
    other, stats = recrop_samples(samples, 48, cache, margin=0.2, detector_model=model)
    assert stats.cached == 0 and cv2.imread(str(other[0].path)).shape == (48, 48, 3)


def test_prepare_data_recrops_every_split(
    appa_with_originals: Path, tmp_path: Path, detector_model_dir: Path
) -> None:
    config = TrainConfig(
        appa_with_originals,
        tmp_path / "run",
        get_recipe("best", image_size=32),
        recrop=True,
        detector_model=detector_model_dir / "face_detection_full_range_sparse.tflite",
    )
    prepared = prepare_data(config)
    assert prepared.recrop is not None and prepared.recrop.detected == 1
    for samples in prepared.dataset.splits.values():
        assert all(s.path.parent == tmp_path / "run" / "recrop-cache" for s in samples)
