"""``callcenter crm …`` handlers against the embedded SQLite database (the default backend)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from callcenter.config import load_config
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from tests.integration.commands import run_command as _call

FIXTURE = Path(__file__).parent.parent / "fixtures" / "crm" / "messy_contacts.csv"


def test_import_export_lookup_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"
    migrate.upgrade(url)

    async def add_tenant() -> None:
        db = Database(url)
        async with db.session() as s:
            s.add(Tenant(slug="mueller", name="Müller GmbH"))
        await db.close()

    asyncio.run(add_tenant())
    config = load_config(None, env={}, overrides={"database": {"url": url}})

    assert _call(config, "crm", "import", str(FIXTURE), "--tenant", "mueller") == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] and dry["counts"]["create"] == 5 and dry["counts"]["error"] == 5

    assert _call(config, "crm", "import", str(FIXTURE), "--tenant", "mueller", "--apply") == 0
    assert json.loads(capsys.readouterr().out)["counts"]["create"] == 5

    assert _call(config, "crm", "lookup", "--tenant", "mueller", "0171 1234567") == 0
    match = json.loads(capsys.readouterr().out)
    assert match["display_name"] == "Anna Schmidt" and match["tags"] == ["Stammkunde", "Wichtig"]

    out = tmp_path / "contacts.vcf"
    assert _call(config, "crm", "export", "--tenant", "mueller", "--format", "vcard4",
                 "-o", str(out)) == 0  # fmt: skip
    assert out.read_text(encoding="utf-8").count("BEGIN:VCARD") == 5
    assert _call(config, "crm", "import", str(out), "--tenant", "mueller") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["counts"]["create"] == 0 and again["counts"]["error"] == 0

    assert _call(config, "crm", "import", str(FIXTURE), "--tenant", "mueller",
                 "--mapping", "{not json") == 1  # fmt: skip
    assert "the mapping must be a JSON object" in capsys.readouterr().err

    assert _call(config, "crm", "lookup", "--tenant", "nobody", "123") == 1
    assert "no tenant with slug 'nobody'" in capsys.readouterr().err
