"""The daemon's configuration: one validated pydantic model, read from TOML.

Precedence, lowest first: defaults < TOML file < calibration fragment < environment
(``EDGEAGE_<SECTION>__<KEY>``) < command-line flags. Every layer goes through the same
model, so a typo anywhere is caught before the camera is opened.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "EDGEAGE_"
CONFIG_ENV = "EDGEAGE_CONFIG"
ENV_ORIGIN = "environment"


class ConfigError(Exception):
    """A configuration that cannot be used; the message is one line for the operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SourceConfig(_Section):
    uri: str = Field(
        "/dev/video0",
        description="camera index, /dev/videoN, rtsp://, http(s)://, "
        "a video file, images:DIR or synthetic:",
    )
    camera_id: str = Field("till-1", min_length=1, description="names this camera in every event")
    width: int | None = Field(None, gt=0, description="resolution to ask a V4L2 camera for")
    height: int | None = Field(None, gt=0)
    fps: float | None = Field(None, gt=0, description="frame rate to ask a V4L2 camera for")
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(3.0, gt=0, description="no frame for this long means offline")
    buffer_frames: int = Field(
        2,
        ge=1,
        le=8,
        description="frames held between camera and pipeline; a stall shorter than "
        "buffer_frames - 1 frame periods delays frames instead of dropping them",
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> SourceConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class DetectorConfig(_Section):
    model: Literal["full", "short"] | Path = Field(
        "full", description="'full' (full-range, default), 'short', or a path to a .tflite"
    )
    model_dir: Path | None = Field(None, description="where `edgeage models fetch` stored models")
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    min_face_px: int = Field(40, ge=1, description="smaller faces are ignored (pixels, box side)")
    roi: tuple[float, float, float, float] | None = Field(
        None,
        description="[x0, y0, x1, y1] as fractions of the frame; faces centred outside are ignored",
    )

    @field_validator("roi")
    @classmethod
    def _roi_inside_frame(cls, v: tuple[float, float, float, float] | None):
        if v is None:
            return v
        x0, y0, x1, y1 = v
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError(
                "roi must be [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1"
            )
        return v


class AgeConfig(_Section):
    model: Path | None = Field(None, description=".tflite or .onnx age model; manifest beside it")
    runtime: Literal["auto", "litert", "onnxruntime"] = "auto"
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        description="ONNX Runtime execution providers, in order",
    )
    threads: int = Field(2, ge=1, le=64)
    batch_max: int = Field(8, ge=1, le=64)
    batch_wait_ms: float = Field(5.0, ge=0, le=1000)
    input_size: int = Field(224, ge=16, le=1024, description="used when no manifest says")
    crop_margin: float = Field(0.4, ge=0.0, le=2.0, description="used when no manifest says")


class TrackerConfig(_Section):
    iou_min: float = Field(0.2, ge=0.0, le=1.0)
    max_missing_s: float = Field(1.0, gt=0)
    reinfer_ms: float = Field(250.0, ge=0)
    samples_max: int = Field(8, ge=1, le=1000)


class PolicyConfig(_Section):
    legal_age: float = Field(18, ge=0, le=100)
    challenge_age: float = Field(25, ge=0, le=100)

    @model_validator(mode="after")
    def _challenge_above_legal(self) -> PolicyConfig:
        if self.challenge_age < self.legal_age:
            raise ValueError("challenge_age must be >= legal_age")
        return self


class CurveConfig(_Section):
    server_secret_key: Path = Field(
        description="the daemon's key pair, as written by `edgeage keys generate` (NAME.key_secret)"
    )
    clients_dir: Path = Field(description="directory of allowed client public keys (*.key)")


class PublisherConfig(_Section):
    events: str = Field("tcp://127.0.0.1:5556", description="ZeroMQ PUB endpoint")
    snapshot: str = Field(
        "tcp://127.0.0.1:5557", description="ZeroMQ REP endpoint for late joiners"
    )
    heartbeat_s: float = Field(1.0, gt=0, le=60)
    sndhwm: int = Field(1000, ge=1, description="messages queued per subscriber before dropping")
    curve: CurveConfig | None = Field(
        None, description="ZeroMQ CURVE: encrypt and authenticate both sockets"
    )
    allow_insecure: bool = Field(
        False,
        description="allow binding a non-loopback address without CURVE (warned at every start)",
    )


class MetricsConfig(_Section):
    listen: str | None = Field(None, description="host:port for Prometheus, e.g. 127.0.0.1:9108")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Config(_Section):
    source: SourceConfig = Field(default_factory=SourceConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    age: AgeConfig = Field(default_factory=AgeConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    publisher: PublisherConfig = Field(default_factory=PublisherConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None


def _env_value(raw: str) -> Any:
    """Lists and tables arrive as JSON; everything else stays a string for pydantic to coerce."""
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def env_overrides(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Collect ``EDGEAGE_<SECTION>__<KEY>`` variables into a nested dict."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(raw)
    return out


def _key(part: object) -> str:
    """A key as the operator typed it; quoted when it is not a plain name, so a key holding a
    newline or a dot cannot break the one-line error."""
    text = str(part)
    if text and all(c.isalnum() or c in "_-" for c in text):
        return text
    return json.dumps(text)


def _describe(exc: ValidationError, origin: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(_key(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    else:
        msg = " ".join(err["msg"].removeprefix("Value error, ").split())
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if origin == ENV_ORIGIN and len(err["loc"]) >= 2:
        var = ENV_PREFIX + "__".join(str(p).upper() for p in err["loc"][:2])
        return f"{origin}: {var} ({loc}): {msg}{more}"
    return f"{origin}: {loc}: {msg}{more}"


def load_config(
    path: Path | None = None,
    *,
    fragments: list[Path] | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Build the effective config; any problem raises ConfigError naming the key and its origin.

    Each layer is validated on its own first, so an error names the file (or variable) that
    introduced it rather than the merged result.
    """
    environ = dict(os.environ if environ is None else environ)
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), _read_toml(path)))
    for frag in fragments or []:
        layers.append((str(frag), _read_toml(frag)))
    env = env_overrides(environ)
    if env:
        layers.append((ENV_ORIGIN, env))
    if overrides:
        layers.append(("command line", overrides))
    merged: dict[str, Any] = {}
    for origin, data in layers:
        try:
            Config.model_validate(data)
        except ValidationError as exc:
            # Rules that tie two keys together (min <= max) may be met only after merging.
            if any(len(e["loc"]) > 1 or e["type"] == "extra_forbidden" for e in exc.errors()):
                raise ConfigError(_describe(exc, origin)) from None
        merged = _merge(merged, data)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:  # cross-layer constraints, e.g. challenge_age < legal_age
        raise ConfigError(_describe(exc, "effective config")) from None


def config_to_toml(cfg: Config) -> str:
    """Render the effective config as TOML, for `edgeage config show` and calibration output."""
    data = cfg.model_dump(mode="json")
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                lines.append(f"# {key} = (not set)")
            else:
                lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    """One TOML literal; json's string escaping is valid TOML basic-string escaping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
