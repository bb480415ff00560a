"""`edgeage bench` runs briefly on tiny settings and its JSON has every field (benchmarks are
not timed tests: the figures live in docs/BENCHMARKS.md)."""

from __future__ import annotations

import json

from tests.conftest import run_cli

PIPELINE_FIELDS = {
    "frames_offered",
    "frames_processed",
    "frames_dropped",
    "fps_offered",
    "fps_processed",
    "customers",
    "age_inferences",
    "inferences_per_customer",
    "cpu_s",
    "cpu_s_per_customer",
    "latency_first_ms",
    "latency_all_ms",
    "detect_track_ms",
    "infer_ms_per_batch",
    "rss_mb_start",
    "rss_mb_end",
}


def test_bench_model_json(tiny_age_model):
    res = run_cli(
        "bench",
        "model",
        "-m",
        str(tiny_age_model),
        "--batch",
        "1,4",
        "--repeats",
        "2",
        "--json",
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["cpu"]["peak_gflops_fp32"] > 0 and "derivation" in doc["cpu"]
    assert [r["batch"] for r in doc["results"]] == [1, 4]
    for r in doc["results"]:
        assert r["ms_per_face"] > 0 and r["faces_per_s"] > 0
        assert r["ms_spread"][0] <= r["ms_per_face"] <= r["ms_spread"][1]


def test_bench_pipeline_with_baseline_json(tiny_age_model):
    res = run_cli(
        "bench",
        "pipeline",
        "--source",
        "synthetic:?faces=2&fps=15",
        "-m",
        str(tiny_age_model),
        "--duration",
        "3",
        "--baseline",
        "--json",
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(doc["pipeline"]) >= PIPELINE_FIELDS
    assert doc["pipeline"]["frames_processed"] > 10
    assert {"fps_processed", "cpu_s", "cpu_s_per_customer"} <= set(doc["baseline"])
    assert doc["ratio"]["fps"] > 0


def test_bench_pipeline_no_realtime_processes_every_frame(tiny_age_model):
    res = run_cli(
        "bench",
        "pipeline",
        "--source",
        "synthetic:?faces=1&fps=15",
        "-m",
        str(tiny_age_model),
        "--duration",
        "3",
        "--no-realtime",
        "--json",
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    p = json.loads(res.stdout.strip().splitlines()[-1])["pipeline"]
    assert p["frames_dropped"] == 0
    # all but the frames still in capture's two-frame buffer when the run ends
    assert p["frames_processed"] >= p["frames_offered"] - 2


def test_bench_bad_batch(tiny_age_model):
    res = run_cli("bench", "model", "-m", str(tiny_age_model), "--batch", "x")
    assert res.returncode == 2


def test_bench_detect_json():
    res = run_cli("bench", "detect", "--frames", "60", "--json", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    d = json.loads(res.stdout.strip().splitlines()[-1])["detect"]
    assert d["frames"] == 60 and d["frame_size"] == [1280, 720]
    assert d["faces_per_frame"] > 0  # the scene's customers are found
    ms = d["detect_track_ms"]
    assert 0 < ms["p50"] <= ms["p95"] <= ms["p99"]
