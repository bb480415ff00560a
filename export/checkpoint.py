"""Open a training checkpoint and what the run left beside it (report, config).

The export refuses anything that does not honour the age model contract of
``training/model.py`` (one float32 ``[N, S, S, 3]`` input, one ``[N, 1]`` output), so a
wrong file fails here with one line instead of producing a model the till cannot use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeage.edge.detector_models import sha256_of
from edgeage.export.formats import ExportError

RUN_FILES = ("report.json", "config.json", "run.json")


@dataclass
class Checkpoint:
    path: Path
    model: Any  # keras.Model; typed loosely so this module imports without TensorFlow
    input_size: int
    head: str
    sha256: str
    run_info: dict[str, Any] = field(default_factory=dict)  # file name -> parsed JSON

    @property
    def report(self) -> dict[str, Any] | None:
        return self.run_info.get("report.json")


def check_age_model(model: Any, where: str) -> int:
    """The input size of a Keras age model, or ExportError naming what is wrong."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError(
            f"{where}: not an age model: {len(model.inputs)} inputs and "
            f"{len(model.outputs)} outputs, expected one of each"
        )
    shape = tuple(model.inputs[0].shape)
    dtype = str(model.inputs[0].dtype)
    out = tuple(model.outputs[0].shape)
    if (
        len(shape) != 4
        or shape[3] != 3
        or shape[1] is None
        or shape[1] != shape[2]
        or "float32" not in dtype
    ):
        raise ExportError(
            f"{where}: not an age model: input {dtype} {list(shape)}, expected float32 [N, S, S, 3]"
        )
    if len(out) != 2 or out[1] != 1:
        raise ExportError(
            f"{where}: not an age model: output shape {list(out)}, expected [N, 1] years"
        )
    return int(shape[1])


def load_checkpoint(path: Path) -> Checkpoint:
    """Load a ``.keras`` checkpoint written by training; ExportError when it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found")
    if path.suffix != ".keras":
        raise ExportError(f"{path}: expected a Keras checkpoint (.keras)")
    import keras

    from edgeage.training.model import head_of

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # zipfile, h5py, JSON and Keras errors all mean "unusable file"
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ExportError(f"{path}: cannot load the checkpoint: {text}") from None
    size = check_age_model(model, str(path))
    return Checkpoint(
        path=path,
        model=model,
        input_size=size,
        head=head_of(model),
        sha256=sha256_of(path),
        run_info=read_run_info(path.parent),
    )


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """The JSON files training leaves in a run directory; unreadable ones are skipped."""
    info: dict[str, Any] = {}
    for name in RUN_FILES:
        p = run_dir / name
        if p.is_file():
            try:
                doc = json.loads(p.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(doc, dict):
                info[name] = doc
    return info


def find_key(info: dict[str, Any], *keys: str) -> Any:
    """First value under any of keys, searched depth-first through the run's JSON files."""
    stack: list[Any] = list(info.values())
    while stack:
        doc = stack.pop(0)
        if isinstance(doc, dict):
            for k in keys:
                if k in doc and doc[k] is not None:
                    return doc[k]
            stack.extend(v for v in doc.values() if isinstance(v, dict))
    return None


def _numeric(value: Any) -> bool:
    """A number, None, or a dict of such (e.g. MAE by age band), but not settings."""
    if isinstance(value, dict):
        return bool(value) and all(_numeric(v) for v in value.values())
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def training_metrics(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The metrics the manifest carries: report["metrics"] when training nests them there,
    else the report's numeric entries (mae, rmse, mae_by_band, ...), leaving out settings
    such as the recipe and data description."""
    if not report:
        return None
    metrics = report.get("metrics")
    if isinstance(metrics, dict):
        return metrics
    flat = {k: v for k, v in report.items() if v is not None and _numeric(v)}
    return flat or None
