"""The tf.data pipeline's pieces: DEX soft labels and augmentation keep the input contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from edgeage.training.data import load_dataset  # noqa: E402
from edgeage.training.pipeline import (  # noqa: E402
    augment,
    evaluation_dataset,
    soft_labels,
    training_dataset,
)
from edgeage.training.recipe import get_recipe  # noqa: E402


def test_soft_labels_are_distributions_centred_on_the_age() -> None:
    labels = soft_labels(tf.constant([0.0, 30.0, 100.0]), 2.0).numpy()
    assert labels.shape == (3, 101)
    assert np.allclose(labels.sum(axis=1), 1.0)
    assert list(labels.argmax(axis=1)) == [0, 30, 100]
    expectation = (labels * np.arange(101)).sum(axis=1)
    assert expectation[1] == pytest.approx(30.0, abs=1e-3)
    assert list(soft_labels(tf.constant([41.6]), 0.0).numpy().argmax(axis=1)) == [42]


@pytest.mark.parametrize("name", ["seed", "best"])
def test_augmentation_keeps_shape_range_and_signal(name: str) -> None:
    recipe = get_recipe(name, image_size=32)
    images = tf.random.uniform((8, 32, 32, 3), 0, 255)
    out = augment(images, recipe).numpy()
    assert out.shape == (8, 32, 32, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out, images.numpy())


def test_datasets_follow_the_model_contract(seed_data: Path) -> None:
    ds = load_dataset(seed_data)
    recipe = get_recipe("best", image_size=32, batch_size=8)
    images, targets = next(iter(training_dataset(ds.split("train"), recipe)))
    assert images.shape == (8, 32, 32, 3) and images.dtype == tf.float32
    assert set(targets) == {"age_probs", "age"} and targets["age_probs"].shape == (8, 101)
    seed_recipe = get_recipe("seed", image_size=32, batch_size=8)
    _, ages = next(iter(training_dataset(ds.split("train"), seed_recipe)))
    assert ages.shape == (8, 1)
    val = list(evaluation_dataset(ds.split("val"), 32, 16))
    first = [s.age for s in ds.split("val")[:16]]
    assert np.allclose(val[0][1].numpy(), first)  # file order, for metrics
    assert sum(int(b[0].shape[0]) for b in val) == 50
