"""`edgeage calibrate`: fit the daemon to one till's camera, on site."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from edgeage.cli.common import console, fail, setup_logging
from edgeage.cli.run_cmd import ConfigOption, calibration_path, load


def calibrate(
    config: Path | None = ConfigOption,
    source: str | None = typer.Option(None, "--source", "-s", help="source URI"),
    model: Path | None = typer.Option(None, "--model", "-m", help="age model to time"),
    duration: float = typer.Option(30.0, "--duration", min=1.0, help="seconds to watch"),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="fragment to write (default: calibration.toml beside the config, or here)",
    ),
    preview: Path | None = typer.Option(
        None, "--preview", help="save one annotated frame with every face blurred (.jpg/.png)"
    ),
) -> None:
    """Measure the camera, watch faces, time the age model; write a config fragment."""
    from edgeage.edge.calibrate import CalibrationError, save_preview
    from edgeage.edge.calibrate import calibrate as run_calibration
    from edgeage.edge.capture import Capture
    from edgeage.edge.daemon import StartupError, open_age_model, open_detector
    from edgeage.edge.detector import FaceDetector
    from edgeage.edge.detector_models import resolve
    from edgeage.edge.sources import BadSourceURI, make_source

    overrides = {}
    if source:
        overrides["source"] = {"uri": source}
    if model:
        overrides["age"] = {"model": str(model)}
    cfg = load(config, overrides)
    setup_logging("WARNING", cfg.logging.format)
    if preview is not None and preview.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        fail(f"{preview}: the preview must be a .jpg or .png file")
    target = out or calibration_path(config) or Path("calibration.toml")
    s = cfg.source
    try:
        src = make_source(
            s.uri, width=s.width, height=s.height, fps=s.fps, timeout_s=s.read_timeout_s
        )
        age_model = open_age_model(cfg)
        # Calibrate on every face the detector can see: no ROI, no size floor yet.
        detector = open_detector(
            cfg.model_copy(
                update={"detector": cfg.detector.model_copy(update={"roi": None, "min_face_px": 1})}
            )
        )
    except (BadSourceURI, StartupError) as exc:
        fail(str(exc))
    capture = Capture(
        src,
        reconnect_min_s=s.reconnect_min_s,
        reconnect_max_s=s.reconnect_max_s,
        read_timeout_s=s.read_timeout_s,
    )
    # The preview is searched again at a low threshold so no overlooked face is saved.
    sweeper = (
        FaceDetector(
            resolve(cfg.detector.model, cfg.detector.model_dir), min_confidence=0.2, video=False
        )
        if preview is not None
        else None
    )
    with detector, Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"watching {s.uri} for {duration:g} s", total=1.0)
        try:
            result = run_calibration(
                capture,
                detector,
                age_model,
                duration,
                s.fps,
                preview is not None,
                lambda f: progress.update(task, completed=f),
                preview_detector=sweeper,
            )
        except CalibrationError as exc:
            fail(str(exc))
        finally:
            if sweeper is not None:
                sweeper.close()
    cam, faces, prop = result.camera, result.faces, result.proposal
    table = Table("measured", "value", title=f"calibration of {s.uri}")
    table.add_row("camera", f"{cam.width}x{cam.height} at {cam.fps:.1f} fps ({cam.frames} frames)")
    table.add_row(
        "brightness / contrast / sharpness",
        f"{cam.brightness:.0f} / {cam.contrast:.0f} / {cam.sharpness:.0f}",
    )
    table.add_row(
        "faces seen",
        f"{faces.faces} in {faces.frames_with_faces} frames; size p10/"
        f"p50/p90 {faces.size_px['p10']:.0f}/{faces.size_px['p50']:.0f}/"
        f"{faces.size_px['p90']:.0f} px",
    )
    table.add_row(
        "age model ms per batch",
        ", ".join(f"{n}: {ms:.1f}" for n, ms in result.timing.ms_per_batch.items()),
    )
    table.add_row(
        "proposed detector",
        f"model={prop.detector_model}, min_face_px="
        f"{prop.min_face_px}, roi={[round(v, 3) for v in prop.roi or []]}",
    )
    table.add_row(
        "proposed age",
        f"batch_max={prop.batch_max}, batch_wait_ms={prop.batch_wait_ms}, threads={prop.threads}",
    )
    console.print(table)
    for warning in cam.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    for note in prop.notes:
        console.print(f"note: {note}", highlight=False)
    header = (
        f"edgeage calibration for {s.camera_id} ({s.uri}), {duration:g} s.\n"
        "Merged by `edgeage run` over its config (beside the config, or --calibration)."
    )
    try:
        target.write_text(prop.fragment(header))
        if preview is not None and result.preview is not None:
            save_preview(result.preview, preview)
    except OSError as exc:
        fail(f"cannot write the calibration output: {exc}")
    console.print(
        f"wrote {target}" + (f" and {preview} (faces blurred)" if preview else ""), highlight=False
    )
