"""The naive pipeline a user might write from the training notebook, for `bench --baseline`.

Every frame, every face, one Keras ``predict`` call each: no tracking, no batching, no
LiteRT. It uses the same source, detector and crop as the daemon so that the comparison
measures only what the daemon's design adds. Run as its own process
(``python -m edgeage.export.baseline``) so its CPU time and memory are its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def run_baseline(
    source_uri: str, model_path: Path | None, duration_s: float, detector_model: Path
) -> dict[str, Any]:
    import keras
    import numpy as np

    from edgeage.edge.crop import face_crop
    from edgeage.edge.detector import FaceDetector
    from edgeage.edge.sources import SourceEnded, make_source
    from edgeage.training.model import build_age_model

    if model_path is not None:
        model = keras.models.load_model(model_path, compile=False)
    else:
        model = build_age_model(224, "dex", weights=None)
    size = int(model.input_shape[1])
    source = make_source(source_uri)
    source.open()
    frames = faces_seen = predicts = 0
    with FaceDetector(detector_model, video=False) as detector:
        model.predict(np.zeros((1, size, size, 3), np.float32), verbose=0)  # warm-up
        cpu0, wall0 = time.process_time(), time.monotonic()
        while time.monotonic() - wall0 < duration_s:
            try:
                image = source.read()
            except SourceEnded:
                break
            frames += 1
            for face in detector.detect(image):
                faces_seen += 1
                crop = face_crop(image, face, size).astype(np.float32)
                model.predict(crop[None], verbose=0)
                predicts += 1
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
    source.close()
    return {
        "frames_processed": frames,
        "fps_processed": round(frames / wall, 2),
        "faces": faces_seen,
        "predict_calls": predicts,
        "cpu_s": round(cpu, 2),
        "duration_s": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True)
    parser.add_argument("--model", type=Path, default=None, help=".keras checkpoint")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--detector", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(run_baseline(args.source, args.model, args.duration, args.detector)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
