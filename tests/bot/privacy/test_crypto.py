"""Encryption at rest: a round trip, a blind index, and a clear start-up error
when production has no key."""

import os
import subprocess
import sys

from bot.privacy import crypto
from tests.conftest import ROOT


def test_round_trip_and_ciphertext_hides_the_value():
    token = crypto.encrypt("440106199203151025")
    assert "440106199203151025" not in token
    assert crypto.decrypt(token) == "440106199203151025"
    assert crypto.encrypt("x") != crypto.encrypt("x")  # random IV


def test_blind_index_is_stable_and_keyed():
    assert crypto.blind_index("44010619920315102x") == crypto.blind_index("44010619920315102X ")
    assert len(crypto.blind_index("1")) == 64


def _init(env_changes: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "YJS_DATA_KEY"}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-m", "bot", "init"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_production_without_key_refuses_to_start(tmp_path):
    result = _init({"YJS_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert result.returncode == 2
    assert "YJS_DATA_KEY is not set" in result.stderr and "gen-key" in result.stderr
    assert not (tmp_path / "p.db").exists()  # nothing written


def test_bad_key_is_named(tmp_path):
    result = _init({"YJS_DATA_KEY": "not-a-key", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert result.returncode == 2 and "not a valid key" in result.stderr


def test_development_generates_a_key_once(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "YJS_VAR_DIR": str(tmp_path / "var")}
    assert _init(env).returncode == 0
    key = (tmp_path / "var" / crypto.DEV_KEY_FILE).read_bytes()
    assert _init(env).returncode == 0
    assert (tmp_path / "var" / crypto.DEV_KEY_FILE).read_bytes() == key
    assert oct((tmp_path / "var" / crypto.DEV_KEY_FILE).stat().st_mode)[-3:] == "600"
