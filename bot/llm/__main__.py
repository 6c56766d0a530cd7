"""``python -m bot.llm export-fallbacks [--out FILE] [--since-days N]``: the
messages that went to the fallback, as NLU YAML for a designer to review."""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from redis.exceptions import RedisError

from bot.llm.fallbacks import read_all, to_nlu_yaml
from bot.redis_pool import get_redis


async def _export(args) -> int:
    since = time.time() - args.since_days * 86400 if args.since_days else None
    redis = get_redis()
    try:
        entries = await read_all(redis, since)
    except (RedisError, OSError) as error:
        print(f"error: Redis does not answer ({error}); check REDIS_URL", file=sys.stderr)
        return 1
    finally:
        await redis.close()
    text = to_nlu_yaml(entries)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(entries)} fallback messages written to {args.out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.llm")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export-fallbacks", help="fallback messages as NLU YAML")
    export.add_argument("--out", default="-", help="file to write (default: standard output)")
    export.add_argument("--since-days", type=float, default=0,
                        help="only messages of the last N days (default: all kept)")
    args = parser.parse_args(argv)
    return asyncio.run(_export(args))


if __name__ == "__main__":
    sys.exit(main())
