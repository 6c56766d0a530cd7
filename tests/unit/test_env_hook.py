"""scripts/env_hook.py: .env fills only the variables not set (what plain `rasa` and the scripts read)."""
import subprocess
import sys

from testing.processes import ROOT


def run_hook(env_file, **env):
    base = {"PATH": "/usr/bin:/bin", "ISP_ENV_FILE": str(env_file), **env}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "env_hook.py")], env=base,
                          capture_output=True, text=True, check=True).stdout.splitlines()


def test_dotenv_fills_unset_variables_and_set_ones_win(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# generated\nACTION_SERVER_TOKEN=from-file\nexport QUOTED='two words'\n"
                        "REDIS_URL=redis://127.0.0.1:6379/3  # test db\nnot a line\n")
    lines = run_hook(env_file, ACTION_SERVER_TOKEN="exported")
    assert lines == ["export ACTION_SERVER_TOKEN=exported", "export QUOTED='two words'",
                     "export REDIS_URL=redis://127.0.0.1:6379/3"]


def test_dev_null_reads_nothing():
    assert run_hook("/dev/null") == []


def test_action_server_url_follows_action_port(tmp_path):
    code = "import os; print(os.environ['ACTION_SERVER_URL'], os.environ['RASA_TELEMETRY_ENABLED'])"
    hook = ROOT / "scripts" / "env_hook.py"
    done = subprocess.run(
        [sys.executable, "-c", f"exec(open({str(hook)!r}).read(), {{'__name__': 'hook', '__file__': {str(hook)!r}}}); {code}"],
        env={"PATH": "/usr/bin:/bin", "ISP_ENV_FILE": "/dev/null", "ACTION_PORT": "6055"},
        capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["http://127.0.0.1:6055/webhook", "false"]
