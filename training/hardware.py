"""Which devices a run uses: one strategy object and the precision policy.

- ``TF_CONFIG`` set: ``MultiWorkerMirroredStrategy`` (each worker runs the same command).
- GPUs visible: ``MirroredStrategy`` over all of them, with ``mixed_float16``.
- otherwise: the default strategy on the CPU, float32.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import keras
import tensorflow as tf


@dataclass(frozen=True)
class Hardware:
    strategy: tf.distribute.Strategy
    description: str
    mixed_precision: bool
    chief: bool  # writes the run's files; other workers write to a scratch folder

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync


def is_chief(environ: dict[str, str] | None = None) -> bool:
    """The chief is task ``chief``, or worker 0 when the cluster has no chief."""
    raw = (environ if environ is not None else os.environ).get("TF_CONFIG")
    if not raw:
        return True
    config = json.loads(raw)
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config.get("cluster", {})


def configure(
    mixed_precision: bool | None = None, strategy: tf.distribute.Strategy | None = None
) -> Hardware:
    """Pick the strategy and set the global precision policy. ``mixed_precision=None`` means
    "on GPUs only": float16 on a CPU is slower and loses accuracy."""
    gpus = tf.config.list_physical_devices("GPU")
    if strategy is not None:
        description = f"{type(strategy).__name__} over {strategy.num_replicas_in_sync} replica(s)"
    elif os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        description = f"MultiWorkerMirroredStrategy, {strategy.num_replicas_in_sync} replica(s)"
    elif gpus:
        strategy = tf.distribute.MirroredStrategy()
        description = f"MirroredStrategy over {len(gpus)} GPU(s)"
    else:
        strategy = tf.distribute.get_strategy()
        description = "CPU (no GPU visible)"
    use_mixed = bool(gpus) if mixed_precision is None else mixed_precision
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    if use_mixed:
        description += ", mixed_float16"
    return Hardware(strategy, description, use_mixed, is_chief())
