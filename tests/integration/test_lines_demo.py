"""The demo's phones: made once with passwords kept per machine, positions in the queues,
digests that match the printed passwords; the local certificate the demo serves with."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from pathlib import Path

from sqlalchemy import delete, select

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import Agent
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from lines import demo
from lines.models import Phone
from lines.phones import password_digest


async def test_demo_phones_are_made_once_and_keep_their_passwords(
    pbx_config: Config, pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    config = dataclasses.replace(
        pbx_config,
        app=dataclasses.replace(pbx_config.app, data_dir=tmp_path),
        database=dataclasses.replace(pbx_config.database, url=pg_url),
    )
    db = Database(pg_url)
    lena = await UserRepository(db).get("lena") or await UserRepository(db).add(
        "lena", "a long enough test password 1", "receptionist"
    )
    first = await demo.ensure_demo_phones(config, [])
    again = await demo.ensure_demo_phones(config, [])
    assert first == again and [(n, k) for n, k, _ in first] == [
        ("demo-desk", "sip"),
        ("demo-web", "webrtc"),
    ]
    assert (tmp_path / "demo-phones.json").stat().st_mode & 0o777 == 0o600
    try:
        async with db.session() as session:
            for name, _kind, password in first:
                phone = await session.scalar(select(Phone).where(Phone.name == name))
                assert phone is not None
                assert phone.password_digest == password_digest(name, phone.realm, password)
                agent = await session.scalar(
                    select(Agent).where(Agent.interface == f"PJSIP/{name}")
                )
                assert agent is not None
                # demo-web is lena's position: her console carries the browser phone.
                assert agent.user_id == (lena.id if name == "demo-web" else None)
    finally:
        async with db.session() as session:  # the session's database is shared
            await session.execute(delete(Agent).where(Agent.interface.like("PJSIP/demo-%")))
            await session.execute(delete(Phone).where(Phone.name.like("demo-%")))
        await db.close()
    lines = demo.banner(config, first, "http://127.0.0.1:8080")
    assert any("demo-web" in line and "/softphone" in line and "lena" in line for line in lines)


def test_local_certificate_is_made_once_and_loads(tmp_path: Path) -> None:
    cert, key = demo.local_certificate(tmp_path, "127.0.0.1")
    assert (cert, key) == demo.local_certificate(tmp_path, "127.0.0.1")
    assert key.stat().st_mode & 0o777 == 0o600
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
