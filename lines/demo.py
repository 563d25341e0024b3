"""Demo phones: a desk phone and a browser softphone that queues ring in ``callcenter demo``.

Each is a phone (``lines.phones``) plus a receptionist position (``PJSIP/<name>``) in every
tenant queue, logged in. While nothing is registered the queue skips them (unavailable)
and the auto-answering demo agents take the calls; a SIP phone or the browser softphone
that registers with the printed credentials is rung by the next demo call. The demo keeps
the passwords in ``<data_dir>/demo-phones.json`` (0600) so that a restart prints the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from callcenter.config import Config
from callcenter.db.session import Database
from lines.store import PhoneStore

DEMO_PHONES = (("demo-desk", "sip", "Demo-Tischtelefon"), ("demo-web", "webrtc", "Demo-Softphone"))
# The demo login whose receptionist position is the phone (composition.demo.DEMO_USERS):
# her console registers the browser phone by itself.
DEMO_OWNERS = {"demo-web": "lena"}


async def ensure_demo_phones(config: Config, queues: Sequence[str]) -> list[tuple[str, str, str]]:
    """(name, kind, password) of the demo phones, made once; positions in every queue."""
    from agents.demo import seat
    from callcenter.db.models import Agent, Queue, User

    path = config.app.data_dir / "demo-phones.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    db = Database(config.database_url)
    store = PhoneStore(db)
    out = []
    try:
        existing = {p.name for p in await store.all()}
        for name, kind, label in DEMO_PHONES:
            if name not in existing:
                _, creds = await store.create(name, kind, label, config.lines.realm)
                known[name] = creds.password
            elif name not in known:
                creds_ = await store.new_password(name, config.lines.realm)
                assert creds_ is not None
                known[name] = creds_.password
            out.append((name, kind, known[name]))
        async with db.session() as session:
            queue_ids = list(await session.scalars(select(Queue.id).where(Queue.name.in_(queues))))
            for name, _kind, label in DEMO_PHONES:
                interface = f"PJSIP/{name}"
                agent = await session.scalar(select(Agent).where(Agent.interface == interface))
                if agent is None:
                    agent = Agent(interface=interface, name=label)
                    session.add(agent)
                    await session.flush()
                owner = DEMO_OWNERS.get(name)
                if owner and agent.user_id is None:
                    agent.user_id = await session.scalar(
                        select(User.id).where(User.username == owner)
                    )
                await seat(session, agent, queue_ids)
    finally:
        await db.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(known, fh, indent=2)
    return out


def local_certificate(data_dir: Path, host: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` in ``<data_dir>/tls`` (made once, openssl)."""
    directory = data_dir / "tls"
    cert, key = directory / "demo-cert.pem", directory / "demo-key.pem"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to make the demo's certificate")
    directory.mkdir(parents=True, exist_ok=True)
    san = f"IP:{host}" if host.replace(".", "").isdigit() else f"DNS:{host}"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName={san},DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def banner(config: Config, phones: Sequence[tuple[str, str, str]], url: str) -> list[str]:
    """What the demo prints about its phones."""
    sip = f"{config.pbx.sip_host or config.pbx.host}:{config.pbx.sip_port}"
    lines = [f"  phones (register to {sip}, realm {config.lines.realm}; they ring on demo calls):"]
    for name, kind, password in phones:
        where = f"SIP phone: sip:{name}@{sip}"
        if kind == "webrtc":
            owner = DEMO_OWNERS.get(name)
            where = f"browser: {url}/softphone" + (
                f", or log in as {owner}: the console registers it" if owner else ""
            )
        lines.append(f"    {name:<11} {password}   {where}")
    lines.append(f"  (also in {config.app.data_dir / 'demo-phones.json'})")
    return lines
