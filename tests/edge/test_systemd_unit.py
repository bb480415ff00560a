"""The service unit: valid, hardened to an exposure of 2.5 or lower, and the daemon really
runs under MemoryDenyWriteExecute (checked with the kernel's own MDWE, which refuses
writable+executable memory exactly as that setting does)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, edgeage_cmd
from tests.edge.helpers import Subscriber, endpoints

UNIT = REPO / "systemd" / "edgeage.service"
needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


@pytest.fixture
def local_unit(tmp_path):
    """The unit with ExecStart pointing at this checkout's edgeage, so verify can find it."""
    text = UNIT.read_text().replace("/opt/edgeage/.venv/bin/edgeage", edgeage_cmd()[0])
    path = tmp_path / "edgeage.service"
    path.write_text(text)
    return path


@needs_systemd
def test_unit_verifies(local_unit):
    res = subprocess.run(
        ["systemd-analyze", "verify", str(local_unit)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr


@needs_systemd
def test_unit_exposure_at_most_2_5():
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(
        r"Overall exposure level for edgeage\.service: ([0-9.]+)", res.stdout + res.stderr
    )
    assert match, res.stdout[-2000:] + res.stderr[-2000:]
    assert float(match.group(1)) <= 2.5


MDWE_WRAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(99)
os.execv(sys.argv[1], sys.argv[1:])
"""


def _mdwe_supported() -> bool:
    probe = subprocess.run([sys.executable, "-c", MDWE_WRAPPER, "/bin/true"], timeout=30)
    return probe.returncode == 0


def test_daemon_runs_without_writable_executable_memory(tiny_age_model):
    if not _mdwe_supported():
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    # First prove the wrapper bites: a W+X mapping is refused under it.
    wx = subprocess.run(
        [
            sys.executable,
            "-c",
            MDWE_WRAPPER,
            sys.executable,
            "-c",
            "import mmap; mmap.mmap(-1, 4096, prot=7)",
        ],
        capture_output=True,
        timeout=30,
    )
    assert wx.returncode != 0 and b"PermissionError" in wx.stderr
    events, snapshot = endpoints()
    sub = Subscriber(events, ("age",))
    cmd = edgeage_cmd(
        "run", "--source", "synthetic:?faces=2", "--model", str(tiny_age_model), "--duration", "5"
    )
    env = {
        **os.environ,
        "EDGEAGE_PUBLISHER__EVENTS": events,
        "EDGEAGE_PUBLISHER__SNAPSHOT": snapshot,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", MDWE_WRAPPER, *cmd], stderr=subprocess.PIPE, text=True, env=env
    )
    _, err = proc.communicate(timeout=60)
    time.sleep(0.2)
    sub.close()
    assert proc.returncode == 0, err[-2000:]
    assert sub.of("age"), "no age estimate under MemoryDenyWriteExecute"
