"""This CPU's arithmetic peak, so model timings can be read as a share of what is possible.

peak FP32 FLOP/s = cores × clock × SIMD lanes (FP32) × 2 (a fused multiply-add is two
operations) × FMA units per core. Lanes come from the instruction set in /proc/cpuinfo
(AVX-512: 16, AVX2: 8, SSE: 4); the clock is the reported frequency; FMA units are 2 on
current x86 server cores (1 on older or smaller ones) — state it when you quote a figure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

RESNET50_GMAC_224 = 4.1  # multiply-adds per 224×224 face, ResNet50 without its top


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def cpu_peak(cores: int | None = None, fma_units: int = 2) -> dict[str, Any]:
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    lanes, isa = (
        (16, "AVX-512") if "avx512f" in flags else (8, "AVX2") if "avx2" in flags else (4, "SSE")
    )
    if "fma" not in flags and isa != "AVX-512":
        fma_units = 0
    ghz = float(info.get("cpu MHz", "0") or 0) / 1000.0
    cores = cores or len(os.sched_getaffinity(0))
    flops_per_cycle = lanes * 2 * fma_units if fma_units else lanes
    peak = cores * ghz * flops_per_cycle
    return {
        "cpu": info.get("model name", "unknown"),
        "cores": cores,
        "ghz": round(ghz, 3),
        "isa": isa,
        "fp32_lanes": lanes,
        "fma_units_assumed": fma_units,
        "peak_gflops_fp32": round(peak, 1),
        "derivation": f"{cores} cores × {ghz:.2f} GHz × {lanes} lanes × 2 (FMA) × "
        f"{fma_units} FMA units = {peak:.0f} GFLOP/s",
    }


def resnet50_gflop(input_size: int) -> float:
    """FLOPs (2 per multiply-add) of ResNet50 for one face, scaled from 224 px by area."""
    return 2 * RESNET50_GMAC_224 * (input_size / 224) ** 2


def share_of_peak(ms_per_face: float, input_size: int, peak_gflops: float) -> float:
    """Achieved FLOP/s as a fraction of the FP32 peak."""
    if ms_per_face <= 0 or peak_gflops <= 0:
        return 0.0
    achieved = resnet50_gflop(input_size) / (ms_per_face / 1000.0)
    return achieved / peak_gflops
