from pathlib import Path

import pytest

from edgeage.edge.config import Config, ConfigError, load_config
from tests.conftest import REPO, run_cli

EXAMPLE = REPO / "systemd" / "edgeage.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_example_config_is_valid_and_differs_from_defaults():
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.detector.model_dir == Path("/var/lib/edgeage/models")
    assert cfg.policy.challenge_age == 25
    assert cfg != Config()


def test_misspelt_key_is_named_with_file(tmp_path):
    path = write(tmp_path, "[detector]\nmin_confidance = 0.3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(path) in str(err.value)
    assert "detector.min_confidance: unknown key" in str(err.value)


def test_unknown_section_and_wrong_type(tmp_path):
    with pytest.raises(ConfigError, match="camera: unknown key"):
        load_config(write(tmp_path, "[camera]\nuri = 1\n"), environ={})
    with pytest.raises(ConfigError, match=r"age\.threads: Input should be a valid integer"):
        load_config(write(tmp_path, '[age]\nthreads = "many"\n'), environ={})


def test_cross_key_rules(tmp_path):
    with pytest.raises(ConfigError, match="challenge_age must be >= legal_age"):
        load_config(write(tmp_path, "[policy]\nchallenge_age = 16\n"), environ={})
    with pytest.raises(ConfigError, match="roi must be"):
        load_config(write(tmp_path, "[detector]\nroi = [0.5, 0, 0.4, 1]\n"), environ={})
    # min/max pairs may be completed by a later layer
    cfg = load_config(
        write(tmp_path, "[source]\nreconnect_min_s = 8\n"),
        environ={"EDGEAGE_SOURCE__RECONNECT_MAX_S": "9"},
    )
    assert cfg.source.reconnect_max_s == 9


def test_precedence_file_env_flags(tmp_path):
    path = write(tmp_path, "[age]\nthreads = 3\nbatch_max = 4\n[tracker]\nsamples_max = 5\n")
    env = {"EDGEAGE_AGE__THREADS": "6", "EDGEAGE_DETECTOR__ROI": "[0.1, 0.2, 0.9, 1.0]"}
    cfg = load_config(path, environ=env, overrides={"tracker": {"samples_max": 7}})
    assert cfg.age.threads == 6  # env beats file
    assert cfg.age.batch_max == 4  # file beats default
    assert cfg.tracker.samples_max == 7  # flags beat everything
    assert cfg.detector.roi == (0.1, 0.2, 0.9, 1.0)


def test_env_errors_name_the_variable():
    with pytest.raises(ConfigError, match="EDGEAGE_AGE__THREADS"):
        load_config(None, environ={"EDGEAGE_AGE__THREADS": "x"})
    with pytest.raises(ConfigError, match=r"EDGEAGE_AGE__THREAD \(age\.thread\): unknown key"):
        load_config(None, environ={"EDGEAGE_AGE__THREAD": "2"})


def test_config_file_from_environment(tmp_path):
    path = write(tmp_path, "[source]\ncamera_id = 'till-7'\n")
    assert load_config(None, environ={"EDGEAGE_CONFIG": str(path)}).source.camera_id == "till-7"


def test_cli_config_check_accepts_example_and_rejects_typo(tmp_path):
    ok = run_cli("config", "check", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert 'camera_id = "till-1"' in ok.stdout
    bad = write(tmp_path, "[tracker]\nmax_mising_s = 2\n")
    res = run_cli("config", "check", str(bad))
    assert res.returncode == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "tracker.max_mising_s: unknown key" in lines[0]
    assert str(bad) in res.stderr.replace("\n", "")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "config file not found"),
        ("x = [", "not valid TOML"),
        (b"\xff\xfe[", "not valid TOML"),
    ],
)
def test_cli_config_check_bad_files(tmp_path, content, needle):
    path = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    res = run_cli("config", "check", str(path))
    assert res.returncode == 2
    assert needle in res.stderr


def test_cli_config_show_applies_env():
    res = run_cli("config", "show", env={"EDGEAGE_POLICY__CHALLENGE_AGE": "21"})
    assert res.returncode == 0, res.stderr
    assert "challenge_age = 21.0" in res.stdout


def test_odd_keys_stay_on_one_line(tmp_path):
    # found by the hypothesis fuzzer: a key holding a newline broke the one-line error
    path = write(tmp_path, '[source]\n"a\\nb" = 1\n"x.y" = 2\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "\n" not in str(err.value) and 'source."a\\nb": unknown key' in str(err.value)
