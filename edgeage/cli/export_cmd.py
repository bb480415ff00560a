"""`edgeage export`: turn a training checkpoint into a verified model for the till.

TensorFlow is imported only when the command runs, so `edgeage --help` and the edge
commands stay free of it.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgeage.cli.common import console, fail, setup_logging

FORMAT_HELP = "tflite-fp16 (default), tflite-fp32, tflite-int8, tflite-dynamic, onnx, tftrt-fp16"


def export(
    model: Path = typer.Option(..., "--model", help="training checkpoint, RUN/model.keras"),
    fmt: str = typer.Option("tflite-fp16", "--format", help=FORMAT_HELP),
    out: Path = typer.Option(..., "--out", help="folder for age.tflite/age.onnx + age.json"),
    calibration_data: Path | None = typer.Option(
        None,
        "--calibration-data",
        help="folder of face photos for INT8 calibration and verification "
        "(default: the validation folder the training run recorded)",
    ),
    samples: int = typer.Option(128, "--samples", min=1, max=5000, help="face images to use"),
    tolerance: float | None = typer.Option(
        None,
        "--tolerance",
        min=0.0,
        help="max mean |Keras - exported| in years (default 0.1, INT8 0.5)",
    ),
    crop_margin: float | None = typer.Option(
        None,
        "--crop-margin",
        min=0.0,
        max=2.0,
        help="crop margin the model was trained with (default: the run's, else 0.4)",
    ),
    threads: int = typer.Option(2, "--threads", min=1, max=64, help="threads for timing"),
    untrained: bool = typer.Option(
        False, "--untrained", help="mark the model untrained in its manifest"
    ),
) -> None:
    """Export a checkpoint to FP16/FP32/INT8 TFLite or ONNX, verified against Keras."""
    from edgeage.export.formats import FORMATS, ExportError

    if fmt not in FORMATS:
        fail(f"unknown --format {fmt!r}; one of {', '.join(FORMATS)}")
    if not model.is_file():
        fail(f"{model}: checkpoint not found")
    if calibration_data is not None and not calibration_data.is_dir():
        fail(f"{calibration_data}: calibration data folder not found")
    setup_logging("WARNING")
    from edgeage.export.exporter import export_checkpoint

    try:
        with console.status(f"exporting {model} as {fmt} ..."):
            result = export_checkpoint(
                model,
                fmt,
                out,
                calibration_data=calibration_data,
                samples=samples,
                tolerance=tolerance,
                crop_margin=crop_margin,
                threads=threads,
                trained=not untrained,
            )
    except ExportError as exc:
        fail(str(exc))
    v = result.verification
    table = Table(title=f"{fmt}: verified against Keras on {v.samples} faces")
    table.add_column("check")
    table.add_column("value", justify="right")
    table.add_row(
        "mean |diff| (years)", f"{v.mean_abs_diff_years:.4f} (tolerance {v.tolerance_years})"
    )
    table.add_row("max |diff| (years)", f"{v.max_abs_diff_years:.4f}")
    if v.mean_abs_diff_under_25_years is not None:
        table.add_row(
            "mean |diff| where Keras < 25",
            f"{v.mean_abs_diff_under_25_years:.4f} ({v.faces_under_25} faces)",
        )
    table.add_row(
        "age spread Keras / exported", f"{v.keras_std_years:.2f} / {v.exported_std_years:.2f}"
    )
    table.add_row("file size (MB)", f"{v.file_size_bytes / 1e6:.1f}")
    table.add_row("ms per face, batch 1", f"{v.ms_per_face_batch1:.2f}")
    table.add_row("ms per face, batch 8", f"{v.ms_per_face_batch8:.2f}")
    table.add_row("batch sizes", "1..16 ok")
    console.print(table)
    console.print(f"model:    {result.model_path}")
    console.print(f"manifest: {result.manifest_path}")
