"""Outgoing webhooks per tenant: signed JSON, persisted deliveries, retries with backoff.

Format (documented in ``docs/webhooks.md``)::

    POST <endpoint url>
    Content-Type: application/json
    X-Callcenter-Event: call.ringing
    X-Callcenter-Delivery: <delivery id>
    X-Callcenter-Timestamp: <unix seconds>
    X-Callcenter-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>

    {"id": "<event uuid>", "type": "call.ringing", "created_at": "...", "tenant_id": 1,
     "data": {...}}

:func:`enqueue` writes one delivery row per subscribed endpoint, and one job of the
background-job engine (:mod:`jobs`) per row, *in the caller's transaction*, so an event is
queued exactly when the change that caused it commits. :class:`WebhookSender`'s task makes
one attempt per job run (POST, then a row in ``crm_webhook_attempts``); the engine claims
jobs with ``SKIP LOCKED`` and a lease (several app instances or workers never send the same
attempt twice; a crash mid-send only delays a retry) and schedules the retries with the
policy's backoff. Nothing lives only in memory: a restart resumes.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import utcnow
from callcenter.db.session import Database
from callcenter.egress import CircuitBreaker, EgressGuard, ForbiddenAddress, describe_failure
from crm.contact import ValidationError, clean_text
from crm.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from crm.webhook_signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encode_event,
    sign,
)
from jobs import queue as job_queue
from jobs.policy import Backoff
from jobs.worker import JobContext, Permanent, Retry, Task

log = logging.getLogger(__name__)

EVENTS = (
    "call.ringing",
    "call.answered",
    "call.ended",
    "voicemail.received",
    "voicemail.transcribed",
    "note.taken",
)
DELIVER_TASK = "webhooks.deliver"
ADOPT_TASK = "webhooks.adopt"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**(attempt-1)`` capped at ``max_delay``; give up after
    ``max_attempts`` attempts (the default spans about 1 day)."""

    base: float = 10.0
    max_delay: float = 6 * 3600.0
    max_attempts: int = 10

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.base * 2 ** (attempt - 1), self.max_delay))


# ---------------------------------------------------------------- endpoints


def validate_endpoint(data: Mapping[str, Any]) -> tuple[str, list[str], str]:
    """(url, events, description) from a JSON body; raises :class:`ValidationError`."""
    url = clean_text(data.get("url"), "url", 1000)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url", "must be an http:// or https:// URL")
    try:  # literal local addresses at once; names are checked at every connect
        EgressGuard().check_url(url)
    except ForbiddenAddress:
        raise ValidationError(
            "url", "must be a public address (not local, private or link-local)"
        ) from None
    events = data.get("events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ValidationError("events", "must be a list of event names")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ValidationError("events", f"unknown event(s) {unknown}; known: {', '.join(EVENTS)}")
    return url, events, clean_text(data.get("description"), "description", 200)


async def create_endpoint(
    session: AsyncSession,
    tenant_id: int,
    url: str,
    events: Sequence[str] = (),
    *,
    secret: str | None = None,
    description: str = "",
) -> WebhookEndpoint:
    """Register an endpoint; ``events`` empty means all events. A secret is generated if
    none is given (returned once to the API caller, never logged)."""
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id,
        url=url,
        secret=secret or secrets.token_urlsafe(32),
        events=list(events),
        active=True,
        description=description,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def enqueue(
    session: AsyncSession, tenant_id: int, event: str, data: Mapping[str, Any]
) -> list[int]:
    """Queue ``event`` for every active endpoint of the tenant subscribed to it."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.active.is_(True)
        )
    )
    event_id = str(uuid.uuid4())
    body = encode_event(event_id, event, tenant_id, data)
    now = utcnow()
    rows = [
        WebhookDelivery(
            endpoint_id=ep.id,
            tenant_id=tenant_id,
            event_id=event_id,
            event=event,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
        )
        for ep in endpoints
        if not ep.events or event in ep.events
    ]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        await _schedule(session, row.id)
    return [r.id for r in rows]


async def _schedule(session: AsyncSession, delivery_id: int) -> None:
    # Attempts are counted by RetryPolicy; the job's own limit is only a backstop.
    await job_queue.enqueue(
        session, DELIVER_TASK, {"delivery_id": delivery_id}, key=f"webhook:{delivery_id}",
        max_attempts=RetryPolicy().max_attempts + 5,
    )  # fmt: skip


async def emit(db: Database, tenant_id: int, event: str, data: Mapping[str, Any]) -> list[int]:
    """:func:`enqueue` in its own transaction (for callers outside one, e.g. call events)."""
    async with db.session() as s:
        return await enqueue(s, tenant_id, event, data)


# ---------------------------------------------------------------- delivery worker


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    endpoint_id: int
    attempt: int
    url: str
    secret: str
    event: str
    body: str


class WebhookSender:
    """One delivery attempt per job run; :meth:`task` is the ``webhooks.deliver`` task.

    The HTTP session is created on first use in the running loop; :meth:`close` it at the end.
    """

    def __init__(
        self,
        db: Database,
        http: aiohttp.ClientSession | None = None,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        guard: EgressGuard | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """``guard``: where deliveries may go (SSRF, :mod:`callcenter.egress`): public
        addresses only unless told otherwise; a given ``http`` should be ``guard.session()``.
        ``breaker``: stops attempts to an endpoint that keeps failing."""
        self.db = db
        self._http = http
        self._owns_http = http is None
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.guard = guard or EgressGuard()
        self.breaker = breaker or CircuitBreaker()

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = self.guard.session()  # every resolved address checked at connect
        return self._http

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None

    def task(self) -> Task:
        async def run(_ctx: JobContext, data: dict[str, Any]) -> None:
            await self.deliver(int(data["delivery_id"]))

        return Task(
            DELIVER_TASK,
            run,
            max_attempts=self.policy.max_attempts + 5,
            backoff=Backoff(self.policy.base, self.policy.max_delay),
            timeout=self.timeout + 30,
        )

    async def deliver(self, delivery_id: int) -> None:
        """One attempt; raises :class:`Retry` with the policy's delay after a failure that
        has attempts left, :class:`Permanent` once the delivery failed for good."""
        job = await self._claim(delivery_id)
        if job is None:
            return  # delivered, failed or deleted meanwhile (endpoint removed, erasure)
        wait = self.breaker.open_for(job.endpoint_id)
        if wait > 0:  # the endpoint keeps failing: no attempt now, and none counted
            await self._unclaim(job)
            raise Retry("circuit open: the endpoint keeps failing", delay=wait)
        status, error, ms = await self._post(job)
        self.breaker.record(job.endpoint_id, error is None)
        final = await self._record(job, status, error, ms)
        if error is None:
            return
        if final:
            raise Permanent(f"gave up after {job.attempt} attempts: {error}")
        raise Retry(error, delay=self.policy.delay(job.attempt))

    async def _unclaim(self, job: _Job) -> None:
        async with self.db.session() as s:
            delivery = await s.get(WebhookDelivery, job.delivery_id)
            if delivery is not None:
                delivery.attempts -= 1

    async def _claim(self, delivery_id: int) -> _Job | None:
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(WebhookDelivery, WebhookEndpoint)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
                )
            ).first()
            if row is None:
                return None
            delivery, endpoint = row
            delivery.attempts += 1
            return _Job(
                delivery.id,
                endpoint.id,
                delivery.attempts,
                endpoint.url,
                endpoint.secret,
                delivery.event,
                delivery.body,
            )

    async def _post(self, job: _Job) -> tuple[int | None, str | None, float]:
        body = job.body.encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "callcenter-webhooks/1",
            EVENT_HEADER: job.event,
            DELIVERY_HEADER: str(job.delivery_id),
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(job.secret, ts, body),
        }
        started = time.perf_counter()
        try:
            self.guard.check_url(job.url)
            async with self.http.post(
                job.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as resp:
                await resp.read()
                status: int | None = resp.status
                error = None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # Tenants see the category only: transport words per port made a port scanner.
            status, error = None, describe_failure(exc)
            log.info("webhook delivery %s: %s: %s", job.delivery_id, type(exc).__name__, exc)
        return status, error, (time.perf_counter() - started) * 1000

    async def _record(self, job: _Job, status: int | None, error: str | None, ms: float) -> bool:
        """Log the attempt; True when the delivery is finished (delivered or given up)."""
        now = utcnow()
        async with self.db.session() as s:
            s.add(
                WebhookAttempt(
                    delivery_id=job.delivery_id,
                    attempt=job.attempt,
                    at=now,
                    status_code=status,
                    error=error,
                    duration_ms=ms,
                )
            )
            delivery = await s.get(WebhookDelivery, job.delivery_id)
            if delivery is None:  # endpoint deleted meanwhile
                return True
            delivery.last_status_code, delivery.last_error = status, error
            if error is None:
                delivery.status, delivery.finished_at = "delivered", now
            elif job.attempt >= self.policy.max_attempts:
                delivery.status, delivery.finished_at = "failed", now
            else:
                delivery.next_attempt_at = now + timedelta(seconds=self.policy.delay(job.attempt))
            final = delivery.status != "pending"
        if error:
            # URL and status only: the secret and the body never reach the log.
            log.warning(
                "webhook delivery %s attempt %s to %s failed: %s",
                job.delivery_id,
                job.attempt,
                urlsplit(job.url).netloc,
                error,
            )
        return final


async def adopt_pending(db: Database) -> int:
    """Give every pending delivery without a live job one (deliveries queued before the job
    engine existed, or whose job was removed); the key makes this a no-op otherwise."""
    async with db.session() as s:
        ids = list(
            await s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.status == "pending"))
        )
        for delivery_id in ids:
            await _schedule(s, delivery_id)
    return len(ids)


def adopt_task(db: Database) -> Task:
    async def run(_ctx: JobContext, _data: dict[str, Any]) -> None:
        await adopt_pending(db)

    return Task(ADOPT_TASK, run, max_attempts=3)
