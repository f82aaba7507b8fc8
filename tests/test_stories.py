"""Test stories run with `rasa test` against the trained model."""

import subprocess
import sys

import pytest

from bot.model import rasa_env
from tests.conftest import ROOT


@pytest.mark.model
def test_rasa_test_stories(model_path, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(model_path),
         "--stories", str(ROOT / "tests" / "stories"), "--out", str(tmp_path),
         "--fail-on-prediction-errors"],
        cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Correct:" in result.stdout + result.stderr or (tmp_path / "story_report.json").exists()
