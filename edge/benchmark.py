"""`edgeage bench pipeline`: the real daemon pipeline, measured on one source in one run.

Everything is taken from the running pipeline itself (its counters, its latency records),
plus the process's CPU time and resident memory, so the figures describe exactly what a
till would run. Absolute numbers depend on the machine and on what else it is doing; the
ratios measured in one run (pipeline vs the naive baseline) are what travel.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeage.edge.config import Config
from edgeage.edge.daemon import build


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def percentiles(
    values: list[float] | Any, ps: tuple[int, ...] = (50, 95, 99)
) -> dict[str, float | None]:
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        return {f"p{p}": None for p in ps}
    return {f"p{p}": round(float(np.percentile(arr, p)), 2) for p in ps}


def bench_pipeline(cfg: Config, duration_s: float) -> dict[str, Any]:
    """Run the daemon pipeline for ``duration_s`` and report what it did.

    The publisher binds to random loopback ports so a running daemon is not disturbed.
    """
    cfg = cfg.model_copy(
        update={
            "publisher": cfg.publisher.model_copy(
                update={
                    "events": "tcp://127.0.0.1:*",
                    "snapshot": "tcp://127.0.0.1:*",
                    "curve": None,
                }
            )
        }
    )
    rss_start = rss_mb()
    daemon = build(cfg)
    pipe = daemon.pipeline
    stop = threading.Event()
    cpu0, wall0 = time.process_time(), time.monotonic()
    rss_samples: list[float] = []

    def sample_rss() -> None:
        while not stop.wait(1.0):
            rss_samples.append(rss_mb())

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    try:
        daemon.run(stop, duration_s)
    finally:
        stop.set()
        sampler.join(2)
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    cap, st, worker = pipe.capture.stats, pipe.stats, pipe.worker
    customers = max(st.tracks_started, 1)
    return {
        "source": cfg.source.uri,
        "model": daemon.model.name,
        "model_runtime": daemon.model.runtime,
        "duration_s": round(wall, 2),
        "frames_offered": cap.frames_in,
        "frames_processed": st.frames_processed,
        "frames_dropped": cap.frames_dropped,
        "fps_offered": round(cap.frames_in / wall, 2),
        "fps_processed": round(st.frames_processed / wall, 2),
        "customers": st.tracks_started,
        "age_inferences": worker.inferences,
        "age_batches": worker.batches,
        "inferences_per_customer": round(worker.inferences / customers, 2),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_customer": round(cpu / customers, 3),
        "cpu_cores_used": round(cpu / wall, 2),
        "latency_first_ms": percentiles(st.first_latency_ms),
        "latency_all_ms": percentiles(st.all_latency_ms),
        "detect_track_ms": percentiles(st.detect_track_ms),
        "infer_ms_per_batch": percentiles(worker.batch_ms),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(rss_samples[-1] if rss_samples else rss_mb(), 1),
        "rss_mb_max": round(max(rss_samples, default=rss_mb()), 1),
        "cpus": os.cpu_count(),
    }


def bench_detect(cfg: Config, frames: int) -> dict[str, Any]:
    """Detector plus tracker on up to ``frames`` frames of the source: the per-frame cost the
    pipeline thread pays whatever the age model. Only those two calls are timed (reading or
    rendering the frame is not). Run it under ``taskset -c 0`` to measure one core."""
    from edgeage.edge.daemon import open_detector
    from edgeage.edge.sources import SourceEnded, SourceError, make_source
    from edgeage.edge.tracker import Tracker

    s = cfg.source
    source = make_source(s.uri, width=s.width, height=s.height, fps=s.fps, timeout_s=1.0)
    tracker = Tracker.from_config(cfg.tracker)
    times: list[float] = []
    faces = 0
    size = [0, 0]
    with open_detector(cfg) as detector:
        try:
            source.open()
            fps = source.nominal_fps or 30.0
            detector.detect(source.read(), 0.0)  # warm-up, not timed
            for i in range(frames):
                image = source.read()
                ts = (i + 1) / fps
                start = time.perf_counter()
                found = detector.detect(image, ts)
                tracker.update(found, ts, image.shape[1], image.shape[0])
                times.append((time.perf_counter() - start) * 1000.0)
                faces += len(found)
                size = [int(image.shape[1]), int(image.shape[0])]
        except SourceEnded:
            pass
        except SourceError as exc:
            raise ValueError(str(exc)) from None
        finally:
            source.close()
    if not times:
        raise ValueError(f"{s.uri}: no frames")
    return {
        "source": s.uri,
        "frames": len(times),
        "frame_size": size,
        "faces_per_frame": round(faces / len(times), 2),
        "detect_track_ms": percentiles(times),
        "cpus": len(os.sched_getaffinity(0)),
    }
