"""The edge must run on a box without TensorFlow."""

import subprocess
import sys

CHECK = (
    "import sys, edgeage.edge, edgeage.edge.detector, edgeage.edge.crop, edgeage.edge.config; "
    "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]; "
    "assert not bad, bad"
)


def test_edge_imports_without_tensorflow():
    res = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
