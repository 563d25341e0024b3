"""The ``[smtp]`` configuration wired into the app: a telephone note taken through the REST
API is e-mailed through the configured (real, local) SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import load_config
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.users import UserRepository
from callcenter.services import SERVICES
from composition.app import make_app
from crm.mailer import SmtpMailer, mailer_from_config
from tests.integration.test_crm_notes import SmtpReceiver

PASSWORD = "smtp-Test-Passw0rd"


async def test_note_through_the_api_is_mailed_via_the_configured_server(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    server = SmtpReceiver()
    await server.start()
    try:
        config = load_config(
            None,
            env={"CALLCENTER__SMTP__PORT": str(server.port)},
            overrides={
                "app": {"data_dir": str(tmp_path / "data")},
                "database": {"url": pg_url},
                "tenants": {"directory": str(tmp_path / "no-tenants")},
                "smtp": {"host": "127.0.0.1", "sender": "sekretariat@callcenter.example"},
            },
        )
        app = make_app(config, pbx=False)
        db = app[SERVICES].db
        sfx = uuid.uuid4().hex[:8]
        async with db.session() as s:
            tenant = Tenant(slug=f"smtp-{sfx}", name="Müller GmbH", default_language="de")
            s.add(tenant)
            await s.flush()
            tenant_id = tenant.id
        await UserRepository(db).add(f"smtp-rec-{sfx}", PASSWORD, "receptionist")
        async with TestClient(TestServer(app)) as client:
            resp = await client.post(
                "/api/auth/login", json={"username": f"smtp-rec-{sfx}", "password": PASSWORD}
            )
            token = (await resp.json())["token"]
            resp = await client.post(
                f"/api/crm/tenants/{tenant_id}/notes",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "recipient_email": "chef@mueller.example",
                    "subject": "Rückruf erbeten",
                    "caller_number": "0171 5559001",
                    "callback_wanted": True,
                },
            )
            note = await resp.json()
        assert resp.status == 201, note
        assert note["delivery_status"] == "sent"
        (message,) = server.messages
        assert server.envelopes == [("sekretariat@callcenter.example", ["chef@mueller.example"])]
        assert message["To"] == "chef@mueller.example"
        assert "Rückruf erbeten" in message["Subject"]
    finally:
        await server.stop()


def test_mailer_follows_the_smtp_section(tmp_path: Path) -> None:
    assert mailer_from_config(load_config(None, env={}).smtp) is None  # no host: no mailer
    secret = tmp_path / "pw"
    secret.write_text("pw-from-file\n")
    config = load_config(
        None,
        env={"CALLCENTER__SMTP__PASSWORD_FILE": str(secret)},
        overrides={
            "smtp": {
                "host": "mail.example.org",
                "port": 465,
                "security": "ssl",
                "username": "cc",
                "timeout": 3,
            }
        },
    )
    mailer = mailer_from_config(config.smtp)
    assert mailer == SmtpMailer(
        "mail.example.org", 465, sender="callcenter@localhost", username="cc",
        password="pw-from-file", starttls=False, ssl=True, timeout=3.0,
    )  # fmt: skip
    assert "pw-from-file" not in repr(mailer)
