"""`edgeage run` and `edgeage demo`: the camera daemon."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from edgeage.cli.common import err_console, fail, setup_logging
from edgeage.edge.config import Config, ConfigError, load_config
from edgeage.edge.detector_models import default_model_dir

log = logging.getLogger("edgeage")

ConfigOption = typer.Option(
    None, "--config", "-c", envvar="EDGEAGE_CONFIG", help="TOML config file"
)
LogFormatOption = typer.Option(None, "--log-format", help="text or json (default: config)")


CALIBRATION_FILE = "calibration.toml"


def calibration_path(config: Path | None) -> Path | None:
    """Where `edgeage calibrate` writes by default and `run` looks: beside the config."""
    config = config or (
        Path(os.environ["EDGEAGE_CONFIG"]) if os.environ.get("EDGEAGE_CONFIG") else None
    )
    return config.parent / CALIBRATION_FILE if config is not None else None


def load(config: Path | None, overrides: dict[str, Any], calibration: Path | None = None) -> Config:
    """The effective config: file, then the calibration fragment, then env, then flags."""
    fragments = [calibration] if calibration else []
    if calibration is None:
        beside = calibration_path(config)
        if beside is not None and beside.is_file():
            fragments.append(beside)
    try:
        return load_config(config, fragments=fragments, overrides=overrides)
    except ConfigError as exc:
        fail(str(exc))


def run_daemon(cfg: Config, duration: float | None) -> None:
    """Build (exit 2 on any start-up problem), then run until a signal or the duration."""
    from edgeage.edge.daemon import StartupError, build  # loads MediaPipe: only when running

    setup_logging(cfg.logging.level, cfg.logging.format)
    try:
        daemon = build(cfg)
    except StartupError as exc:
        fail(str(exc))
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    daemon.run(stop, duration)
    log.info("stopped")


def _overrides(**sections: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {kk: vv for kk, vv in v.items() if vv is not None}
        for k, v in sections.items()
        if any(vv is not None for vv in v.values())
    }


def run(
    config: Path | None = ConfigOption,
    source: str | None = typer.Option(
        None, "--source", "-s", help="source URI (overrides source.uri)"
    ),
    model: Path | None = typer.Option(None, "--model", "-m", help="age model .tflite/.onnx"),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="stop after this many seconds"
    ),
    log_format: str | None = LogFormatOption,
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help="fragment from `edgeage calibrate` (default: calibration.toml beside the "
        "config, if present)",
    ),
) -> None:
    """Run the camera daemon: faces → ages → ZeroMQ events. SIGINT/SIGTERM stop it cleanly."""
    cfg = load(
        config,
        _overrides(
            source={"uri": source},
            age={"model": str(model) if model else None},
            logging={"format": log_format},
        ),
        calibration,
    )
    run_daemon(cfg, duration)


def demo_model_path() -> Path:
    return default_model_dir().parent / "demo" / "age.tflite"


def ensure_demo_model() -> Path:
    """An untrained ResNet50 in FP16 TFLite, built once by the export code in a separate
    process (this process must stay TensorFlow-free) and cached."""
    path = demo_model_path()
    if path.is_file() and path.with_suffix(".json").is_file():
        return path
    with err_console.status(
        "building the demo age model (untrained ResNet50, once; about a minute) ..."
    ):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run(
            [sys.executable, "-m", "edgeage.export.demo", str(path.parent)],
            capture_output=True,
            text=True,
            env=env,
        )
    if proc.returncode != 0 or not path.is_file():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        fail(f"could not build the demo age model ({last}); is the 'export' extra installed?")
    return path


def demo(
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="stop after this many seconds"
    ),
    faces: int = typer.Option(2, "--faces", min=0, max=20, help="customers at once"),
    fps: float = typer.Option(15.0, "--fps", min=1, max=60),
    config: Path | None = ConfigOption,
    model: Path | None = typer.Option(
        None, "--model", "-m", help="age model (default: the untrained demo model)"
    ),
) -> None:
    """Run the whole pipeline on the built-in synthetic checkout scene."""
    cfg = load(
        config,
        _overrides(
            source={"uri": f"synthetic:?faces={faces}&fps={fps:g}"},
            age={"model": str(model) if model else None},
        ),
    )
    if cfg.age.model is None:
        cfg = cfg.model_copy(
            update={"age": cfg.age.model_copy(update={"model": ensure_demo_model()})}
        )
        err_console.print(
            "[bold yellow]WARNING: no trained age model configured; the demo "
            "runs an UNTRAINED model. Every age is a placeholder "
            "(model.trained = false) until you train and export one.[/]"
        )
    run_daemon(cfg, duration)
