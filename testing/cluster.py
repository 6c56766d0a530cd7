"""Two (or more) replicas behind the project's nginx, on one Redis, for the scale-out tests.

N x ``rasa run`` and N x ``rasa run actions`` on the caller's environment
(same Redis and key prefix), and a host nginx started from ``deploy/nginx/``
with its upstreams rewritten to the replicas and the test profile (the
``X-Upstream`` header says which replica answered). Everything listens on
127.0.0.1 only. A test may kill a replica and :meth:`Cluster.revive` it on
the same port; :meth:`Cluster.add_nginx` starts another nginx in front of the
same replicas with a variant of the shipped configuration.
"""
from __future__ import annotations

import re
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import requests

from testing.processes import ROOT, VENV_BIN, Service, free_port
from testing.rasa_server import RasaServer

NGINX_DIR = ROOT / "deploy" / "nginx"
# Four servers loading at once on a loaded 2-core machine: model loads took 3+ minutes.
START_TIMEOUT = 360


def nginx_binary() -> Optional[str]:
    found = shutil.which("nginx")
    return found or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def nginx_conf_dir(workdir: Path, ports: List[int],
                   edit_upstreams: Callable[[str], str] = lambda text: text) -> Tuple[Path, int]:
    """deploy/nginx/ with a loopback listen port, the replicas as upstreams and the
    test profile; the directory and the port nginx listens on. ``edit_upstreams``
    changes the rewritten upstreams.conf (a test's variant, e.g. without ``ip_hash``)."""
    conf = workdir / "conf"
    conf.mkdir()
    listen_port = free_port()
    main = (NGINX_DIR / "nginx.conf").read_text()
    main, found = re.subn(r"listen 8080;", f"listen 127.0.0.1:{listen_port};", main)
    assert found == 1, "deploy/nginx/nginx.conf: `listen 8080;` not found"
    (conf / "nginx.conf").write_text(main)
    upstreams = (NGINX_DIR / "upstreams.conf").read_text()
    upstreams, found = re.subn(
        r"server rasa:5005([^;]*);",
        lambda m: "\n    ".join(f"server 127.0.0.1:{port}{m.group(1)};" for port in ports),
        upstreams,
    )
    assert found == 2, "deploy/nginx/upstreams.conf: the `server rasa:5005` lines changed"
    (conf / "upstreams.conf").write_text(edit_upstreams(upstreams))
    shutil.copy(NGINX_DIR / "profile-test.conf", conf / "profile.conf")
    return conf, listen_port


def without_ip_hash(upstreams: str) -> str:
    """The negative control's variant: ``rasa_sticky`` becomes plain round robin."""
    edited, found = re.subn(r"^\s*ip_hash;\s*\n", "", upstreams, flags=re.MULTILINE)
    assert found == 1, "deploy/nginx/upstreams.conf: expected exactly one `ip_hash;`"
    return edited


def nginx_service(workdir: Path, conf: Path, env: Dict[str, str], log_dir: Path, name: str = "nginx") -> Service:
    return Service(
        name,
        [nginx_binary(), "-p", str(workdir), "-c", str(conf / "nginx.conf"), "-e", str(workdir / "error.log"),
         "-g", f"daemon off; pid {workdir / 'nginx.pid'};"],
        env,
        log_dir,
    )


class Cluster:
    """``size`` Rasa replicas, each with its own action server, behind one nginx."""

    def __init__(self, model: Path, env: Dict[str, str], log_dir: Path, workdir: Path,
                 prefix: str = "scale", size: int = 2) -> None:
        self.log_dir = log_dir
        self.workdir = workdir
        self.env = env
        self.actions: List[Tuple[Service, str]] = []
        self.replicas: List[RasaServer] = []
        self.nginxes: List[Service] = []
        self.nginx_url = ""
        for index in range(size):
            name = "abcdefgh"[index]
            action_port = str(free_port())
            replica_env = dict(env, ACTION_PORT=action_port,
                               ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook")
            self.actions.append((Service(
                f"{prefix}-actions-{name}",
                [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", action_port,
                 "--debug", "--logging-config-file", "logging.yml"],
                replica_env, log_dir,
            ), f"http://127.0.0.1:{action_port}/health"))
            self.replicas.append(RasaServer(model, replica_env, log_dir, name=f"{prefix}-rasa-{name}"))

    def start(self) -> "Cluster":
        if nginx_binary() is None:
            raise RuntimeError("nginx is not installed: apt-get install -y nginx-light")
        try:
            # The servers start in parallel: start-up is most of a scale-out module's time.
            with ThreadPoolExecutor(len(self.actions) + len(self.replicas)) as pool:
                futures = [pool.submit(service.start, url, START_TIMEOUT) for service, url in self.actions]
                futures += [pool.submit(replica.start, "", START_TIMEOUT) for replica in self.replicas]
                for future in futures:
                    future.result()
            self.nginx_url = self.add_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def add_nginx(self, edit_upstreams: Callable[[str], str] = lambda text: text, name: str = "") -> str:
        """Another nginx in front of the replicas (the first one is :attr:`nginx_url`); its URL."""
        name = name or f"nginx-{len(self.nginxes)}"
        workdir = self.workdir / name
        workdir.mkdir(parents=True)
        conf, listen = nginx_conf_dir(workdir, [r.port for r in self.replicas], edit_upstreams)
        nginx = nginx_service(workdir, conf, self.env, self.log_dir, name=f"{self.replicas[0].name}-{name}")
        self.nginxes.append(nginx)
        nginx.start(f"http://127.0.0.1:{listen}/health/live", timeout=30)
        return f"http://127.0.0.1:{listen}"

    def address(self, replica: RasaServer) -> str:
        """How nginx's ``X-Upstream`` names ``replica``."""
        return f"127.0.0.1:{replica.port}"

    def by_address(self, address: str) -> RasaServer:
        return next(r for r in self.replicas if self.address(r) == address)

    def kill(self, replica: RasaServer, sig: int = signal.SIGKILL) -> None:
        """``sig`` to ``replica`` (SIGKILL: a crash, SIGTERM: a rolling update); returns at once."""
        replica.process.send_signal(sig)

    def revive(self) -> None:
        """Start again every replica whose process ended (same port, same upstream in nginx)."""
        dead = [r for r in self.replicas if r.process is None or r.process.poll() is not None]
        with ThreadPoolExecutor(max(1, len(dead))) as pool:
            for future in [pool.submit(replica.start, "", START_TIMEOUT) for replica in dead]:
                future.result()

    def stop(self) -> None:
        for service in [*self.nginxes, *self.replicas, *(s for s, _ in self.actions)]:
            service.stop()

    def post_via_nginx(self, sender: str, message: str, headers: Optional[Dict[str, str]] = None,
                       timeout: float = 120) -> requests.Response:
        """Rasa's REST webhook through the load balancer, as a chat client would."""
        return requests.post(
            f"{self.nginx_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            headers={**self.replicas[0].chat_headers(), **(headers or {})},
            timeout=timeout,
        )
