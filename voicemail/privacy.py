"""Voicemail in the contact's privacy export and erasure (:mod:`crm.privacy` store).

A message belongs to the contact when it is linked to it or was left from one of its
numbers (for the tenant; every tenant for a shared contact). Export: metadata, transcript
with words, the audio's checksum and where to fetch it. Erasure: the message, its audio and
transcript are deleted in the erasure's transaction, with an audit record of the count;
the PBX's copy of the recording is named to the erasure (the PBX files store deletes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.privacy import current_traces
from voicemail import audit
from voicemail.models import Voicemail
from voicemail.tasks import payload


def _belongs(tenant_id: int | None, contact_id: int, numbers: Sequence[str]) -> Any:
    mine = [Voicemail.contact_id == contact_id]
    if numbers:
        mine.append(Voicemail.caller_e164.in_(list(numbers)))
    clause = or_(*mine)
    return clause if tenant_id is None else clause & (Voicemail.tenant_id == tenant_id)


class VoicemailStore:
    name = "voicemails"

    async def export(
        self, session: AsyncSession, tenant_id: int, contact_id: int, numbers: Sequence[str]
    ) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(Voicemail)
            .where(_belongs(tenant_id, contact_id, numbers))
            .order_by(Voicemail.created_at)
        )
        return [
            {
                **payload(vm),
                "words": vm.transcript_words or [],
                "audio_url": f"/api/voicemail/tenants/{vm.tenant_id}/messages/{vm.id}/audio"
                if vm.status == "stored"
                else None,
            }
            for vm in rows
        ]

    async def erase(
        self,
        session: AsyncSession,
        tenant_id: int | None,
        contact_id: int,
        numbers: Sequence[str],
    ) -> dict[str, int]:
        rows = (
            await session.execute(
                select(Voicemail.id, Voicemail.recording_name).where(
                    _belongs(tenant_id, contact_id, numbers)
                )
            )
        ).all()
        ids = [vm_id for vm_id, _ in rows]
        traces = current_traces()
        if traces is not None:  # the PBX's copy (not fetched yet, or its deletion failed)
            traces.recordings.extend(name for _, name in rows)
        if ids:
            # audio rows go with them (ON DELETE CASCADE)
            await session.execute(delete(Voicemail).where(Voicemail.id.in_(ids)))
            await audit.record(
                session, "voicemail.erase", tenant_id=tenant_id,
                target=f"contact:{contact_id}", detail={"deleted": len(ids)},
            )  # fmt: skip
        return {"voicemails_deleted": len(ids)}
