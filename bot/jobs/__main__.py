"""``python -m bot.jobs``: one job worker (arq) on the configured Redis.

Stops on SIGTERM/SIGINT after cancelling what runs (an interrupted job is
picked up again by a worker: every job is idempotent)."""
from __future__ import annotations

import asyncio
import logging
import sys

from arq.worker import Worker

from bot.pii import install_log_masking
from bot.settings import SettingsError


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s - %(message)s")
    install_log_masking()
    try:
        from bot.jobs.worker import worker_settings

        settings = worker_settings()
    except SettingsError as error:
        print(f"jobs: {error}", file=sys.stderr)
        return 2
    asyncio.set_event_loop(asyncio.new_event_loop())
    Worker(**settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
