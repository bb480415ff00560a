"""The demo age model: an UNTRAINED ResNet50 (224 px, DEX head) as FP16 TFLite + manifest.

It lets ``edgeage demo`` run the whole pipeline on a machine with no trained checkpoint;
its ages are meaningless and its manifest says ``trained: false`` so the daemon says so.
Run as ``python -m edgeage.export.demo OUT_DIR`` from a separate process, which keeps the
daemon's own process free of TensorFlow; the model path is the last line on stdout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEMO_SIZE = 224
DEMO_SAMPLES = 16


def build_demo_model(out_dir: Path, input_size: int = DEMO_SIZE) -> Path:
    """Build, export and verify the untrained demo model; returns the ``.tflite`` path."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from edgeage.export.exporter import Source, export_keras_model
    from edgeage.export.faces import synthetic_crops
    from edgeage.training.model import build_age_model

    keras.utils.set_random_seed(0)
    model = build_age_model(input_size=input_size, head="dex", weights=None)
    result = export_keras_model(
        model,
        "tflite-fp16",
        Path(out_dir),
        crops=synthetic_crops(input_size, DEMO_SAMPLES),
        source=Source(name="demo-untrained-resnet50", head="dex", trained=False),
    )
    return result.model_path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m edgeage.export.demo OUT_DIR", file=sys.stderr)
        return 2
    from edgeage.export.formats import ExportError

    try:
        path = build_demo_model(Path(args[0]))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
