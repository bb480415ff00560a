"""Export from a small trained checkpoint, each CPU format once, through the real converters
and the box runtime. The checkpoint and face photos come from conftest.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeage.edge.age_model import load_age_model
from edgeage.edge.manifest import read_manifest
from tests.conftest import run_cli

# INT8 is held to its default tolerance (0.5 y) on the trained test checkpoint.
INT8_TOLERANCE = 0.5


@pytest.fixture(scope="session")
def exports(tmp_path_factory, checkpoint, face_dir):
    """Lazily export each format once per session (in this process; the CLI has its own)."""
    from edgeage.export.exporter import export_checkpoint

    done: dict[str, object] = {}

    def get(fmt: str):
        if fmt not in done:
            out = tmp_path_factory.mktemp(fmt)
            done[fmt] = export_checkpoint(
                checkpoint, fmt, out, calibration_data=face_dir, samples=24
            )
        return done[fmt]

    return get


@pytest.fixture(scope="session")
def cli_fp16(tmp_path_factory, checkpoint, face_dir):
    out = tmp_path_factory.mktemp("cli-fp16")
    res = run_cli(
        "export", "--model", str(checkpoint), "--out", str(out), "--samples", "32",
        timeout=300,
    )  # fmt: skip
    return res, out


@pytest.fixture(scope="session")
def crops(face_dir) -> np.ndarray:
    from edgeage.export.faces import load_face_crops

    return load_face_crops(face_dir, 32, 16)


@pytest.fixture(scope="session")
def keras_ages(checkpoint, crops) -> np.ndarray:
    import keras

    model = keras.models.load_model(checkpoint, compile=False)
    return model.predict(crops, verbose=0).reshape(-1)


def test_cli_default_is_verified_fp16_with_manifest(cli_fp16):
    """Defaults: FP16, and the faces are the run's validation split (24 of the 48 photos),
    read with the training package's data reader."""
    res, out = cli_fp16
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["age.json", "age.tflite"]
    m = read_manifest(out / "age.tflite")
    assert m is not None and m.format == "tflite-fp16" and m.trained
    assert m.input.shape == [None, 32, 32, 3] and m.output.head == "dex"
    assert m.crop_margin == 0.35  # from the run's report.json
    assert m.training_metrics == {"val_mae": 9.5}
    assert m.source_checkpoint_sha256 and m.edgeage_version
    v = m.verification
    assert v["mean_abs_diff_years"] <= 0.1 and v["samples"] == 24
    assert v["batch_sizes_checked"] == [1, 16] and v["ms_per_face_batch8"] > 0
    assert "mean |diff|" in res.stdout
    assert (v["faces_under_25"] == 0) == (v["mean_abs_diff_under_25_years"] is None)


@pytest.mark.parametrize("fmt", ["tflite-fp32", "tflite-int8", "tflite-dynamic", "onnx"])
def test_format_exports_and_runs_on_the_box(exports, fmt, crops, keras_ages):
    result = exports(fmt)
    assert result.manifest.format == fmt
    assert result.verification.mean_abs_diff_years <= result.verification.tolerance_years
    model = load_age_model(result.model_path)  # config defaults; the manifest says 32 px
    assert model.input_size == 32 and model.trained
    assert model.runtime == ("onnxruntime" if fmt == "onnx" else "litert")
    for n in (1, 3, 16):
        assert model.predict(crops[:n]).shape == (n,)
    assert model.batching
    diff = np.abs(model.predict(crops) - keras_ages).mean()
    int8 = fmt in ("tflite-int8", "tflite-dynamic")
    assert diff <= (INT8_TOLERANCE if int8 else 0.1)
    if int8:  # everything int8 gave 0.6 y here; float head/preprocessing 0.2
        assert result.verification.tolerance_years == INT8_TOLERANCE
    assert not [p for p in result.model_path.parent.iterdir() if p.name.startswith(".export-")]


def test_int8_faster_than_fp16(exports, cli_fp16, crops):
    from edgeage.export.verify import ms_per_face

    fp16 = load_age_model(cli_fp16[1] / "age.tflite")
    int8 = load_age_model(exports("tflite-int8").model_path)
    ms16 = ms_per_face(fp16, crops, 8, budget_s=1.0)
    ms8 = ms_per_face(int8, crops, 8, budget_s=1.0)
    assert ms16 / ms8 >= 2.0, (ms16, ms8)


def test_collapsed_int8_fails_and_leaves_no_file(checkpoint, crops, tmp_path):
    """Calibrating on black frames squeezes every activation range to nothing."""
    from edgeage.export.checkpoint import load_checkpoint
    from edgeage.export.exporter import Source, export_keras_model
    from edgeage.export.formats import ExportError

    ckpt = load_checkpoint(checkpoint)
    (tmp_path / "age.onnx").write_bytes(b"an older model stays untouched")
    with pytest.raises(ExportError, match=r"collapsed|differs"):
        export_keras_model(
            ckpt.model, "tflite-int8", tmp_path, crops=crops,
            calibration=np.zeros_like(crops[:8]), source=Source(name="t"),
        )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["age.onnx"]


def test_over_tolerance_is_refused(exports, crops, keras_ages):
    from edgeage.export.formats import ExportError
    from edgeage.export.verify import verify_export

    with pytest.raises(ExportError, match="over the tolerance"):
        verify_export(
            exports("tflite-int8").model_path, runtime="litert", crops=crops,
            keras_ages=keras_ages, tolerance=0.001,
        )  # fmt: skip


def test_challenge_band_reported_on_its_own(exports, crops, keras_ages):
    """The mean difference over the faces Keras puts under 25 is reported separately: the
    till's decision turns on them, and quantization error can gather there."""
    from edgeage.export.verify import verify_export

    reference = keras_ages.copy()
    reference[:5] = np.arange(5, 10)  # five faces "Keras" puts under 25, far from the export
    v = verify_export(
        exports("tflite-fp32").model_path, runtime="litert", crops=crops,
        keras_ages=reference, tolerance=100.0,
    )  # fmt: skip
    ages = load_age_model(exports("tflite-fp32").model_path).predict(crops)
    young = reference < 25
    assert v.faces_under_25 == int(young.sum()) >= 5
    assert v.mean_abs_diff_under_25_years == pytest.approx(
        float(np.abs(ages - reference)[young].mean()), abs=1e-3
    )
    assert v.mean_abs_diff_under_25_years > v.mean_abs_diff_years


def test_foreign_and_corrupt_checkpoints_refused(tmp_path, checkpoint):
    import keras

    from edgeage.export.checkpoint import load_checkpoint
    from edgeage.export.formats import ExportError

    inp = keras.Input((10,))
    other = tmp_path / "other.keras"
    keras.Model(inp, keras.layers.Dense(2)(inp)).save(other)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(checkpoint.read_bytes()[:100_000])
    noise = tmp_path / "noise.keras"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    cases = [(other, "not an age model"), (truncated, "cannot load"), (noise, "cannot load")]
    for path, message in cases:
        with pytest.raises(ExportError, match=message) as info:
            load_checkpoint(path)
        assert "\n" not in str(info.value)


def test_cli_bad_inputs_exit_2(tmp_path, face_dir):
    corrupt = tmp_path / "model.keras"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    cases = [
        (["--model", str(tmp_path / "none.keras")], "not found"),
        (["--model", str(corrupt), "--format", "tflite-int4"], "unknown --format"),
        (["--model", str(corrupt), "--calibration-data", str(face_dir)], "cannot load"),
        (["--model", str(corrupt), "--format", "tftrt-fp16"], "--format onnx"),
    ]
    for args, message in cases:
        res = run_cli("export", *args, "--out", str(tmp_path / "out"), timeout=120)
        assert res.returncode == 2, (args, res.stderr[-2000:])
        last = res.stderr.strip().splitlines()[-1]
        assert message in last and last.startswith("error:"), last
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_demo_usage():
    from edgeage.export.demo import main

    assert main([]) == 2


@pytest.mark.slow
def test_demo_model_builds_untrained(tmp_path):
    """What `edgeage demo` runs: the real 224 px builder in its own process (about a minute,
    so not in CI; the FP16 path it uses is the CLI default tested above)."""
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "edgeage.export.demo", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    path = Path(res.stdout.strip().splitlines()[-1])
    model = load_age_model(path)
    assert path == (tmp_path / "age.tflite").resolve()
    assert not model.trained and model.input_size == 224
    assert model.predict(np.full((2, 224, 224, 3), 128, np.float32)).shape == (2,)


def test_evaluate_compares_keras_and_exports_on_one_split(exports, cli_fp16, checkpoint, face_dir):
    """`edgeage evaluate` scores the checkpoint and its exports on the same photos, through
    the box runtime; the exports' MAE moves no more than their verified difference allows."""
    import json

    data = face_dir.parent  # labels.csv + final_files/
    models = [checkpoint, cli_fp16[1] / "age.tflite", exports("tflite-int8").model_path]
    args = [a for m in models for a in ("--model", str(m))]
    common = ("--data", str(data), "--validation-split", "0.5")
    res = run_cli("evaluate", *args, *common, "--json", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["format"] for r in rows] == ["keras", "tflite-fp16", "tflite-int8"]
    assert {r["n"] for r in rows} == {24}
    keras_mae = rows[0]["mae"]
    assert abs(rows[1]["mae"] - keras_mae) <= 0.1
    assert abs(rows[2]["mae"] - keras_mae) <= INT8_TOLERANCE
    assert rows[1]["mae"] != rows[2]["mae"]  # really two different models were run

    table = run_cli("evaluate", *args[:4], *common, timeout=300)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "vs first" in table.stdout and "tflite-fp16" in table.stdout
    assert f"{rows[1]['mae']:.2f}" in table.stdout


@pytest.mark.parametrize(
    "fmt", ["tflite-fp16", "tflite-fp32", "tflite-int8", "tflite-dynamic", "onnx"]
)
def test_daemon_runs_each_export(exports, cli_fp16, fmt):
    """`edgeage run` on each export: it loads, estimates customers and names the model it
    runs (the manifest's name and the file's sha256) in every age event."""
    import signal

    from tests.edge.helpers import Subscriber, endpoints, start_daemon, stop_daemon

    path = cli_fp16[1] / "age.tflite" if fmt == "tflite-fp16" else exports(fmt).model_path
    manifest = read_manifest(path)
    events, snapshot = endpoints()
    sub = Subscriber(events, ("age",))
    proc = start_daemon(
        ["run", "--source", "synthetic:?faces=1&fps=15&seed=2", "--model", str(path)],
        events,
        snapshot,
    )
    try:
        got_age = sub.wait_for(lambda t, m: t == "age", 60)
    finally:
        _, err = stop_daemon(proc, signal.SIGTERM)
        sub.close()
    assert got_age, err[-3000:]
    assert proc.returncode == 0, err[-3000:]
    model = sub.of("age")[0]["model"]
    assert model == {"name": manifest.name, "sha256": manifest.sha256, "trained": True}
