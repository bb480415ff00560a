"""Soak: the daemon for 10 minutes at 15 fps (not in CI: `pytest -m slow`).

EDGEAGE_SOAK_S sets the duration (default 600), EDGEAGE_SOAK_MODEL the age model (default
the tiny test model). Prints the figures docs/RELIABILITY.md records.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from tests.edge.helpers import Subscriber, endpoints, start_daemon, stop_daemon


def _proc_figures(pid: int) -> tuple[int, int]:
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_soak(tiny_age_model):
    seconds = float(os.environ.get("EDGEAGE_SOAK_S", "600"))
    model = os.environ.get("EDGEAGE_SOAK_MODEL", str(tiny_age_model))
    events, snapshot = endpoints()
    sub = Subscriber(events)
    proc = start_daemon(
        ["run", "--source", "synthetic:?faces=3&fps=15", "--model", model], events, snapshot
    )
    samples = []
    try:
        assert sub.wait_for(lambda t, m: t == "status" and m["state"] == "running", 60)
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            time.sleep(5)
            samples.append((time.monotonic() - start, *_proc_figures(proc.pid)))
    finally:
        stop_daemon(proc)
        time.sleep(0.3)
        sub.close()
    warm = [s for s in samples if s[0] >= 60] or samples[len(samples) // 2 :]
    rss_growth_mb = (warm[-1][1] - warm[0][1]) / 1024
    threads = {s[2] for s in warm}
    seqs = [m["seq"] for _, m in sub.messages]
    gaps = sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1)
    tracks = len(sub.of("track_end"))
    status = [m for m in sub.of("status") if m["state"] == "running"]
    print(
        f"\nsoak {seconds:.0f} s: rss start {warm[0][1] / 1024:.0f} MB end "
        f"{warm[-1][1] / 1024:.0f} MB growth {rss_growth_mb:.1f} MB; threads {sorted(threads)}; "
        f"messages {len(seqs)} seq gaps {gaps}; customers {tracks}; frames dropped "
        f"{status[-1]['frames_dropped'] if status else '?'}"
    )
    assert rss_growth_mb < 20
    assert len(threads) == 1
    assert gaps == 0
