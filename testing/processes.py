"""Start and stop the real processes the end-to-end tests talk to."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StopTimeout(UserWarning):
    """A process under test ignored SIGTERM and was killed: a shutdown hang must not hide."""


def child_pids(pid: int) -> List[int]:
    """The direct children of ``pid`` (Sanic's worker processes of a ``rasa run``)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(item) for item in out.split()]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its parent does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Service:
    """A child process with its output in a log file, ready when a URL answers."""

    def __init__(self, name: str, args: List[str], env: Dict[str, str], log_dir: Path):
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: Optional[subprocess.Popen] = None

    def launch(self) -> "Service":
        """Start the process without waiting for it to be ready."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def start(self, ready_url: str, timeout: float = 180) -> "Service":
        self.launch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if requests.get(ready_url, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> bool:
        """SIGTERM, and SIGKILL to the process and its children after ``timeout`` s.
        Whether it stopped by itself; a kill is a loud :class:`StopTimeout` warning."""
        if not self.process or self.process.poll() is not None:
            return True
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            pass
        children = child_pids(self.process.pid)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.kill()
        self.process.wait()
        message = (f"{self.name} (pid {self.process.pid}, children {children}) did not exit within "
                   f"{timeout}s of SIGTERM and was killed; log: {self.log_path}")
        print(f"\nWARNING: {message}", file=sys.stderr)
        warnings.warn(StopTimeout(message), stacklevel=2)
        return False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def fresh_credentials() -> Dict[str, str]:
    """New random tokens for the servers a script starts (Rasa's --auth-token,
    the action server's bearer token, /metrics): every secret has >= 32 characters."""
    return {name: secrets.token_hex(32) for name in ("RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "METRICS_TOKEN")}


def start_private_redis(workdir: Path) -> Tuple[int, subprocess.Popen]:
    """A redis-server of a test's own (to kill or pause); returns once it answers."""
    import redis

    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    return port, process


def project_env(**extra: str) -> Dict[str, str]:
    """The environment of a test's process: explicit settings only, so the
    checkout's .env is not read (ISP_ENV_FILE, scripts/env_hook.py) unless asked."""
    env = dict(os.environ)
    env.update(
        ISP_ENV_FILE=os.devnull,
        PYTHONPATH=str(ROOT),
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra)
    return env
