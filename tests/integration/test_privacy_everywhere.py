"""A contact's erasure leaves nothing of the person in any store (issue #9, finding 8).

Every store that can hold a caller is seeded (calls, call events with the live state's
``"contact"`` id, queue_log rows and the queue_log file, the PBX's messages log, notes,
webhook deliveries and attempts, job payloads, audit, voicemail with its transcript, audio
and the PBX's recording file, the callback list); then the erasure runs with the stores the
composition root registers, and a ``pg_dump`` of the database, the files and Redis are
grepped for the number (every way it was written), the name, the e-mail and the contact id.
On the old main the call events kept ``"contact": "<id>"`` and the contact's name, and the
queue_log rows and file kept the number.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from callbacks.models import CallbackAttempt, CallbackRequest
from callbacks.privacy import CallbackRequests
from callcenter.audit import AuditEntry
from callcenter.db import migrate
from callcenter.db.models import Call, CallEvent, Tenant
from callcenter.db.session import Database
from callcenter.records.models import QueueLogRow
from callcenter.records.privacy import PbxFiles
from crm import privacy
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.models import CallLink, Note, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from jobs.models import Job
from tests.conftest import fresh_database
from voicemail.models import Voicemail, VoicemailAudio
from voicemail.privacy import VoicemailStore

DIGITS = "55591234"  # in every form of the number below
E164, RAW, NATIONAL = "+493055591234", "030 55591234", "03055591234"
OTHER = "+493077700001"  # another caller: must stay


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    """A database of this test's own: the dump holds only what it seeded."""
    with fresh_database("cc_privacy") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
async def db(pg: str) -> AsyncIterator[Database]:
    database = Database(pg)
    yield database
    await database.close()


def dump(url: str) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    out = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", "-d", dsn],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def queue_log_lines(linkedid: str, uniqueid: str, caller: str) -> list[str]:
    t = 1_790_000_000
    return [
        f"{t}|{uniqueid}|NONE|NONE|CC_START|{linkedid}|+493012345|{caller}",
        f"{t + 1}|{uniqueid}|q-main|NONE|ENTERQUEUE||{caller}|1",
        f"{t + 5}|{uniqueid}|q-main|PJSIP/rec1|CONNECT|4|{uniqueid}-2|2",
        f"{t + 60}|{uniqueid}|q-main|PJSIP/rec1|COMPLETECALLER|4|55|1",
        f"{t + 61}|{uniqueid}|NONE|NONE|CC_END|{linkedid}|acme|+493012345|{caller}|answered",
    ]


async def test_erasure_leaves_nothing_of_the_contact_anywhere(
    db: Database, pg: str, tmp_path: Path, redis_url: str
) -> None:
    sfx = uuid.uuid4().hex[:8]
    name, email = f"Erika Probe-{sfx}", f"erika.{sfx}@example.org"
    lid, uid, other_lid = f"L-{sfx}", f"U-{sfx}", f"O-{sfx}"
    leg = f"cb-{sfx}-a1;"
    recording = f"vm-{sfx}"
    now = datetime.now(UTC)

    logs = tmp_path / "log"
    spool = tmp_path / "spool" / "recording"
    logs.mkdir()
    spool.mkdir(parents=True)
    qlog = logs / "queue_log"
    lines = queue_log_lines(lid, uid, NATIONAL) + queue_log_lines(other_lid, "U-o", OTHER)
    qlog.write_text("\n".join(lines) + "\n")
    messages = logs / "messages"
    messages.write_text(
        f"[2026-12-01 10:00:00.000] WARNING[12] chan_pjsip.c: no route for '{NATIONAL}'\n"
        f"[2026-12-01 10:00:01.000] NOTICE[12] res_stasis.c: call from {OTHER} ended\n"
    )
    (spool / f"{recording}.wav").write_bytes(b"RIFF....WAVE")
    inbox = tmp_path / "spool" / "voicemail" / "acme" / "main" / "INBOX"
    inbox.mkdir(parents=True)
    for n, caller in enumerate((NATIONAL, OTHER)):  # app_voicemail's fallback messages
        (inbox / f"msg000{n}.txt").write_text(
            f'[message]\ncallerid="{name if n == 0 else "Jemand"}" <{caller}>\nduration=7\n'
        )
        (inbox / f"msg000{n}.wav").write_bytes(b"RIFF....WAVE")
    sizes = {p: p.stat().st_size for p in (qlog, messages)}

    files = PbxFiles([qlog, messages], spool, tmp_path / "spool" / "voicemail")
    for store in (VoicemailStore(), CallbackRequests(), files):
        privacy.register_store(store)  # as the composition root and the features do

    async with db.session() as s:
        tenant = Tenant(slug=f"acme-{sfx}", name="Acme")
        s.add(tenant)
        await s.flush()
        contact = await repo.create_contact(
            s,
            tenant.id,
            contact_from_mapping(
                {"display_name": name, "email": email, "numbers": [{"number": RAW}]}, "DE"
            ),
        )
        extra = {"contact_id": str(contact.id), "contact_name": name, "crm_status": "contact"}
        call = Call(
            linkedid=lid, tenant_id=tenant.id, tenant=tenant.slug, did="+493012345",
            caller=E164, caller_raw=NATIONAL, caller_name=name, queue="q-main",
            entered_at=now - timedelta(minutes=2), ended_at=now, outcome="answered",
            extra={**extra, "ivr_path": "main>1"},
        )  # fmt: skip
        customer_leg = Call(
            linkedid=leg, tenant_id=tenant.id, tenant=tenant.slug, did=E164,
            caller="+493012345", entered_at=now, ended_at=now, outcome="answered",
            extra={"callback_leg": "customer"},
        )  # fmt: skip
        other = Call(
            linkedid=other_lid, tenant_id=tenant.id, tenant=tenant.slug, did="+493012345",
            caller=OTHER, entered_at=now, ended_at=now, outcome="answered", extra={},
        )  # fmt: skip
        s.add_all([call, customer_leg, other])
        await s.flush()
        s.add(CallLink(call_id=call.id, contact_id=contact.id))
        s.add_all(
            [
                CallEvent(
                    linkedid=lid, at=now, type="call.updated",
                    data={"caller": E164, "caller_raw": NATIONAL, "caller_name": name,
                          "contact": str(contact.id), "contact_name": name,
                          "crm_status": "contact", "tenant": tenant.slug},
                ),
                CallEvent(
                    linkedid=leg, at=now, type="channel.new",
                    data={"channel": f"Local/{E164}@cc-transfer-0001;1", "tenant": tenant.slug},
                ),
                CallEvent(linkedid=other_lid, at=now, type="call.new", data={"caller": OTHER}),
            ]
        )  # fmt: skip
        for i, line in enumerate(lines):
            p = line.split("|")
            s.add(
                QueueLogRow(
                    pbx="test", line_hash=f"{sfx}{i:04d}",
                    time=datetime.fromtimestamp(int(p[0]), UTC), callid=p[1],
                    queuename=p[2], agent=p[3], event=p[4],
                    **{f"data{n + 1}": v for n, v in enumerate(p[5:10])},
                )
            )  # fmt: skip
        s.add(
            Note(
                tenant_id=tenant.id, contact_id=contact.id, call_id=call.id,
                recipient_name="Chef", recipient_email="chef@example.org", caller_name=name,
                caller_number=RAW, caller_e164=E164, subject=f"Rückruf {name}",
                message=f"Bitte {email} antworten",
            )
        )  # fmt: skip
        endpoint = WebhookEndpoint(tenant_id=tenant.id, url="https://hooks.example/x", secret="s")
        s.add(endpoint)
        await s.flush()
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id, tenant_id=tenant.id, event_id=str(uuid.uuid4()),
            event="call.ended", next_attempt_at=now,
            body=f'{{"data":{{"caller":"{E164}","linkedid":"{lid}"}},"event":"call.ended"}}',
        )  # fmt: skip
        s.add(delivery)
        await s.flush()
        s.add(WebhookAttempt(delivery_id=delivery.id, attempt=1, at=now, error="timeout"))
        s.add(
            Job(
                task="test.remind", payload={"number": E164, "tenant": tenant.slug},
                last_error=f"could not reach {NATIONAL}", key=f"remind:{sfx}",
            )
        )  # fmt: skip
        s.add(
            AuditEntry(
                username="admin", role="admin", action="call.listen", tenant_id=tenant.id,
                target=E164, detail={"caller": NATIONAL},
            )
        )  # fmt: skip
        vm = Voicemail(
            tenant_id=tenant.id, mailbox="main", status="stored", caller_e164=E164,
            caller_name=name, language="de", call_linkedid=lid, recording_name=recording,
            transcript_status="done", transcript_text=f"Hier ist {name}, {RAW}",
        )  # fmt: skip
        s.add(vm)
        await s.flush()
        s.add(VoicemailAudio(voicemail_id=vm.id, data=b"RIFF....WAVE"))
        request = CallbackRequest(
            tenant_id=tenant.id, tenant=tenant.slug, number=E164, queue="q-main",
            language="de", requested_at=now, status="done", linkedid=f"cbr-{sfx}",
            note=f"{name} wants a call",
        )  # fmt: skip
        s.add(request)
        await s.flush()
        s.add(CallbackAttempt(request_id=request.id, attempt=1, lease_token=1, channel_id=leg))
        tenant_id, contact_id = tenant.id, contact.id

    before = dump(pg)
    assert DIGITS in before and name in before and email in before  # the seeding is seen

    async with db.session() as s:
        exported = await privacy.export_contact(s, tenant_id, contact_id)
    for key in ("calls", "call_events", "queue_log", "notes", "webhook_deliveries"):
        assert exported[key], key
    for key in ("voicemails", "callback_requests", "pbx_files"):
        assert exported[key], key
    assert any(NATIONAL in str(r["data"]) for r in exported["queue_log"])
    assert {r["file"] for r in exported["pbx_files"]} == {
        "queue_log",
        "messages",
        "voicemail/acme/main/INBOX/msg0000.txt",
    }

    async with db.session() as s:
        counts = await privacy.erase_contact(s, tenant_id, contact_id)
    assert counts["queue_log_lines_masked"] == 3  # CC_START, ENTERQUEUE, CC_END
    assert counts["pbx_log_lines_masked"] == 4  # the same three in the file, one warning
    assert counts["pbx_recordings_deleted"] == 1
    assert counts["pbx_voicemail_messages_deleted"] == 1

    after = dump(pg)
    needles = {DIGITS, name, email, f"Probe-{sfx}", f"erika.{sfx}"}
    assert [n for n in needles if n in after] == []
    contact_keys = re.compile(rf'"(contact|contact_id)": ?"?{contact_id}\b')
    assert contact_keys.findall(after) == []
    assert OTHER in after  # other callers keep their data

    for path, size in sizes.items():
        text = path.read_text()
        assert DIGITS not in text, path
        assert OTHER in text, path
        assert path.stat().st_size == size  # masked in place: the reader's offset holds
    assert [ln for ln in qlog.read_text().splitlines() if "U-o" in ln] == queue_log_lines(
        other_lid, "U-o", OTHER
    )
    assert list(spool.iterdir()) == []
    assert sorted(f.name for f in inbox.iterdir()) == ["msg0001.txt", "msg0001.wav"]

    client = aioredis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match="*")]
        assert [k for k in keys if DIGITS.encode() in k] == []
    finally:
        await client.aclose()

    async with db.session() as s:  # statistics still count the calls
        assert await s.scalar(select(func.count()).select_from(Call)) == 3
        row = await s.scalar(select(Call).where(Call.linkedid == lid))
        assert row is not None and row.outcome == "answered" and row.caller != E164


def test_the_masked_queue_log_is_read_like_before(tmp_path: Path) -> None:
    """The masked lines still parse (the reconciler reads them again after a cursor reset)."""
    from callcenter.phone.numbers import mask_numbers, number_forms
    from callcenter.records.queue_log import parse_line

    forms = number_forms(E164, [NATIONAL])
    for line in queue_log_lines("L", "U", NATIONAL):
        masked = mask_numbers(line, forms)
        assert len(masked) == len(line) and DIGITS not in masked
        assert parse_line(masked).callid == "U"
    assert asyncio.iscoroutinefunction(PbxFiles([]).erase_traces)
