"""Copy a single-server deployment's Redis data onto a Redis Cluster, once.

    python -m bot.cluster_copy --source redis://:pw@old:6379/0 --target redis://:pw@node:6379/0

On a cluster the keys one script touches carry hash tags
(:mod:`bot.stores.keys`), so the names differ from a single server's and
``redis-cli --cluster import`` alone would leave the data under names the
product does not read. This copies every key under ``REDIS_KEY_PREFIX`` with
``DUMP`` / ``RESTORE`` (value and remaining TTL), renamed by
:func:`cluster_name`. Lock tickets are not copied (they belong to processes
of the old deployment). Run it with the servers stopped; it is safe to run
again (``RESTORE ... REPLACE``). The source is only read.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Tuple

import redis
from redis.cluster import RedisCluster

from bot.stores.keys import conversation_part, feature_prefix
from bot.stores.settings import RedisSettings, SettingsError, check_key_prefix

# Keys named <prefix>:<kind>:<sender id> that scripts use together per conversation.
CONVERSATION_KINDS = ("tracker-events", "tracker-meta", "outbox")
SKIPPED_KINDS = ("lock-queue", "lock-next")
FEATURE_KINDS = ("desk", "wa")  # the desk; WhatsApp's de-duplication records and inbox


def cluster_name(key: str, prefix: str) -> Optional[str]:
    """The name ``key`` (a single server's) has on a cluster; None: not copied."""
    head = f"{prefix}:"
    if not key.startswith(head):
        return key
    rest = key[len(head):]
    kind, _, sender = rest.partition(":")
    if kind in SKIPPED_KINDS:
        return None
    if kind in CONVERSATION_KINDS and sender:
        return f"{prefix}:{kind}:{conversation_part(sender, True)}"
    if kind in FEATURE_KINDS and sender:  # one slot per feature (bot/stores/keys.py)
        return f"{feature_prefix(prefix, kind, True)}:{sender}"
    return key  # one key per command or script (rate limits...), or already tagged (step-up)


def copy(source: redis.Redis, target: RedisCluster, prefix: str) -> Tuple[int, int]:
    """Copy (and rename) every key under ``prefix``: (copied, skipped)."""
    copied = skipped = 0
    for key in source.scan_iter(match=f"{prefix}:*", count=1000):
        name = cluster_name(key.decode(), prefix)
        value = source.dump(key)
        if name is None or value is None:  # a lock ticket, or the key expired meanwhile
            skipped += 1
            continue
        ttl = source.pttl(key)
        target.restore(name, ttl if ttl and ttl > 0 else 0, value, replace=True)
        copied += 1
    return copied, skipped


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.cluster_copy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="the single server, redis://[:password@]host:port/db")
    parser.add_argument("--target", required=True, help="any node of the cluster, redis://[:password@]host:port/0")
    parser.add_argument("--prefix", default=None, help="REDIS_KEY_PREFIX of the deployment (default: the setting)")
    args = parser.parse_args(argv)
    try:
        prefix = check_key_prefix(args.prefix or RedisSettings.current().key_prefix, "--prefix")
        source_settings = RedisSettings.from_url(args.source, "--source")
        target_settings = RedisSettings.from_url(args.target, "--target", cluster=True)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        source = redis.Redis(host=source_settings.host, port=source_settings.port, db=source_settings.db,
                             password=source_settings.password or None, socket_timeout=30)
        target = RedisCluster(host=target_settings.host, port=target_settings.port,
                              password=target_settings.password or None, socket_timeout=30)
        copied, skipped = copy(source, target, prefix)
    except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as error:
        print(f"error: Redis: {error}", file=sys.stderr)
        return 1
    print(f"copied {copied} keys under {prefix}: onto the cluster ({skipped} lock keys or expired keys skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
