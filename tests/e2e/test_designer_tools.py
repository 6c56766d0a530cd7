"""What bot designers run: `rasa data validate` and `rasa test` must pass."""
import subprocess

import pytest

from testing.processes import ROOT, VENV_BIN, project_env

pytestmark = pytest.mark.e2e


def run_rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "rasa"), *args],
        cwd=ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
    )


def test_training_data_validates_without_warnings():
    result = run_rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_end_to_end_test_stories_have_no_prediction_errors(model_path, tmp_path):
    result = run_rasa(
        "test", "core", "--stories", "tests/test_stories.yml", "--model", str(model_path),
        "--out", str(tmp_path), "--fail-on-prediction-errors",
    )
    report = (tmp_path / "failed_test_stories.yml")
    details = report.read_text() if report.exists() else result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, details
    assert "None of the test stories failed" in report.read_text()
