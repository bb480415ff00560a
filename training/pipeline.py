"""The tf.data input pipeline: parallel decode, in-memory cache of decoded images, batch-level
augmentation, prefetch. Replaces ImageDataGenerator, which decodes in one Python thread and
starves a GPU.

Images leave the pipeline as float32 RGB in 0-255, the age model's input contract; all
normalisation happens inside the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from edgeage.training.data import Sample
from edgeage.training.model import AGE_BINS
from edgeage.training.recipe import Recipe

AUTOTUNE = tf.data.AUTOTUNE


def decode_resized(path: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 [S, S, 3]. Bilinear without antialiasing, like the edge's ``face_crop``
    (cv2.INTER_LINEAR), so a photo looks the same here as at the till."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(image, (size, size), method="bilinear", antialias=False)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def _options() -> tf.data.Options:
    options = tf.data.Options()
    # Shard by element: a file-path dataset cannot be sharded by file across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def decoded_images(samples: Sequence[Sample], size: int) -> tf.data.Dataset:
    """(uint8 image, age) pairs, decoded in parallel and cached in memory after the first
    pass (7,591 seed photos at 224 px are 1.1 GB)."""
    paths = [str(s.path) for s in samples]
    ages = np.asarray([s.age for s in samples], np.float32)
    ds = tf.data.Dataset.from_tensor_slices((paths, ages))
    ds = ds.map(lambda p, a: (decode_resized(p, size), a), num_parallel_calls=AUTOTUNE)
    return ds.cache().with_options(_options())


def soft_labels(age: tf.Tensor, sigma: float) -> tf.Tensor:
    """DEX targets [B, 101]: one-hot at the rounded age, or a Gaussian of width ``sigma``
    years (neighbouring ages are nearly as right, and the expectation trains smoother)."""
    age = tf.reshape(age, (-1, 1))
    if sigma <= 0:
        index = tf.cast(tf.clip_by_value(tf.round(age[:, 0]), 0, AGE_BINS - 1), tf.int32)
        return tf.one_hot(index, AGE_BINS)
    bins = tf.range(AGE_BINS, dtype=tf.float32)[None, :]
    weights = tf.exp(-tf.square(bins - age) / (2.0 * sigma * sigma))
    return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def _geometric(images: tf.Tensor, recipe: Recipe) -> tf.Tensor:
    """Rotation and translation in one projective warp per image."""
    b = tf.shape(images)[0]
    side = tf.cast(tf.shape(images)[1], tf.float32)
    theta = tf.random.uniform((b,), -1.0, 1.0) * (recipe.rotation_deg * math.pi / 180.0)
    tx = tf.random.uniform((b,), -recipe.shift, recipe.shift) * side
    ty = tf.random.uniform((b,), -recipe.shift, recipe.shift) * side
    c = (side - 1.0) / 2.0
    cos, sin = tf.cos(theta), tf.sin(theta)
    # output = R(theta)(input - c) + c + t  <=>  input = R(-theta)(output - c - t) + c
    transforms = tf.stack(
        [
            cos,
            sin,
            c - cos * (c + tx) - sin * (c + ty),
            -sin,
            cos,
            c + sin * (c + tx) - cos * (c + ty),
            tf.zeros_like(cos),
            tf.zeros_like(cos),
        ],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",  # ImageDataGenerator's default fill_mode
    )


def _random_resized_crop(images: tf.Tensor, min_scale: float) -> tf.Tensor:
    b = tf.shape(images)[0]
    area = tf.random.uniform((b,), min_scale, 1.0)
    ratio = tf.exp(tf.random.uniform((b,), math.log(3 / 4), math.log(4 / 3)))
    w = tf.minimum(tf.sqrt(area * ratio), 1.0)
    h = tf.minimum(tf.sqrt(area / ratio), 1.0)
    x0 = tf.random.uniform((b,)) * (1.0 - w)
    y0 = tf.random.uniform((b,)) * (1.0 - h)
    boxes = tf.stack([y0, x0, y0 + h, x0 + w], axis=1)
    return tf.image.crop_and_resize(images, boxes, tf.range(b), tf.shape(images)[1:3])


def _color_jitter(images: tf.Tensor, strength: float) -> tf.Tensor:
    """Brightness, contrast and saturation, each by a factor in [1 - s, 1 + s]: till lighting
    and white balance vary from store to store."""
    b = tf.shape(images)[0]

    def factor() -> tf.Tensor:
        return tf.random.uniform((b, 1, 1, 1), 1.0 - strength, 1.0 + strength)

    images = images * factor()
    gray = tf.reduce_sum(images * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    mean = tf.reduce_mean(gray, axis=(1, 2, 3), keepdims=True)
    images = (images - mean) * factor() + mean
    gray = tf.reduce_sum(images * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    images = gray + (images - gray) * factor()
    return tf.clip_by_value(images, 0.0, 255.0)


def augment(images: tf.Tensor, recipe: Recipe) -> tf.Tensor:
    """Batch-level augmentation of float32 0-255 images, as the recipe asks."""
    if recipe.crop_min_scale < 1.0:
        images = _random_resized_crop(images, recipe.crop_min_scale)
    if recipe.rotation_deg > 0 or recipe.shift > 0:
        images = _geometric(images, recipe)
    if recipe.hflip:
        flip = tf.random.uniform((tf.shape(images)[0], 1, 1, 1)) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[2]), images)
    if recipe.color_jitter > 0:
        images = _color_jitter(images, recipe.color_jitter)
    return images


def targets(ages: tf.Tensor, recipe: Recipe) -> tf.Tensor | dict[str, tf.Tensor]:
    """What the training model's outputs are compared with (see ``trainer.training_model``)."""
    age = tf.reshape(ages, (-1, 1))
    if recipe.head == "dex" and recipe.loss == "ce":
        return {"age_probs": soft_labels(ages, recipe.dex_sigma), "age": age}
    return age


def training_dataset(samples: Sequence[Sample], recipe: Recipe) -> tf.data.Dataset:
    ds = decoded_images(samples, recipe.image_size)
    ds = ds.shuffle(len(samples), seed=recipe.seed, reshuffle_each_iteration=True)
    ds = ds.batch(recipe.batch_size)

    def prepare(images: tf.Tensor, ages: tf.Tensor):
        return augment(tf.cast(images, tf.float32), recipe), targets(ages, recipe)

    return ds.map(prepare, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def evaluation_dataset(
    samples: Sequence[Sample], size: int, batch_size: int, flip: bool = False
) -> tf.data.Dataset:
    """(float32 images, ages [B]) in file order; ``flip`` mirrors every image (for TTA)."""
    ds = decoded_images(samples, size).batch(batch_size)

    def prepare(images: tf.Tensor, ages: tf.Tensor):
        images = tf.cast(images, tf.float32)
        return (tf.reverse(images, axis=[2]) if flip else images), ages

    return ds.map(prepare, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
