"""Manage desk agents from a shell: ``python -m bot.desk create-user ...``.

The first admin has to come from somewhere: this command, run next to the
same Redis settings as the servers (``REDIS_URL``, ``REDIS_KEY_PREFIX``).
The password comes from ``--password``, else ``DESK_USER_PASSWORD``, else
a prompt when a terminal is attached.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import Optional

from redis.exceptions import RedisError

from bot.desk import Desk
from bot.desk.errors import DeskError, InvalidInput
from bot.desk.users import ROLES
from bot.settings import SettingsError


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _password(given: Optional[str]) -> str:
    if given:
        return given
    # A one-off input of this command, not a server setting: taken verbatim.
    if os.environ.get("DESK_USER_PASSWORD"):
        return os.environ["DESK_USER_PASSWORD"]
    if not sys.stdin.isatty():
        raise CliError("--password: give --password, set DESK_USER_PASSWORD or run in a terminal")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise CliError("--password: the two passwords differ")
    return first


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m bot.desk", description=__doc__.split("\n")[0])
    commands = cli.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="add an agent")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True, help="display name shown to colleagues")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--password")
    listing = commands.add_parser("list-users", help="show every agent")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    password = commands.add_parser("set-password", help="change an agent's password")
    password.add_argument("--username", required=True)
    password.add_argument("--password")
    for name, text in (("disable-user", "block an agent's logins and sessions"),
                       ("enable-user", "allow a disabled agent again")):
        commands.add_parser(name, help=text).add_argument("--username", required=True)
    return cli


async def run(args: argparse.Namespace) -> None:
    desk = Desk.create()
    users = desk.users
    try:
        if args.command == "create-user":
            agent = await users.create(args.username, args.name, args.role,
                                       _password(args.password))
            print(f"created {agent.role} {agent.username} ({agent.name})")
        elif args.command == "list-users":
            for agent in await users.list():
                if args.json:
                    print(json.dumps(agent.as_dict(), ensure_ascii=False))
                else:
                    state = "disabled" if agent.disabled else "active"
                    print(f"{agent.username}\t{agent.role}\t{state}\t{agent.name}")
        elif args.command == "set-password":
            await users.require(args.username)
            agent = await users.set_password(args.username, _password(args.password))
            print(f"password changed for {agent.username}; their open sessions ended")
        else:
            agent = await users.set_disabled(args.username, args.command == "disable-user")
            print(f"{agent.username} is now {'disabled' if agent.disabled else 'active'}")
    finally:
        await users.redis.close()


def main(argv: Optional[list] = None) -> int:
    args = parser().parse_args(argv)
    try:
        asyncio.run(run(args))
    except InvalidInput as error:
        print(f"error: --{error.field}: {error.reason}", file=sys.stderr)
        return 2
    except (CliError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DeskError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except (RedisError, OSError) as error:
        print(f"error: Redis does not answer (REDIS_URL): {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
