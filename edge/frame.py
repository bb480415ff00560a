"""A captured frame: the pixels, when they were captured, and their place in the stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """RGB uint8 pixels (H×W×3). ``ts`` is unix seconds at capture: the clock every latency
    figure (frame_ts → publish) starts from. ``index`` counts frames the source delivered,
    including those the pipeline later skipped."""

    image: np.ndarray
    ts: float
    index: int

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
