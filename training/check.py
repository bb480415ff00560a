"""The data check: find the photos a run should not learn from, before it starts.

Problems: missing files, files that do not decode, grayscale photos (the till camera is
colour; a network fed gray faces learns a colour shift as an age cue), ages outside 0-100 or
not numbers, and duplicates (the same file listed twice, or identical bytes under two names,
which leaks training photos into validation). ``strict`` fails on any; otherwise they are
skipped and counted.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgeage.training.data import DataError, Dataset, Sample

KINDS = ("missing", "unreadable", "grayscale", "age_out_of_range", "duplicate")
MIN_AGE, MAX_AGE = 0, 100
# TensorFlow's decode_image reads these; anything else would fail inside the input pipeline.
DECODABLE = {b"\xff\xd8\xff": "jpeg", b"\x89PNG": "png", b"GIF8": "gif", b"BM": "bmp"}


@dataclass
class CheckReport:
    total: int
    kept: int
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(self.problems.get(k, [])) for k in KINDS}

    @property
    def skipped(self) -> int:
        return self.total - self.kept

    def summary(self) -> str:
        parts = [f"{n} {k.replace('_', ' ')}" for k, n in self.counts.items() if n]
        if not parts:
            return f"data check: all {self.total} images usable"
        return f"data check: skipped {self.skipped} of {self.total} images ({', '.join(parts)})"

    def to_dict(self, examples: int = 5) -> dict:
        return {
            "total": self.total,
            "kept": self.kept,
            "skipped": self.skipped,
            "counts": self.counts,
            "examples": {k: v[:examples] for k, v in self.problems.items() if v},
        }


def _inspect_file(path: Path) -> tuple[str | None, str | None]:
    """(problem kind or None, sha1 of the bytes or None)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing", None
    except OSError:
        return "unreadable", None
    if not any(data.startswith(magic) for magic in DECODABLE):
        return "unreadable", None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return "unreadable", None
    digest = hashlib.sha1(data).hexdigest()
    if image.ndim == 2 or image.shape[2] == 1:
        return "grayscale", digest
    c = image[..., :3].astype(np.int16)
    # A gray photo stored as colour JPEG decodes with (almost) equal channels.
    if np.abs(c[..., 0] - c[..., 1]).mean() < 1.0 and np.abs(c[..., 1] - c[..., 2]).mean() < 1.0:
        return "grayscale", digest
    return None, digest


def check_samples(
    samples: list[Sample], strict: bool = False, workers: int = 8
) -> tuple[list[Sample], CheckReport]:
    """The usable samples (first occurrence wins for duplicates) and the report."""
    problems: dict[str, list[str]] = {k: [] for k in KINDS}
    with ThreadPoolExecutor(max_workers=workers) as pool:  # cv2 decodes without the GIL
        results = list(pool.map(_inspect_file, [s.path for s in samples]))
    kept: list[Sample] = []
    seen_paths: set[Path] = set()
    seen_digests: dict[str, Path] = {}
    for sample, (kind, digest) in zip(samples, results, strict=True):
        age = sample.age
        if kind is None and (not math.isfinite(age) or not MIN_AGE <= age <= MAX_AGE):
            kind = "age_out_of_range"
        if kind is None and (sample.path in seen_paths or digest in seen_digests):
            kind = "duplicate"
        if kind is not None:
            problems[kind].append(
                f"{sample.path} (age {age})" if kind == "age_out_of_range" else str(sample.path)
            )
            continue
        seen_paths.add(sample.path)
        if digest:
            seen_digests[digest] = sample.path
        kept.append(sample)
    report = CheckReport(total=len(samples), kept=len(kept), problems=problems)
    if strict and report.skipped:
        first = next(f"{k}: {v[0]}" for k, v in problems.items() if v)
        raise DataError(f"{report.summary().replace('skipped', 'found')}; first {first}")
    return kept, report


def check_dataset(
    dataset: Dataset, strict: bool = False, required: tuple[str, ...] = ("train", "val")
) -> CheckReport:
    """Check every split in place; fail when a required split has no usable image left."""
    order = [name for name in ("train", "val", "test") if name in dataset.splits]
    everything = [s for name in order for s in dataset.splits[name]]
    kept, report = check_samples(everything, strict=strict)
    by_split = Counter(s.split for s in kept)
    for name in order:
        listed = len(dataset.splits[name])
        dataset.splits[name] = [s for s in kept if s.split == name]
        if name in required and by_split[name] == 0:
            raise DataError(
                f"{dataset.root}: no usable images in the {name} split "
                f"({listed} listed; {report.summary().removeprefix('data check: ')})"
            )
    return report
