"""`edgeage bench`: how fast is it on this box, and against what.

Benchmarks print figures, they do not judge them: every ratio is measured in one run on the
same machine, because a shared 2-core box drifts from minute to minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgeage.cli.common import console, fail, setup_logging
from edgeage.cli.run_cmd import ConfigOption, ensure_demo_model, load

app = typer.Typer(
    help="Measure the age model and the whole pipeline on this machine.", no_args_is_help=True
)


def _time_calls(fn, batch: int, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn(batch)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(batch)
        out.append((time.perf_counter() - t0) * 1000.0 / batch)
    return out


@app.command("model")
def bench_model(
    models: list[Path] = typer.Option(
        None,
        "--model",
        "-m",
        help="model file (.tflite, .onnx, .keras); repeatable; default: the demo model",
    ),
    batches: str = typer.Option("1,2,4,8,16", "--batch", help="comma-separated batch sizes"),
    repeats: int = typer.Option(5, "--repeats", min=1, max=100),
    threads: int = typer.Option(len(os.sched_getaffinity(0)), "--threads", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per-face latency and faces per second for each model, against the CPU's peak."""
    import numpy as np

    from edgeage.edge.age_model import AgeModelError, load_age_model
    from edgeage.edge.hardware import cpu_peak, resnet50_gflop, share_of_peak

    try:
        sizes = sorted({int(b) for b in batches.split(",")})
    except ValueError:
        fail(f"--batch {batches!r}: give batch sizes like 1,2,4,8")
    if not sizes or min(sizes) < 1 or max(sizes) > 64:
        fail("--batch sizes must be between 1 and 64")
    paths = list(models or []) or [ensure_demo_model()]
    peak = cpu_peak(cores=threads)
    rng = np.random.default_rng(0)
    loaded: list[tuple[str, str, int, Any]] = []
    for path in paths:
        if not path.is_file():
            fail(f"{path}: model not found")
        if path.suffix == ".keras":
            import keras

            try:
                km = keras.models.load_model(path, compile=False)
            except Exception as exc:
                fail(f"{path}: cannot load Keras model ({str(exc).splitlines()[0][:120]})")
            size = int(km.input_shape[1])
            loaded.append(
                (
                    str(path),
                    "keras",
                    size,
                    lambda x, km=km: km.predict(x, verbose=0, batch_size=len(x)),
                )
            )
            continue
        try:
            am = load_age_model(path, threads=threads, batch_max=max(sizes))
        except AgeModelError as exc:
            fail(str(exc))
        fmt = am.manifest.format if am.manifest else path.suffix.lstrip(".")
        loaded.append((str(path), f"{am.runtime} {fmt}", am.input_size, am.predict))
    rows: list[dict[str, Any]] = []
    # Interleave: every model at every batch size in each round, so drift hits all alike.
    samples: dict[tuple[int, int], list[float]] = {}
    crops = {
        size: rng.uniform(0, 255, (max(sizes), size, size, 3)).astype(np.float32)
        for _, _, size, _ in loaded
    }
    for _ in range(repeats):
        for i, (_, _, size, fn) in enumerate(loaded):
            for b in sizes:
                samples.setdefault((i, b), []).extend(
                    _time_calls(
                        lambda n, fn=fn, size=size: fn(crops[size][:n]),
                        b,
                        1,
                        warmup=1 if not samples.get((i, b)) else 0,
                    )
                )
    for i, (path, kind, size, _) in enumerate(loaded):
        for b in sizes:
            v = np.array(samples[(i, b)])
            med = float(np.median(v))
            rows.append(
                {
                    "model": path,
                    "runtime": kind,
                    "input": size,
                    "batch": b,
                    "ms_per_face": round(med, 3),
                    "ms_spread": [round(float(v.min()), 3), round(float(v.max()), 3)],
                    "faces_per_s": round(1000.0 / med, 2),
                    "share_of_fp32_peak": round(
                        share_of_peak(med, size, peak["peak_gflops_fp32"]), 3
                    ),
                }
            )
    doc = {
        "cpu": peak,
        "gflop_per_face_224": resnet50_gflop(224),
        "repeats": repeats,
        "results": rows,
    }
    if as_json:
        print(json.dumps(doc))
        return
    table = Table(
        "model", "runtime", "batch", "ms/face (median)", "min-max", "faces/s", "share of FP32 peak"
    )
    for r in rows:
        table.add_row(
            Path(r["model"]).name,
            r["runtime"],
            str(r["batch"]),
            f"{r['ms_per_face']:.2f}",
            f"{r['ms_spread'][0]:.1f}-{r['ms_spread'][1]:.1f}",
            f"{r['faces_per_s']:.1f}",
            f"{r['share_of_fp32_peak']:.0%}",
        )
    console.print(table)
    console.print(
        f"peak: {peak['derivation']}; ResNet50 = {resnet50_gflop(224):.1f} GFLOP per 224 px face",
        highlight=False,
    )


@app.command("pipeline")
def bench_pipeline(
    source: str = typer.Option("synthetic:?faces=3&fps=30", "--source", "-s"),
    model: Path | None = typer.Option(
        None, "--model", "-m", help="age model (default: the demo model)"
    ),
    duration: float = typer.Option(20.0, "--duration", min=1.0),
    realtime: bool = typer.Option(
        True,
        "--realtime/--no-realtime",
        help="--no-realtime (or "
        "--realtime 0 via the source's ?realtime=0) feeds frames as "
        "fast as the pipeline takes them",
    ),
    baseline: bool = typer.Option(
        False,
        "--baseline",
        help="also run the naive Keras pipeline on the same source and duration",
    ),
    keras_model: Path | None = typer.Option(
        None,
        "--keras-model",
        help=".keras checkpoint for the baseline (default: untrained ResNet50)",
    ),
    config: Path | None = ConfigOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the real daemon pipeline on a source and report throughput, latency, CPU, memory."""
    from edgeage.edge import detector_models
    from edgeage.edge.benchmark import bench_pipeline as run
    from edgeage.edge.daemon import StartupError

    if not realtime and "realtime=" not in source and source.startswith("synthetic:"):
        source += ("&" if "?" in source else "?") + "realtime=0"
    cfg = load(
        config,
        {"source": {"uri": source}, "age": {"model": str(model)}}
        if model
        else {"source": {"uri": source}},
    )
    if cfg.age.model is None:
        cfg = cfg.model_copy(
            update={"age": cfg.age.model_copy(update={"model": ensure_demo_model()})}
        )
    setup_logging("WARNING")
    try:
        doc: dict[str, Any] = {"pipeline": run(cfg, duration)}
    except StartupError as exc:
        fail(str(exc))
    if baseline:
        det = detector_models.resolve(cfg.detector.model, cfg.detector.model_dir)
        cmd = [
            sys.executable,
            "-m",
            "edgeage.export.baseline",
            "--source",
            source,
            "--duration",
            str(duration),
            "--detector",
            str(det),
        ]
        if keras_model:
            cmd += ["--model", str(keras_model)]
        with console.status("running the naive Keras baseline ..."):
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
            )
        if proc.returncode != 0:
            fail("baseline failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
        base = json.loads(proc.stdout.strip().splitlines()[-1])
        pipe = doc["pipeline"]
        # Live sources: both ran through the same stretch of the scene, so the same customers.
        # Without real time each goes at its own pace; the baseline saw the share of the
        # scene its frames cover.
        share = 1.0 if realtime else base["frames_processed"] / max(pipe["frames_processed"], 1)
        base["customers"] = round(pipe["customers"] * share, 2)
        base["cpu_s_per_customer"] = round(base["cpu_s"] / max(base["customers"], 1e-9), 3)
        doc["baseline"] = base
        doc["ratio"] = {
            "fps": round(pipe["fps_processed"] / max(base["fps_processed"], 1e-9), 2),
            "cpu_s_per_customer": round(
                base["cpu_s_per_customer"] / max(pipe["cpu_s_per_customer"], 1e-9), 2
            ),
        }
    if as_json:
        print(json.dumps(doc))
        return
    table = Table("figure", "pipeline", *(["naive baseline"] if baseline else []))
    p = doc["pipeline"]
    b = doc.get("baseline", {})
    for label, key in (
        ("frames processed", "frames_processed"),
        ("fps processed", "fps_processed"),
        ("cpu s", "cpu_s"),
        ("cpu s per customer", "cpu_s_per_customer"),
    ):
        table.add_row(label, str(p[key]), *([str(b.get(key, "-"))] if baseline else []))
    for label, key in (
        ("frames offered", "frames_offered"),
        ("frames dropped", "frames_dropped"),
        ("customers", "customers"),
        ("inferences per customer", "inferences_per_customer"),
        ("first estimate ms p50/p95/p99", "latency_first_ms"),
        ("all estimates ms p50/p95/p99", "latency_all_ms"),
        ("detect+track ms p50/p95/p99", "detect_track_ms"),
        ("RSS MB start/end", None),
    ):
        if key is None:
            value = f"{p['rss_mb_start']} / {p['rss_mb_end']}"
        elif isinstance(p[key], dict):
            value = " / ".join(str(v) for v in p[key].values())
        else:
            value = str(p[key])
        table.add_row(label, value, *([""] if baseline else []))
    console.print(table)
    if baseline:
        console.print(
            f"pipeline vs naive: {doc['ratio']['fps']}× the frames per second, "
            f"{doc['ratio']['cpu_s_per_customer']}× less CPU per customer",
            highlight=False,
        )


@app.command("detect")
def bench_detect(
    source: str = typer.Option("synthetic:?faces=3&fps=30", "--source", "-s"),
    frames: int = typer.Option(300, "--frames", min=1, max=100_000),
    config: Path | None = ConfigOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Face detection plus tracking per frame, alone (`taskset -c 0 edgeage bench detect`
    for one core): the pipeline thread's share of every frame."""
    from edgeage.edge.benchmark import bench_detect as run
    from edgeage.edge.daemon import StartupError

    if source.startswith("synthetic:") and "realtime=" not in source:
        source += ("&" if "?" in source else "?") + "realtime=0"  # no pacing
    cfg = load(config, {"source": {"uri": source}})
    setup_logging("WARNING")
    try:
        doc = {"detect": run(cfg, frames)}
    except (StartupError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(doc))
        return
    d = doc["detect"]
    ms = d["detect_track_ms"]
    console.print(
        f"{d['frames']} frames of {d['frame_size'][0]}x{d['frame_size'][1]}, "
        f"{d['faces_per_frame']} faces per frame, {d['cpus']} CPU(s): detect + track "
        f"p50 {ms['p50']} ms, p95 {ms['p95']} ms, p99 {ms['p99']} ms per frame",
        highlight=False,
    )
