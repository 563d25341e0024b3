"""``callcenter agent add|list|queues|remove``: receptionist positions (agents).

A position is a phone that queues ring (``PJSIP/anna``, or ``Local/agent1@agents/n`` for
the auto-answering test agents), optionally tied to a login so that the console's "log in"
and pickups ring that phone. The database is the truth: a new position starts logged out and
joins its queues when its receptionist logs in (console or ``POST /api/agents/me/login``);
a running app applies queue changes of a logged-in position on its next reconcile (every AMI
connect), or at once through ``PUT /api/agents/{id}/queues``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sqlalchemy import delete, select

from agents.models import AgentPresence
from agents.service import AgentError, AgentService
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import Agent, Queue, QueueMember, User
from callcenter.db.session import Database, DatabaseURLError
from callcenter.pbx.ami.message import Message


class CommandError(Exception):
    """Reported as ``callcenter agent: <message>`` with exit status 1."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agent",
        help="manage receptionist positions (agents): the phones queues ring",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="agent_command", required=True, metavar="ACTION")

    add = sub.add_parser(
        "add",
        help="create a position",
        description="Create a receptionist position (logged out until its user logs in).",
    )
    add.add_argument("name", help="shown in the console and in app_queue (MemberName)")
    add.add_argument(
        "--interface",
        required=True,
        help="the phone queues ring: PJSIP/<endpoint> or Local/<exten>@<context>/n",
    )
    add.add_argument(
        "--state-interface",
        default="",
        help="device state to follow (default: the interface's own), e.g. Custom:anna",
    )
    add.add_argument("--user", metavar="USERNAME", help="the login whose position this is")
    _queue_option(add)
    add.set_defaults(func=_run(_add))

    lst = sub.add_parser("list", help="list positions", description="List every position.")
    lst.set_defaults(func=_run(_list))

    queues = sub.add_parser(
        "queues",
        help="set a position's queues",
        description="Replace the position's queue memberships (none given: no queues).",
    )
    queues.add_argument("agent_id", type=int, metavar="ID")
    _queue_option(queues)
    queues.set_defaults(func=_run(_queues))

    remove = sub.add_parser(
        "remove",
        help="delete a position",
        description="Delete a position that is logged out (log it out first).",
    )
    remove.add_argument("agent_id", type=int, metavar="ID")
    remove.set_defaults(func=_run(_remove))


def _queue_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queue",
        action="append",
        default=[],
        metavar="NAME[=PENALTY]",
        help="a queue of a loaded tenant, penalty 0-99 (default 0); repeat for several",
    )


def parse_queues(items: list[str]) -> dict[str, int]:
    """``["q-a", "q-b=2"]`` → ``{"q-a": 0, "q-b": 2}``; a clear error for anything else."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, penalty = item.partition("=")
        name = name.strip()
        if not name:
            raise CommandError(f"--queue {item!r}: give a queue name, e.g. q-acme-de=0")
        try:
            value = int(penalty) if sep else 0
        except ValueError:
            raise CommandError(f"--queue {item!r}: the penalty must be a number 0-99") from None
        if not 0 <= value <= 99:
            raise CommandError(f"--queue {item!r}: the penalty must be 0-99")
        out[name] = value
    return out


class _NoPbx:
    """The CLI does not talk to Asterisk: the running app applies what is stored."""

    connected = False

    async def send_action(self, *args: Any, **kwargs: Any) -> Message:  # pragma: no cover
        raise AssertionError("not connected")

    async def send_list_action(
        self, *args: Any, **kwargs: Any
    ) -> list[Message]:  # pragma: no cover
        raise AssertionError("not connected")


Handler = Any


def _run(action: Handler) -> Handler:
    def handler(config: Config, args: argparse.Namespace) -> int:
        try:
            result: int = asyncio.run(action(config, args))
        except (CommandError, migrate.SchemaBehind, DatabaseURLError) as exc:
            print(f"callcenter agent: {exc}", file=sys.stderr)
            return 1
        except AgentError as exc:
            print(f"callcenter agent: {exc.detail}", file=sys.stderr)
            return 1
        return result

    return handler


def _service(config: Config, db: Database) -> AgentService:
    return AgentService(db, _NoPbx(), config.agents.reasons)


async def _check_queues(db: Database, queues: dict[str, int]) -> None:
    async with db.session() as session:
        known = set(await session.scalars(select(Queue.name)))
    unknown = sorted(set(queues) - known)
    if unknown:
        hint = (
            ", ".join(sorted(known)[:8]) or "none: load the tenants first (callcenter tenants load)"
        )
        raise CommandError(f"no such queue {', '.join(unknown)} (known: {hint})")


async def _add(config: Config, args: argparse.Namespace) -> int:
    queues = parse_queues(args.queue)
    async with migrate.command_database(config.database_url) as db:
        user_id = None
        if args.user:
            async with db.session() as session:
                user_id = await session.scalar(select(User.id).where(User.username == args.user))
            if user_id is None:
                raise CommandError(f"--user: no user {args.user!r} (see callcenter user list)")
        await _check_queues(db, queues)
        service = _service(config, db)
        agent_id = await service.create(args.name, args.interface, args.state_interface, user_id)
        if queues:
            await service.set_queues(agent_id, queues)
    joined = ", ".join(f"{q}={p}" for q, p in sorted(queues.items())) or "no queues"
    print(f"created agent {agent_id} {args.name!r} on {args.interface} ({joined}); logged out")
    return 0


async def _list(config: Config, args: argparse.Namespace) -> int:
    async with migrate.command_database(config.database_url) as db, db.session() as session:
        rows = (
            await session.execute(
                select(Agent, User.username)
                .outerjoin(User, User.id == Agent.user_id)
                .order_by(Agent.id)
            )
        ).all()
        members = (
            await session.execute(
                select(QueueMember.agent_id, Queue.name, QueueMember.penalty)
                .join(Queue, Queue.id == QueueMember.queue_id)
                .order_by(Queue.name)
            )
        ).all()
        logged = set(
            await session.scalars(
                select(AgentPresence.agent_id).where(AgentPresence.logged_in.is_(True))
            )
        )
    queues: dict[int, list[str]] = {}
    for agent_id, name, penalty in members:
        queues.setdefault(agent_id, []).append(f"{name}={penalty}")
    print(f"{'ID':>5} {'NAME':<20} {'INTERFACE':<28} {'USER':<16} {'STATE':<10} QUEUES")
    for agent, username in rows:
        state = "logged in" if agent.id in logged else "logged out"
        print(
            f"{agent.id:>5} {agent.name:<20} {agent.interface:<28} {username or '-':<16} "
            f"{state:<10} {','.join(queues.get(agent.id, [])) or '-'}"
        )
    return 0


async def _queues(config: Config, args: argparse.Namespace) -> int:
    queues = parse_queues(args.queue)
    async with migrate.command_database(config.database_url) as db:
        await _check_queues(db, queues)
        result = await _service(config, db).set_queues(args.agent_id, queues)
    joined = ", ".join(f"{q}={p}" for q, p in sorted(queues.items())) or "no queues"
    note = " (logged in: the running app applies it on its next reconcile)"
    print(f"agent {args.agent_id}: {joined}" + (note if result.presence.logged_in else ""))
    return 0


async def _remove(config: Config, args: argparse.Namespace) -> int:
    async with migrate.command_database(config.database_url) as db, db.session() as session:
        agent = await session.get(Agent, args.agent_id)
        if agent is None:
            raise CommandError(f"no agent {args.agent_id} (see callcenter agent list)")
        presence = await session.get(AgentPresence, args.agent_id)
        if presence is not None and presence.logged_in:
            raise CommandError(
                f"agent {args.agent_id} is logged in: log it out first "
                f"(POST /api/agents/{args.agent_id}/logout)"
            )
        await session.execute(delete(QueueMember).where(QueueMember.agent_id == agent.id))
        await session.delete(agent)
        name = agent.name
    print(f"removed agent {args.agent_id} {name!r}")
    return 0
