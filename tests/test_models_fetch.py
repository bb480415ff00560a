import json
import shutil
import zipfile

import pytest

from edgeage.edge import detector_models
from tests.conftest import run_cli

OFFLINE = {
    "PIP_NO_INDEX": "1",
    "PIP_FIND_LINKS": "",
    "PIP_EXTRA_INDEX_URL": "",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
}


def test_fetch_is_idempotent_and_offline_once_cached(tmp_path, detector_model_dir):
    target = tmp_path / "models"
    shutil.copytree(detector_model_dir, target)
    res = run_cli("models", "fetch", "--dir", str(target), env=OFFLINE)
    assert res.returncode == 0, res.stderr
    listing = run_cli("models", "list", "--dir", str(target), "--json")
    assert listing.returncode == 0
    rows = {row["model"]: row for row in map(json.loads, listing.stdout.splitlines())}
    assert set(rows) == {"full", "short"}
    for key, model in detector_models.MODELS.items():
        assert rows[key]["state"] == "ok"
        assert rows[key]["sha256"] == model.sha256
    table = run_cli("models", "list", "--dir", str(target), env={"COLUMNS": "200"})
    assert detector_models.MODELS["full"].sha256 in table.stdout


def test_fetch_without_index_and_cache_fails_clearly(tmp_path):
    target = tmp_path / "empty"
    res = run_cli("models", "fetch", "--dir", str(target), env=OFFLINE)
    assert res.returncode == 2
    assert "could not download mediapipe==0.10.21" in res.stderr
    assert not any(target.iterdir())


def test_mismatching_file_is_refused_and_nothing_left(tmp_path):
    wheel = tmp_path / "mediapipe-0.10.21-fake.whl"
    model = detector_models.MODELS["full"]
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(model.member, b"not the real model")
    target = tmp_path / "models"
    target.mkdir()
    with pytest.raises(detector_models.ModelFetchError, match="does not match"):
        detector_models._install_member(wheel, model, target)
    assert list(target.iterdir()) == []


def test_list_reports_a_tampered_file(tmp_path, detector_model_dir):
    target = tmp_path / "models"
    shutil.copytree(detector_model_dir, target)
    (target / detector_models.MODELS["short"].filename).write_bytes(b"tampered")
    states = {s.model.key: s.state for s in detector_models.status(target)}
    assert states == {"full": "ok", "short": "mismatch"}
