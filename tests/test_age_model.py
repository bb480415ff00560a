"""The age model runtime on the box (edge/age_model.py) with real LiteRT and ONNX Runtime.

The models are tiny real Keras networks converted once per session; the module under test
never imports TensorFlow, the fixtures here do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeage.edge.age_model import AgeModelError, load_age_model
from edgeage.edge.detector_models import sha256_of
from edgeage.edge.manifest import Manifest, ModelInput, manifest_path, write_manifest

S = 16


def _crops(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, S, S, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small conv net honouring the age contract, as .tflite (dynamic batch), .tflite
    (batch fixed at 1), .onnx, and a grayscale-input .tflite; plus Keras' answers."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import contextlib

    import keras
    import tensorflow as tf
    import tf2onnx

    keras.utils.set_random_seed(0)

    def net(channels: int = 3, batch: int | None = None) -> keras.Model:
        inp = keras.Input((S, S, channels), batch_size=batch, name="face")
        x = keras.layers.Rescaling(1 / 255)(inp)
        x = keras.layers.Conv2D(8, 3, activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        out = keras.layers.Dense(1, name="age", bias_initializer=keras.initializers.Constant(30))(x)
        return keras.Model(inp, out)

    folder = tmp_path_factory.mktemp("tiny")
    model = net()
    paths: dict[str, Path] = {}

    def tflite(m: keras.Model, name: str) -> None:
        with contextlib.redirect_stdout(sys.stderr):
            data = tf.lite.TFLiteConverter.from_keras_model(m).convert()
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(data)

    tflite(model, "dynamic")
    fixed = net(batch=1)
    fixed.set_weights(model.get_weights())
    tflite(fixed, "fixed1")
    tflite(net(channels=1), "gray")
    spec = (tf.TensorSpec([None, S, S, 3], tf.float32, name="face"),)
    fn = tf.function(lambda x: {"age": model(x, training=False)}, input_signature=spec)
    paths["onnx"] = folder / "dynamic.onnx"
    tf2onnx.convert.from_function(fn, input_signature=spec, output_path=str(paths["onnx"]))
    np.save(folder / "keras.npy", model.predict(_crops(20), verbose=0).reshape(-1))
    paths["keras"] = folder / "keras.npy"
    return paths


def _copy(src: Path, dst_dir: Path, name: str | None = None) -> Path:
    dst = dst_dir / (name or src.name)
    shutil.copy(src, dst)
    return dst


def _manifest_for(path: Path, **over) -> Manifest:
    fields = dict(
        name="tiny-test",
        format="onnx" if path.suffix == ".onnx" else "tflite-fp32",
        model_file=path.name,
        sha256=sha256_of(path),
        input=ModelInput(shape=[None, S, S, 3]),
        crop_margin=0.3,
        trained=True,
        created="2025-01-01T00:00:00+00:00",
        edgeage_version="0.1.0",
    )
    fields.update(over)
    return Manifest(**fields)


@pytest.mark.parametrize("kind", ["dynamic", "onnx"])
def test_any_batch_matches_keras(tiny, kind):
    expected = np.load(tiny["keras"])
    model = load_age_model(tiny[kind], input_size=S, batch_max=8)
    assert model.runtime == ("onnxruntime" if kind == "onnx" else "litert")
    for n in (1, 5, 8, 9, 20):
        out = model.predict(_crops(20)[:n])
        assert out.shape == (n,) and out.dtype == np.float32
        np.testing.assert_allclose(out, expected[:n], atol=1e-3)
    assert model.batching
    assert not model.trained and model.name == tiny[kind].stem and model.manifest is None
    assert model.sha256 == sha256_of(tiny[kind])


def test_fixed_batch_model_runs_crop_by_crop(tiny):
    model = load_age_model(tiny["fixed1"], input_size=S)
    out = model.predict(_crops(20)[:6])
    np.testing.assert_allclose(out, np.load(tiny["keras"])[:6], atol=1e-3)
    assert not model.batching


def test_manifest_wins_over_config(tiny, tmp_path):
    path = _copy(tiny["dynamic"], tmp_path, "age.tflite")
    write_manifest(_manifest_for(path), manifest_path(path))
    model = load_age_model(path, input_size=224, crop_margin=0.9)
    assert (model.input_size, model.crop_margin, model.trained) == (S, 0.3, True)
    assert model.name == "tiny-test" and model.manifest is not None


@pytest.mark.parametrize(
    "over, message",
    [
        ({"sha256": "0" * 64}, "another model"),
        ({"model_file": "other.tflite"}, "manifest is for other.tflite"),
        ({"input": ModelInput(shape=[None, 32, 32, 3])}, "32x32 is expected"),
        ({"format": "onnx"}, "format onnx"),
    ],
)
def test_contradicting_manifest_refused(tiny, tmp_path, over, message):
    path = _copy(tiny["dynamic"], tmp_path, "age.tflite")
    write_manifest(_manifest_for(path, **over), manifest_path(path))
    with pytest.raises(AgeModelError, match=message):
        load_age_model(path, input_size=S)


def _damaged(tiny: dict[str, Path], tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    real_tfl, real_onnx = tiny["dynamic"].read_bytes(), tiny["onnx"].read_bytes()
    files = {
        "truncated.tflite": real_tfl[: len(real_tfl) // 2],
        "truncated-head.tflite": real_tfl[:64],
        "random.tflite": rng.bytes(5000),
        "random-with-id.tflite": rng.bytes(4) + b"TFL3" + rng.bytes(5000),
        "empty.tflite": b"",
        "truncated.onnx": real_onnx[: len(real_onnx) // 2],
        "random.onnx": rng.bytes(5000),
        "tflite-inside.onnx": real_tfl,
        "text.tflite": b"hello, I am not a model\n" * 10,
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp / name
        out[name].write_bytes(data)
    return out


def test_damaged_and_foreign_files_refused(tiny, tmp_path):
    for name, path in _damaged(tiny, tmp_path).items():
        with pytest.raises(AgeModelError) as info:
            load_age_model(path, input_size=S)
        message = str(info.value)
        assert "\n" not in message and name in message, message


def test_wrong_models_and_settings_refused(tiny, tmp_path):
    cases = [
        (tiny["gray"], {}, "not an age model"),
        (tiny["dynamic"], {"input_size": 224}, "set age.input_size"),
        (tmp_path / "missing.tflite", {}, "not found"),
        (_copy(tiny["dynamic"], tmp_path, "age.bin"), {}, "cannot tell the runtime"),
        (tiny["onnx"], {"runtime": "litert"}, "cannot run under litert"),
        (tiny["onnx"], {"providers": ["NoSuchExecutionProvider"]}, "none of the ONNX"),
    ]
    for path, kw, message in cases:
        kw = {"input_size": S, **kw}
        with pytest.raises(AgeModelError, match=message):
            load_age_model(path, **kw)


def test_bad_crops_rejected(tiny):
    model = load_age_model(tiny["dynamic"], input_size=S)
    for bad in (np.zeros((S, S, 3)), np.zeros((2, S + 1, S, 3)), np.zeros((0, S, S, 3))):
        with pytest.raises(ValueError):
            model.predict(bad)


def test_damaged_file_in_a_fresh_process_exits_cleanly(tiny, tmp_path):
    """No segfault, no hang, and no TensorFlow: load every damaged file in one new process."""
    paths = [str(p) for p in _damaged(tiny, tmp_path).values()]
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from edgeage.edge.age_model import AgeModelError, load_age_model\n"
        f"paths = {json.dumps(paths)}\n"
        "for p in paths:\n"
        "    try:\n"
        f"        load_age_model(Path(p), input_size={S})\n"
        "    except AgeModelError:\n"
        "        pass\n"
        f"load_age_model(Path({str(tiny['dynamic'])!r}), input_size={S})\n"
        f"load_age_model(Path({str(tiny['onnx'])!r}), input_size={S})\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
