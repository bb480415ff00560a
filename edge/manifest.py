"""The manifest that travels beside every exported age model (``age.tflite`` + ``age.json``).

Export writes it with this model and the daemon reads it with the same model, so the two
sides cannot drift apart: the crop margin and input size the model was trained with, what
its output means, and the hash that ties the manifest to exactly one model file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgeage.edge.detector_models import sha256_of

MANIFEST_VERSION = 1


class ManifestError(Exception):
    """The manifest is unreadable or contradicts its model file."""


class ModelInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shape: list[int | None] = Field(description="[batch, height, width, channels]; batch None")
    dtype: Literal["float32"] = "float32"
    colour_order: Literal["RGB"] = "RGB"
    value_range: tuple[float, float] = (0.0, 255.0)


class ModelOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meaning: Literal["age_years"] = "age_years"
    head: Literal["regression", "dex"] = "regression"
    shape: list[int | None] = Field(default_factory=lambda: [None, 1])


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manifest_version: int = MANIFEST_VERSION
    name: str
    format: Literal[
        "tflite-fp32", "tflite-fp16", "tflite-int8", "tflite-dynamic", "onnx", "tftrt-fp16"
    ]
    model_file: str
    sha256: str
    input: ModelInput
    output: ModelOutput = Field(default_factory=ModelOutput)
    crop_margin: float = Field(ge=0.0, le=2.0)
    trained: bool
    source_checkpoint: str | None = None
    source_checkpoint_sha256: str | None = None
    training_metrics: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    created: str
    edgeage_version: str

    @property
    def input_size(self) -> int:
        return int(self.input.shape[1] or 0)


def manifest_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def write_manifest(manifest: Manifest, path: Path) -> None:
    path.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")


def read_manifest(model_path: Path, *, verify_hash: bool = True) -> Manifest | None:
    """The manifest beside model_path, checked against the file; None when there is none."""
    path = manifest_path(model_path)
    if not path.is_file():
        return None
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ManifestError(f"{path}: invalid manifest: {loc}: {err['msg']}") from None
    if manifest.model_file != model_path.name:
        raise ManifestError(f"{path}: manifest is for {manifest.model_file}, not {model_path.name}")
    if verify_hash:
        digest = sha256_of(model_path)
        if digest != manifest.sha256:
            raise ManifestError(
                f"{path}: sha256 of {model_path.name} is {digest[:12]}..., the manifest says "
                f"{manifest.sha256[:12]}...: manifest belongs to another model"
            )
    return manifest
