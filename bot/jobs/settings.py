"""``JOBS_*`` settings of the worker and the queue, read once; errors name the variable."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.redis_pool import redis_key
from bot.settings import env_int


@dataclass(frozen=True)
class JobSettings:
    concurrency: int  # JOBS_CONCURRENCY jobs at once per worker process
    timeout_seconds: int  # JOBS_TIMEOUT_SECONDS: a job running longer is cancelled; a dead
    #                       worker's job is picked up again this long (+10 s) after it started
    max_tries: int  # JOBS_MAX_TRIES before a job is given up (and counted as failed)

    @classmethod
    def from_env(cls) -> "JobSettings":
        return cls(
            concurrency=env_int("JOBS_CONCURRENCY", 50, 1),
            timeout_seconds=env_int("JOBS_TIMEOUT_SECONDS", 120, 1),
            max_tries=env_int("JOBS_MAX_TRIES", 20, 1),
        )

    @property
    def queue_name(self) -> str:
        return redis_key("jobs")


@lru_cache(maxsize=1)
def job_settings() -> JobSettings:
    return JobSettings.from_env()
