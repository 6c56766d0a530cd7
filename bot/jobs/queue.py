"""Enqueueing from the Rasa process (desk API): one arq pool per event loop,
on the same Redis and prefix as everything else."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings as ArqRedisSettings  # noqa: F401

from bot.jobs.settings import job_settings
from bot.settings import SettingsError
from bot.stores.settings import RedisSettings

_pools: Dict[int, ArqRedis] = {}


def to_json(job: Any) -> bytes:
    """Jobs and results as JSON, not arq's default pickle: whoever can write
    to the queue must not be able to run code in the worker."""
    return json.dumps(job, default=str).encode()


def from_json(data: bytes) -> Any:
    return json.loads(data)


SERIALIZERS = {"job_serializer": to_json, "job_deserializer": from_json}


def arq_redis_settings() -> ArqRedisSettings:
    redis = RedisSettings.current()
    if redis.cluster:
        raise SettingsError("REDIS_CLUSTER: the job queue (arq) needs a single Redis server or Sentinel")
    return ArqRedisSettings(host=redis.host, port=redis.port, database=redis.db,
                            password=redis.password or None, conn_timeout=max(1, int(redis.timeout_seconds)))


async def arq_pool() -> ArqRedis:
    loop = id(asyncio.get_running_loop())
    if loop not in _pools:
        _pools[loop] = await create_pool(arq_redis_settings(), default_queue_name=job_settings().queue_name,
                                         **SERIALIZERS)
    return _pools[loop]


async def enqueue(function: str, *args: Any, job_id: str) -> bool:
    """Queue ``function(*args)`` once per ``job_id``; False when that job is
    already queued, running or finished recently (arq keeps its result an hour)."""
    job = await (await arq_pool()).enqueue_job(function, *args, _job_id=job_id)
    return job is not None
