"""Recipes: `seed` is the customer's notebook value for value; flags override single fields."""

from __future__ import annotations

import json

import pytest

from edgeage.training.recipe import BEST, SEED, get_recipe
from tests.conftest import run_cli


def test_seed_recipe_is_exactly_the_notebook() -> None:
    r = get_recipe("seed")
    assert r.validation_split == 0.25
    assert r.preprocessing == "rescale"  # rescale=1/255
    assert r.hflip is True
    assert r.shift == 0.2  # width_shift_range = height_shift_range = 0.2
    assert r.image_size == 224
    assert r.batch_size == 32
    assert r.seed == 12345
    assert r.weights == "imagenet"
    assert r.head == "regression"  # GAP + Flatten + Dense(1, relu)
    assert r.dropout == 0.0
    assert r.optimizer == "adam" and r.lr == 1e-4 and r.weight_decay == 0.0
    assert r.schedule == "constant" and r.warmup_epochs == 0.0
    assert r.loss == "mse"
    assert r.epochs == 5
    # Nothing the notebook did not do: no crops, rotation, jitter, TTA, BN re-estimation.
    assert r.crop_min_scale == 1.0 and r.rotation_deg == 0.0 and r.color_jitter == 0.0
    assert r.tta_flip is False and r.bn_reestimate_batches == 0


def test_best_recipe_is_the_stronger_default() -> None:
    assert BEST.head == "dex" and BEST.loss == "ce"
    assert BEST.optimizer == "adamw" and BEST.schedule == "cosine" and BEST.warmup_epochs > 0
    assert BEST.crop_min_scale < 1 and BEST.rotation_deg > 0 and BEST.color_jitter > 0
    assert BEST.tta_flip and BEST.bn_reestimate_batches > 0
    assert BEST.epochs > SEED.epochs


def test_overrides_replace_single_fields_and_none_keeps_the_recipe() -> None:
    r = get_recipe("seed", epochs=20, lr=None, head="dex")
    assert (r.epochs, r.lr, r.head, r.loss) == (20, 1e-4, "dex", "mse")
    with pytest.raises(ValueError, match="--loss ce needs --head dex"):
        get_recipe("seed", loss="ce")
    with pytest.raises(ValueError, match="unknown recipe"):
        get_recipe("fancy")


def test_cli_resolves_seed_recipe_and_flags(seed_data) -> None:
    base = ("train", "--data", str(seed_data), "--out", "unused", "--print-recipe")
    result = run_cli(*base, "--recipe", "seed")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == SEED.to_dict()
    result = run_cli(*base, "--recipe", "seed", "--epochs", "7", "--no-hflip", "--rotation", "5")
    doc = json.loads(result.stdout)
    assert (doc["epochs"], doc["hflip"], doc["rotation_deg"], doc["lr"]) == (7, False, 5.0, 1e-4)
    default = json.loads(run_cli(*base).stdout)
    assert default == BEST.to_dict()
