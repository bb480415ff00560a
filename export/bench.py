"""Time exported age models side by side, in one process, on the same faces.

Per-face latency on a shared machine drifts from minute to minute, so a ratio such as
"INT8 is 7x faster than FP16" only means something when both are measured in the same run,
interleaved. ``python -m edgeage.export.bench age-fp16/age.tflite age-int8/age.tflite``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edgeage.edge.age_model import AgeModelError, load_age_model
from edgeage.export.faces import load_face_crops, synthetic_crops
from edgeage.export.verify import ms_per_face


def bench(
    paths: list[Path], faces: Path | None, threads: int, batches: list[int], rounds: int = 3
) -> dict[str, dict[str, float]]:
    """Median over ``rounds`` interleaved rounds of ms per face, per model and batch size."""
    models = [load_age_model(p, threads=threads, batch_max=max(batches)) for p in paths]
    size = models[0].input_size
    crops = load_face_crops(faces, size, 32) if faces else synthetic_crops(size, 32)
    times: dict[str, dict[int, list[float]]] = {str(p): {b: [] for b in batches} for p in paths}
    for _ in range(rounds):
        for path, model in zip(paths, models, strict=True):
            for b in batches:
                times[str(path)][b].append(ms_per_face(model, crops, b, budget_s=1.0))
    return {
        p: {f"ms_per_face_batch{b}": round(float(np.median(v)), 3) for b, v in per.items()}
        for p, per in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeage.export.bench", description=__doc__)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--faces", type=Path, help="folder of face photos (default: synthetic)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = ap.parse_args(argv)
    try:
        result = bench(args.models, args.faces, args.threads, args.batches)
    except AgeModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
