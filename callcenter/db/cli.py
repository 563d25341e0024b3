"""``callcenter migrate`` and ``callcenter user add|list|passwd|enable|disable``.

Passwords are never taken from the command line (they would land in shell history and
``ps``): they come from an interactive prompt or, for scripts, the first line of stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import ROLES
from callcenter.db.session import DatabaseURLError
from callcenter.db.users import UserError, UserInfo, UserRepository
from callcenter.passwords import WeakPassword


class CommandError(Exception):
    """Reported as ``callcenter: <message>`` with exit status 1."""


def register(subparsers: Any) -> None:
    """Add ``migrate`` and ``user`` to the ``callcenter`` command."""
    mig = subparsers.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Apply the schema migrations to the configured database (default: newest).",
    )
    mig.add_argument("--revision", default="head", help="target revision (default: head)")
    mig.add_argument(
        "--show", action="store_true", help="only print the current and newest revision"
    )
    mig.set_defaults(func=_run(_migrate))

    user = subparsers.add_parser(
        "user",
        help="manage login accounts",
        description="Create and manage users. Passwords are read from a prompt or stdin.",
    )
    sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    add = sub.add_parser("add", help="create a user", description="Create a login account.")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    add.add_argument("--display-name", default="", help="name shown in the console")
    add.add_argument(
        "--tenant",
        action="append",
        default=[],
        metavar="SLUG",
        help="tenant a 'tenant' user may see (repeat for several)",
    )
    _password_option(add)
    add.set_defaults(func=_run(_user_add))

    lst = sub.add_parser("list", help="list users", description="List all login accounts.")
    lst.set_defaults(func=_run(_user_list))

    pw = sub.add_parser(
        "passwd",
        help="set a user's password",
        description="Set a new password and end the user's open sessions.",
    )
    pw.add_argument("username")
    _password_option(pw)
    pw.set_defaults(func=_run(_user_passwd))

    for name, active in (("enable", True), ("disable", False)):
        act = sub.add_parser(
            name,
            help=f"{name} a login",
            description=f"{name.capitalize()} a login account"
            + ("" if active else " and end its open sessions")
            + ".",
        )
        act.add_argument("username")
        act.set_defaults(func=_run(_user_active), active=active)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of prompting",
    )


def read_password(args: argparse.Namespace, stdin: TextIO | None = None) -> str:
    """The new password from stdin (``--password-stdin``) or a confirmed prompt."""
    stdin = stdin or sys.stdin
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("no password on stdin")
        return password
    if not stdin.isatty():
        raise CommandError("no terminal to prompt for the password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise CommandError("passwords do not match")
    return first


Handler = Any


def _run(action: Handler) -> Handler:
    """Wrap an async action into the ``handler(config, args) -> int`` the CLI expects."""

    def handler(config: Config, args: argparse.Namespace) -> int:
        try:
            result: int = asyncio.run(action(config, args))
        except (
            CommandError,
            migrate.SchemaBehind,
            UserError,
            WeakPassword,
            DatabaseURLError,
        ) as exc:
            print(f"callcenter {args.command}: {exc}", file=sys.stderr)
            return 1
        return result

    return handler


async def _migrate(config: Config, args: argparse.Namespace) -> int:
    url = config.database_url
    if args.show:
        print(f"current: {await migrate.current_async(url) or '(empty database)'}")
        print(f"head:    {migrate.head()}")
        return 0
    await asyncio.to_thread(migrate.upgrade, url, args.revision)
    print(f"database at revision {await migrate.current_async(url)}")
    return 0


@contextlib.asynccontextmanager
async def _users(config: Config) -> AsyncIterator[UserRepository]:
    """The user repository on a migrated database, closed when the command is done."""
    async with migrate.command_database(config.database_url) as database:
        yield UserRepository(database)


def _show(user: UserInfo) -> str:
    tenants = ",".join(user.tenant_slugs) or "*"
    state = "active" if user.active else "disabled"
    last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
    return f"{user.id:>5} {user.username:<24} {user.role:<13} {state:<9} {tenants:<24} {last}"


async def _user_add(config: Config, args: argparse.Namespace) -> int:
    password = read_password(args)
    async with _users(config) as users:
        info = await users.add(
            args.username,
            password,
            args.role,
            display_name=args.display_name,
            tenant_slugs=args.tenant,
        )
    print(f"created user {info.username} ({info.role})")
    return 0


async def _user_list(config: Config, args: argparse.Namespace) -> int:
    async with _users(config) as users:
        rows = await users.list()
    print(f"{'ID':>5} {'USERNAME':<24} {'ROLE':<13} {'STATE':<9} {'TENANTS':<24} LAST LOGIN")
    for row in rows:
        print(_show(row))
    return 0


async def _user_passwd(config: Config, args: argparse.Namespace) -> int:
    password = read_password(args)
    async with _users(config) as users:
        await users.set_password(args.username, password)
    print(f"password of {args.username} changed; open sessions ended")
    return 0


async def _user_active(config: Config, args: argparse.Namespace) -> int:
    async with _users(config) as users:
        await users.set_active(args.username, args.active)
    print(f"{args.username} {'enabled' if args.active else 'disabled'}")
    return 0
