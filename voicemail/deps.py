"""What the voicemail jobs and routes are given: the database, the bus, the PBX's stored
recordings, the transcriber, the mailer and the CRM's hooks (all but the database optional,
so a worker or a test builds only what it uses)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.bus import Bus
from callcenter.db.session import Database
from voicemail.speech import SpeechModel
from voicemail.transcribe import Transcriber


class Recordings(Protocol):
    """Where the PBX keeps finished recordings (ARI stored recordings)."""

    async def download_recording(self, name: str) -> bytes: ...

    async def delete_recording(self, name: str) -> None: ...


class Mailer(Protocol):
    async def send(self, message: Any) -> None: ...


# (session, tenant id, event, payload): the webhook outbox, in the caller's transaction
WebhookEnqueue = Callable[[AsyncSession, int, str, Mapping[str, Any]], Awaitable[Any]]
# (tenant id, caller E.164) -> (contact id, contact name)
ContactFinder = Callable[[int, str], Awaitable[tuple[int | None, str | None]]]


@dataclass(slots=True)
class VoicemailDeps:
    db: Database
    bus: Bus | None = None
    recordings: Recordings | None = None
    transcriber: Transcriber | None = None
    models: dict[str, SpeechModel] = field(default_factory=dict)
    mailer: Mailer | None = None
    sender: str | None = None
    webhooks: WebhookEnqueue | None = None
    find_contact: ContactFinder | None = None
    contact_name: Callable[[int], Awaitable[str | None]] | None = None
