"""Training recipes: every value that shapes a run, in one frozen object.

``seed`` is the customer's notebook, value for value, so its 6.76-year MAE can be reproduced
with one flag; ``best`` is what we recommend. Flags override single fields
(``Recipe.with_overrides``), so an experiment is always "a recipe plus named changes".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Head = Literal["regression", "dex"]
Loss = Literal["mse", "mae", "huber", "ce"]
Optimizer = Literal["adam", "adamw"]
Schedule = Literal["constant", "cosine"]
Preprocessing = Literal["rescale", "caffe"]
RECIPES = ("seed", "best")


@dataclass(frozen=True)
class Recipe:
    name: str
    image_size: int
    batch_size: int  # global batch, split across replicas
    epochs: int
    seed: int
    validation_split: float  # seed layout only: the first share of labels.csv rows
    weights: str  # imagenet | none | path to a weights file
    head: Head
    loss: Loss
    preprocessing: Preprocessing
    dropout: float
    optimizer: Optimizer
    lr: float
    weight_decay: float
    schedule: Schedule
    warmup_epochs: float
    # augmentation
    hflip: bool
    shift: float  # max translation as a share of the side (ImageDataGenerator *_shift_range)
    crop_min_scale: float  # random resized crop: smallest area share kept; 1.0 = off
    rotation_deg: float
    color_jitter: float  # brightness/contrast/saturation strength; 0 = off
    dex_sigma: float  # dex soft labels: Gaussian width in years; 0 = one-hot
    tta_flip: bool  # average the prediction with the mirrored image's at evaluation
    bn_reestimate_batches: int  # recompute BatchNorm statistics before validating; 0 = off

    def with_overrides(self, **overrides: Any) -> Recipe:
        """This recipe with the given fields replaced; ``None`` means "keep the recipe's"."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown recipe field(s): {', '.join(sorted(unknown))}")
        recipe = dataclasses.replace(self, **changes)
        recipe.validate()
        return recipe

    def validate(self) -> None:
        """Reject combinations that cannot train, with a message naming the flags."""
        if self.loss == "ce" and self.head != "dex":
            raise ValueError("--loss ce needs --head dex (cross-entropy over the age bins)")
        if self.image_size < 32:
            raise ValueError("--image-size must be at least 32 (ResNet50 downsamples by 32)")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("--batch-size and --epochs must be at least 1")
        if not 0.0 < self.validation_split < 1.0:
            raise ValueError("--validation-split must be between 0 and 1")
        if not 0.0 < self.crop_min_scale <= 1.0:
            raise ValueError("--crop-min-scale must be in (0, 1]")
        if self.lr <= 0:
            raise ValueError("--lr must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# The customer's notebook: ImageDataGenerator(validation_split=0.25, rescale=1/255,
# horizontal_flip=True, width_shift_range=0.2, height_shift_range=0.2), target_size 224,
# batch 32, seed 12345; ResNet50 imagenet, GAP + Flatten + Dense(1, relu); Adam(1e-4), MSE,
# MAE metric, 5 epochs, nothing frozen. Keras' default BatchNorm behaviour is kept on purpose:
# its lagging moving statistics are part of what the notebook measured.
SEED = Recipe(
    name="seed",
    image_size=224,
    batch_size=32,
    epochs=5,
    seed=12345,
    validation_split=0.25,
    weights="imagenet",
    head="regression",
    loss="mse",
    preprocessing="rescale",
    dropout=0.0,
    optimizer="adam",
    lr=1e-4,
    weight_decay=0.0,
    schedule="constant",
    warmup_epochs=0.0,
    hflip=True,
    shift=0.2,
    crop_min_scale=1.0,
    rotation_deg=0.0,
    color_jitter=0.0,
    dex_sigma=0.0,
    tta_flip=False,
    bn_reestimate_batches=0,
)

# Our default. Caffe preprocessing because that is what the ImageNet weights expect; DEX
# (softmax over 0-100, expectation) with Gaussian soft labels; AdamW with warm-up + cosine;
# augmentation that mimics till cameras (framing, tilt, lighting); BatchNorm statistics
# re-estimated on training batches before each validation (see docs/TRAINING.md).
BEST = Recipe(
    name="best",
    image_size=224,
    batch_size=64,
    epochs=30,
    seed=12345,
    validation_split=0.25,
    weights="imagenet",
    head="dex",
    loss="ce",
    preprocessing="caffe",
    dropout=0.2,
    optimizer="adamw",
    lr=3e-4,
    weight_decay=0.01,
    schedule="cosine",
    warmup_epochs=2.0,
    hflip=True,
    shift=0.0,
    crop_min_scale=0.7,
    rotation_deg=10.0,
    color_jitter=0.2,
    dex_sigma=2.0,
    tta_flip=True,
    bn_reestimate_batches=50,
)


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """A named recipe with flag overrides applied and checked."""
    base = {"seed": SEED, "best": BEST}.get(name)
    if base is None:
        raise ValueError(f"unknown recipe {name!r} (choose from {', '.join(RECIPES)})")
    return base.with_overrides(**overrides)
