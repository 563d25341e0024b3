"""``callcenter agent add|list|queues|remove`` against a real SQLite file (issue #8,
defect 13: there was no CLI to create receptionist positions)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents import cli as agents_cli
from agents.service import AgentService
from callcenter.config import Config, load_config
from callcenter.db import migrate
from callcenter.db.models import Queue
from callcenter.db.session import Database
from tests.integration.commands import run_command as run


@pytest.fixture
def config(tmp_path: Path) -> Config:
    url = f"sqlite+aiosqlite:///{tmp_path / 'agents.sqlite3'}"
    return load_config(env={}, overrides={"database": {"url": url}})


async def _spec(config: Config, agent_id: int) -> tuple[str, str, dict[str, int]]:
    db = Database(config.database_url)
    try:
        spec = await AgentService(db, agents_cli._NoPbx(), ("lunch",)).spec(agent_id)
        return spec.name, spec.interface, dict(spec.queues)
    finally:
        await db.close()


async def _add_queues(config: Config, *names: str) -> None:
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            session.add_all(Queue(name=n) for n in names)
    finally:
        await db.close()


def test_add_list_queues_remove(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(asyncio.to_thread(migrate.upgrade, config.database_url))
    asyncio.run(_add_queues(config, "q-acme-de", "q-acme-en"))
    assert (
        run(
            config,
            "user",
            "add",
            "anna",
            "--role",
            "receptionist",
            "--password-stdin",
            stdin="a-long-Passw0rd-here\n",
        )
        == 0
    )
    argv = ("agent", "add", "Anna", "--interface", "PJSIP/anna", "--user", "anna")
    assert run(config, *argv, "--queue", "q-acme-de", "--queue", "q-acme-en=2") == 0
    out = capsys.readouterr().out
    assert "created agent 1 'Anna' on PJSIP/anna (q-acme-de=0, q-acme-en=2); logged out" in out
    assert asyncio.run(_spec(config, 1)) == (
        "Anna",
        "PJSIP/anna",
        {"q-acme-de": 0, "q-acme-en": 2},
    )
    assert run(config, "agent", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "INTERFACE", "USER", "STATE", "QUEUES"]
    assert lines[1].split() == [
        "1",
        "Anna",
        "PJSIP/anna",
        "anna",
        "logged",
        "out",
        "q-acme-de=0,q-acme-en=2",
    ]

    assert run(config, "agent", "queues", "1", "--queue", "q-acme-en=5") == 0
    assert asyncio.run(_spec(config, 1))[2] == {"q-acme-en": 5}
    assert run(config, "agent", "remove", "1") == 0
    assert "removed agent 1 'Anna'" in capsys.readouterr().out
    assert run(config, "agent", "remove", "1") == 1
    assert "no agent 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--interface", "DAHDI/1"), "interface"),
        (("--interface", "PJSIP/anna", "--user", "nobody"), "no user 'nobody'"),
        (
            ("--interface", "PJSIP/anna", "--queue", "q-nope"),
            "no such queue q-nope (known: q-acme-de)",
        ),
        (("--interface", "PJSIP/anna", "--queue", "q-acme-de=100"), "penalty must be 0-99"),
        (("--interface", "PJSIP/anna", "--queue", "q-acme-de=x"), "penalty must be a number"),
    ],
)
def test_add_refuses_with_a_clear_message(
    config: Config, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    asyncio.run(asyncio.to_thread(migrate.upgrade, config.database_url))
    asyncio.run(_add_queues(config, "q-acme-de"))
    assert run(config, "agent", "add", "Anna", *argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("callcenter agent: ") and message in err, err
    assert "Traceback" not in err


def test_a_second_position_on_the_same_phone_is_refused(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(asyncio.to_thread(migrate.upgrade, config.database_url))
    assert run(config, "agent", "add", "Anna", "--interface", "PJSIP/anna") == 0
    assert run(config, "agent", "add", "Ben", "--interface", "PJSIP/anna") == 1
    assert "'PJSIP/anna' already has an agent" in capsys.readouterr().err


def test_an_unmigrated_database_says_what_to_run(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "agent", "list") == 1
    assert "run 'callcenter migrate' first" in capsys.readouterr().err
