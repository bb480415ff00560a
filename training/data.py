"""Readers for the two labelled-photo layouts we train on.

*Seed layout* (the customer's notebook): ``labels.csv`` with ``file_name, real_age`` and the
photos in ``final_files/``. It has no official split, so the validation set is the first
``validation_split`` share of the rows, exactly as ``ImageDataGenerator(validation_split=…)``
takes it; both recipes use that split so their numbers compare.

*APPA-REAL layout* (the official release): ``train/``, ``valid/``, ``test/`` holding
``dddddd.jpg_face.jpg`` crops (and the original ``dddddd.jpg`` photos), and
``gt_avg_{train,valid,test}.csv`` with ``file_name, num_ratings, apparent_age_avg,
apparent_age_std, real_age``. The target is real or apparent age.

No TensorFlow here: the CLI reads and checks data before paying for that import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

Target = Literal["real", "apparent"]
Split = Literal["train", "val", "test"]
SEED_CSV, SEED_DIR = "labels.csv", "final_files"
SEED_COLUMNS = ("file_name", "real_age")
APPA_COLUMNS = ("file_name", "num_ratings", "apparent_age_avg", "apparent_age_std", "real_age")
APPA_SPLITS: dict[Split, str] = {"train": "train", "val": "valid", "test": "test"}


class DataError(Exception):
    """The data cannot be used; the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class Sample:
    """One labelled photo. ``source`` is the photo to re-detect faces in for ``--recrop``
    (APPA-REAL's uncropped original when present); ``path`` is what training reads."""

    path: Path
    age: float
    source: Path
    split: Split


@dataclass
class Dataset:
    layout: Literal["seed", "appa-real"]
    root: Path
    target: Target
    splits: dict[Split, list[Sample]] = field(default_factory=dict)

    def split(self, name: Split) -> list[Sample]:
        if name not in self.splits:
            raise DataError(f"{self.root}: the {self.layout} layout has no {name} split")
        return self.splits[name]

    def all_samples(self) -> list[Sample]:
        return [s for name in ("train", "val", "test") for s in self.splits.get(name, [])]


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file (expected columns {', '.join(columns)})") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV ({first})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(df.columns) or 'none'})"
        )
    if df.empty:
        raise DataError(f"{path}: no rows (only a header)")
    return df


def _ages(df: pd.DataFrame, column: str) -> list[float]:
    # Non-numeric ages become NaN; the data check reports them as out of range.
    return pd.to_numeric(df[column], errors="coerce").astype(float).tolist()


def detect_layout(root: Path) -> Literal["seed", "appa-real"]:
    if not root.is_dir():
        raise DataError(f"{root}: not a directory")
    if (root / SEED_CSV).exists():
        return "seed"
    if any((root / f"gt_avg_{s}.csv").exists() for s in APPA_SPLITS.values()):
        return "appa-real"
    raise DataError(
        f"{root}: no {SEED_CSV} (seed layout) and no gt_avg_train.csv (APPA-REAL layout)"
    )


def load_dataset(root: Path, target: Target = "real", validation_split: float = 0.25) -> Dataset:
    """Read either layout; files are not opened here (that is the data check's job)."""
    root = Path(root)
    layout = detect_layout(root)
    if layout == "seed":
        return _load_seed(root, target, validation_split)
    return _load_appa(root, target)


def _load_seed(root: Path, target: Target, validation_split: float) -> Dataset:
    if target != "real":
        raise DataError(
            f"{root / SEED_CSV}: the seed layout has real ages only (use --target real)"
        )
    df = _read_csv(root / SEED_CSV, SEED_COLUMNS)
    folder = root / SEED_DIR
    samples = [
        Sample(folder / str(name), age, folder / str(name), "train")
        for name, age in zip(df["file_name"], _ages(df, "real_age"), strict=True)
    ]
    # ImageDataGenerator's validation subset is the first int(n * split) rows, unshuffled.
    n_val = int(len(samples) * validation_split)
    val = [Sample(s.path, s.age, s.source, "val") for s in samples[:n_val]]
    return Dataset("seed", root, target, {"train": samples[n_val:], "val": val})


def _appa_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """The face crop to train on and the original photo to re-detect in."""
    if name.endswith("_face.jpg"):
        crop = folder / name
        original = folder / name.removesuffix("_face.jpg")
    else:
        crop = folder / f"{name}_face.jpg"
        original = folder / name
    return crop, (original if original.exists() else crop)


def _load_appa(root: Path, target: Target) -> Dataset:
    column = "real_age" if target == "real" else "apparent_age_avg"
    splits: dict[Split, list[Sample]] = {}
    for split, stem in APPA_SPLITS.items():
        csv = root / f"gt_avg_{stem}.csv"
        if not csv.exists():
            if split == "test":
                continue
            raise DataError(
                f"{csv}: file not found (APPA-REAL needs gt_avg_train.csv and gt_avg_valid.csv)"
            )
        df = _read_csv(csv, APPA_COLUMNS)
        folder = root / stem
        rows = []
        for name, age in zip(df["file_name"], _ages(df, column), strict=True):
            crop, original = _appa_paths(folder, str(name))
            rows.append(Sample(crop, age, original, split))
        splits[split] = rows
    return Dataset("appa-real", root, target, splits)
