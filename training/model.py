"""The age model: ResNet50 backbone with its preprocessing inside, and one of two heads.

Contract with export and the edge: input is a batch of RGB face crops as float32 in 0-255
(shape [N, S, S, 3]); the output named ``age`` is the age in years, shape [N, 1]. Anything
else (scaling, channel order, mean subtraction) is a layer of the model, so every exported
format needs no outside preprocessing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import keras
import numpy as np
from keras import layers

Head = Literal["regression", "dex"]
Preprocessing = Literal["rescale", "caffe"]
MAX_AGE = 100
AGE_BINS = MAX_AGE + 1
# ImageNet BGR means used by keras.applications.resnet50.preprocess_input ("caffe" mode).
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class WeightsUnavailable(Exception):
    """ImageNet weights could not be downloaded; the message lists the alternatives."""


def _preprocess_layer(kind: Preprocessing) -> layers.Layer:
    """A frozen 1×1 convolution: exact, and every converter (TFLite, ONNX) understands it.

    ``rescale`` is the seed notebook's ``rescale=1/255``; ``caffe`` is what the ImageNet
    ResNet50 weights were trained with (RGB→BGR and mean subtraction).
    """
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    bias = np.zeros(3, dtype=np.float32)
    if kind == "rescale":
        for c in range(3):
            kernel[0, 0, c, c] = 1.0 / 255.0
    elif kind == "caffe":
        for out_c, in_c in enumerate((2, 1, 0)):
            kernel[0, 0, in_c, out_c] = 1.0
        bias[:] = [-m for m in _CAFFE_MEAN_BGR]
    else:
        raise ValueError(f"unknown preprocessing {kind!r}")
    return layers.Conv2D(
        3,
        1,
        name="preprocess",
        trainable=False,
        kernel_initializer=keras.initializers.Constant(kernel),
        bias_initializer=keras.initializers.Constant(bias),
    )


def _backbone(input_size: int, weights: str | None) -> keras.Model:
    """ResNet50 without its top; weights: 'imagenet', None, or a path to a weights file."""
    if weights in (None, "none"):
        return keras.applications.ResNet50(
            include_top=False, weights=None, input_shape=(input_size, input_size, 3)
        )
    if weights == "imagenet":
        try:
            return keras.applications.ResNet50(
                include_top=False, weights="imagenet", input_shape=(input_size, input_size, 3)
            )
        except Exception as exc:  # urllib/HTTP/SSL errors arrive wrapped in several ways
            raise WeightsUnavailable(
                "could not download the ImageNet ResNet50 weights "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); either give this "
                "machine internet access, or copy "
                "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 into ~/.keras/models/, "
                "or pass --weights PATH to a local weights file, or --weights none to start "
                "from random weights"
            ) from None
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: weights file not found")
    return keras.applications.ResNet50(
        include_top=False, weights=str(path), input_shape=(input_size, input_size, 3)
    )


def build_age_model(
    input_size: int = 224,
    head: Head = "dex",
    weights: str | None = "imagenet",
    preprocessing: Preprocessing = "caffe",
    dropout: float = 0.0,
) -> keras.Model:
    """The age model. For ``dex`` the softmax over ages 0-100 is exposed as the layer
    ``age_probs`` (train on it with cross-entropy); ``age`` is its expectation."""
    inputs = keras.Input((input_size, input_size, 3), name="face", dtype="float32")
    x = _preprocess_layer(preprocessing)(inputs)
    x = _backbone(input_size, weights)(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if head == "regression":
        # The seed's head: GlobalAveragePooling2D, Flatten, Dense(1, relu).
        x = layers.Flatten(name="flatten")(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        age = layers.Dense(1, activation="relu", name="age", dtype="float32")(x)
    elif head == "dex":
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        probs = layers.Dense(AGE_BINS, activation="softmax", name="age_probs", dtype="float32")(x)
        # Expectation over the bins as a frozen Dense layer: exportable everywhere.
        ages = np.arange(AGE_BINS, dtype=np.float32).reshape(AGE_BINS, 1)
        age = layers.Dense(
            1,
            use_bias=False,
            trainable=False,
            name="age",
            dtype="float32",
            kernel_initializer=keras.initializers.Constant(ages),
        )(probs)
    else:
        raise ValueError(f"unknown head {head!r}")
    return keras.Model(inputs, age, name=f"edgeage_resnet50_{head}")


def head_of(model: keras.Model) -> Head:
    """Which head a built or loaded age model has."""
    names = {layer.name for layer in model.layers}
    return "dex" if "age_probs" in names else "regression"
