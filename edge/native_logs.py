"""Silencing what native runtimes print while they load a model.

MediaPipe and LiteRT write dozens of INFO/WARNING lines straight to file descriptor 2 when
a model is loaded (one "Sparsity tensors may not yet be fully supported" per layer of the
full-range BlazeFace). Under journald every restart would bury the one line a human needs.
Their real failures still arrive as Python exceptions, so the load is done with fd 2
pointed at /dev/null, briefly, and put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    if os.environ.get("EDGEAGE_NATIVE_LOGS") == "1":  # for debugging a runtime
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
