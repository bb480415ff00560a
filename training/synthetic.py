"""Generated "faces" whose pixels carry a learnable age signal, in both dataset layouts.

Tests and the GPU benchmark need data without downloading anything. Each image is a noisy
background with a disc whose radius and brightness grow with age, placed off-centre; the
signal survives the ``best`` recipe's crops, flips, tilts and colour jitter, so a model that
learns anything beats predicting the mean.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeage.training.data import APPA_COLUMNS

MIN_AGE, MAX_AGE = 1, 80


def synthetic_face(age: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 image for ``age``."""
    frac = (age - MIN_AGE) / (MAX_AGE - MIN_AGE)
    background = rng.uniform(20, 90, size=3)
    image = np.empty((size, size, 3), np.float32)
    image[:] = background
    centre = (
        size / 2 + rng.uniform(-0.08, 0.08) * size,
        size / 2 + rng.uniform(-0.08, 0.08) * size,
    )
    radius = (0.12 + 0.28 * frac) * size
    tint = rng.uniform(0.85, 1.0, size=3)
    colour = (70 + 170 * frac) * tint
    cv2.circle(image, (int(centre[0]), int(centre[1])), max(1, int(radius)), colour.tolist(), -1)
    image += rng.normal(0, 8, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _ages(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(MIN_AGE, MAX_AGE + 1, size=n)


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])


def write_seed_layout(root: Path, n: int, size: int = 64, seed: int = 0) -> Path:
    """``labels.csv`` + ``final_files/`` like the customer's notebook data."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    lines = ["file_name,real_age"]
    for i, age in enumerate(_ages(n, rng)):
        name = f"{i:06d}.jpg"
        _write(root / "final_files" / name, synthetic_face(age, size, rng))
        lines.append(f"{name},{age}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def write_appa_layout(
    root: Path, n_train: int, n_valid: int, n_test: int, size: int = 64, seed: int = 0
) -> Path:
    """The APPA-REAL release layout; apparent age is the real age plus rater noise."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    index = 0
    for stem, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        lines = [",".join(APPA_COLUMNS)]
        for age in _ages(n, rng):
            name = f"{index:06d}.jpg"
            index += 1
            _write(root / stem / f"{name}_face.jpg", synthetic_face(age, size, rng))
            apparent = float(np.clip(age + rng.normal(0, 3), 0, 100))
            lines.append(
                f"{name},{rng.integers(10, 40)},{apparent:.3f},{rng.uniform(2, 6):.3f},{age}"
            )
        (root / f"gt_avg_{stem}.csv").write_text("\n".join(lines) + "\n")
    return root


def main(argv: list[str] | None = None) -> None:
    """``python -m edgeage.training.synthetic OUT N [SIZE]``: a seed-layout dataset, e.g. for
    a GPU throughput benchmark without real photos."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        raise SystemExit("usage: python -m edgeage.training.synthetic OUT N [SIZE]")
    size = int(args[2]) if len(args) == 3 else 224
    root = write_seed_layout(Path(args[0]), int(args[1]), size=size)
    print(f"wrote {args[1]} images of {size} px to {root}")


if __name__ == "__main__":
    main()
