"""A real 3-master Redis Cluster on loopback ports, for the store tests.

Three ``redis-server --cluster-enabled yes`` processes on spare ports, joined
by ``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`` and
waited for until every node says ``cluster_state:ok``. The tests run the same
store code against it as against the single server, so a key layout that
would raise ``MOVED`` or ``CROSSSLOT`` in production fails here first.
A ``redis-server`` built without cluster support raises (never a skip).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import redis
from redis import asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

from bot.stores.keys import conversation_part
from bot.stores.settings import RedisSettings
from testing.processes import free_port

MASTERS = 3


class RedisClusterUnavailable(RuntimeError):
    """The cluster could not be started (no cluster support, or it never got ready)."""


def _binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        raise RedisClusterUnavailable(f"{name} not found: the cluster tests need it")
    return path


class LocalRedisCluster:
    """``MASTERS`` cluster nodes on 127.0.0.1, data and logs in ``directory``."""

    def __init__(self, directory: Path, masters: int = MASTERS):
        self.directory = Path(directory)
        self.ports: List[int] = []
        while len(self.ports) < masters:
            port = free_port()
            # the cluster bus listens on port + 10000: both must be free and distinct
            if port not in self.ports and port + 10000 < 65536:
                self.ports.append(port)
        self.processes: List[subprocess.Popen] = []

    @property
    def url(self) -> str:
        """A startup node (any node works: the client discovers the rest)."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def client(self, **options) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in self.ports],
                            decode_responses=True, **options)

    def node(self, port: int, **options) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, **options)

    def start(self, timeout: float = 60) -> "LocalRedisCluster":
        server, cli = _binary("redis-server"), _binary("redis-cli")
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            for port in self.ports:
                self._start_node(server, port)
            create = subprocess.run(
                [cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True, text=True, timeout=timeout,
            )
            if create.returncode != 0:
                raise RedisClusterUnavailable(
                    f"redis-cli --cluster create failed ({create.returncode}):\n{create.stdout}\n{create.stderr}")
            self._wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, server: str, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
             "--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
             "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--protected-mode", "no"],
            stdout=open(node_dir / "redis.log", "ab"), stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RedisClusterUnavailable(
                    f"redis-server --cluster-enabled yes on {port} exited ({process.returncode}): "
                    + (node_dir / "redis.log").read_text()[-2000:])
            try:
                info = self.node(port, socket_connect_timeout=0.5).info("cluster")
            except redis.RedisError:
                time.sleep(0.05)
                continue
            if str(info.get("cluster_enabled")) != "1":
                raise RedisClusterUnavailable(f"redis-server on {port} runs without cluster support")
            return
        raise RedisClusterUnavailable(f"redis-server --cluster-enabled yes on {port} did not start")

    def _wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Optional[str] = None
        while time.monotonic() < deadline:
            states = []
            for port in self.ports:
                try:
                    states.append(self.node(port).execute_command("CLUSTER", "INFO"))
                except redis.RedisError as error:
                    states.append(str(error))
            last = states[0] if isinstance(states[0], str) else repr(states[0])
            if all("cluster_state:ok" in (s if isinstance(s, str) else str(s)) for s in states):
                return
            time.sleep(0.1)
        raise RedisClusterUnavailable(f"cluster never reached cluster_state:ok: {last}")

    def flush(self) -> None:
        """Empty every master (the cluster belongs to the test session)."""
        for port in self.ports:
            self.node(port).flushall()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


@dataclass
class RedisTarget:
    """What a store test runs against: the shared single server or the cluster.

    ``client`` is a synchronous client for assertions (``redis.Redis`` or
    ``RedisCluster``); :meth:`store_options` are the endpoint keys a store
    takes; :meth:`key` names a conversation's key as the stores do."""

    name: str
    settings: RedisSettings
    client: Any

    @property
    def cluster(self) -> bool:
        return self.settings.cluster

    def store_options(self) -> Dict[str, str]:
        return dict(host=self.settings.host, port=str(self.settings.port), db=str(self.settings.db),
                    password=self.settings.password, cluster="true" if self.cluster else "false")

    def key(self, prefix: str, kind: str, sender_id: str) -> str:
        return f"{prefix}:{kind}:{conversation_part(sender_id, self.cluster)}"

    def async_client(self, socket_timeout: Optional[float] = 5) -> Any:
        """A new async client (plain or cluster) for bot/ code under test."""
        if self.cluster:
            return AsyncRedisCluster(host=self.settings.host, port=self.settings.port,
                                     decode_responses=True, socket_timeout=socket_timeout)
        return aioredis.Redis.from_url(self.settings.url, decode_responses=True,
                                       socket_timeout=socket_timeout)

    def delete_prefixed(self, prefix: str) -> None:
        """Remove what a test wrote under ``prefix`` (every node on a cluster)."""
        patterns = (f"{prefix}:*", "{%s:*" % prefix)
        for pattern in patterns:
            for key in self.client.scan_iter(pattern):
                self.client.delete(key)
