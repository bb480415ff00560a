"""`edgeage estimate`: faces and ages on still photos."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from edgeage.cli.common import console, fail, setup_logging
from edgeage.cli.run_cmd import ConfigOption, load


def estimate(
    images: list[Path] = typer.Argument(..., help="photos to estimate"),
    model: Path | None = typer.Option(None, "--model", "-m", help="age model .tflite/.onnx"),
    config: Path | None = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="one JSON object per image"),
) -> None:
    """Detect faces on each photo and estimate each face's age."""
    import cv2
    import numpy as np

    from edgeage.edge.crop import face_crop
    from edgeage.edge.daemon import StartupError, open_age_model, open_detector

    cfg = load(config, {"age": {"model": str(model)}} if model else {})
    setup_logging("WARNING")
    try:
        age_model = open_age_model(cfg)
        detector = open_detector(cfg, video=False)
    except StartupError as exc:
        fail(str(exc))
    table = Table("image", "face", "box (x, y, w, h) px", "score", "age")
    with detector:
        for path in images:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                fail(f"{path}: not a readable image")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces = detector.detect(rgb)
            ages: list[float] = []
            if faces:
                crops = np.stack(
                    [face_crop(rgb, f, age_model.input_size, age_model.crop_margin) for f in faces]
                )
                ages = [float(a) for a in age_model.predict(crops.astype(np.float32))]
            rows = [
                {
                    "box": [round(v, 1) for v in f.box],
                    "score": round(f.score, 3),
                    "age": round(a, 1),
                }
                for f, a in zip(faces, ages, strict=True)
            ]
            if as_json:
                print(
                    json.dumps(
                        {
                            "image": str(path),
                            "width": rgb.shape[1],
                            "height": rgb.shape[0],
                            "faces": rows,
                            "model": {"name": age_model.name, "trained": age_model.trained},
                        }
                    )
                )
            else:
                for i, row in enumerate(rows):
                    table.add_row(
                        str(path),
                        str(i + 1),
                        str(row["box"]),
                        str(row["score"]),
                        f"{row['age']:.1f}",
                    )
                if not rows:
                    table.add_row(str(path), "-", "no face found", "", "")
    if not as_json:
        console.print(table)
        if not age_model.trained:
            console.print("[yellow]the age model is untrained: ages are placeholders[/]")
