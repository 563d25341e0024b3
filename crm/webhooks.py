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

:func:`enqueue` writes one delivery row per subscribed endpoint *in the caller's transaction*,
so an event is queued exactly when the change that caused it commits. :class:`WebhookWorker`
claims due rows (``FOR UPDATE SKIP LOCKED`` plus a lease, so several app instances never
send the same attempt twice and a crash mid-send only delays a retry), POSTs them and records
each attempt in ``crm_webhook_attempts``. Nothing lives only in memory: a restart resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import utcnow
from callcenter.db.session import Database
from crm.contact import ValidationError, clean_text
from crm.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

EVENTS = (
    "call.ringing",
    "call.answered",
    "call.ended",
    "voicemail.received",
    "voicemail.transcribed",
    "note.taken",
)
SIGNATURE_HEADER = "X-Callcenter-Signature"
TIMESTAMP_HEADER = "X-Callcenter-Timestamp"
EVENT_HEADER = "X-Callcenter-Event"
DELIVERY_HEADER = "X-Callcenter-Delivery"


# ---------------------------------------------------------------- signing (pure)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` over ``"{timestamp}.{body}"`` with the endpoint's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> bool:
    """Receiver side: constant-time check of the signature and the timestamp's freshness."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def encode_event(event_id: str, event: str, tenant_id: int, data: Mapping[str, Any]) -> str:
    """The JSON body; compact and key-sorted so it is stable byte for byte."""
    envelope = {
        "id": event_id,
        "type": event,
        "created_at": utcnow().isoformat(),
        "tenant_id": tenant_id,
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


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
    return [r.id for r in rows]


async def emit(db: Database, tenant_id: int, event: str, data: Mapping[str, Any]) -> list[int]:
    """:func:`enqueue` in its own transaction (for callers outside one, e.g. call events)."""
    async with db.session() as s:
        return await enqueue(s, tenant_id, event, data)


# ---------------------------------------------------------------- delivery worker


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    attempt: int
    url: str
    secret: str
    event: str
    body: str


class WebhookWorker:
    """Delivers due webhook rows; run :meth:`run` as a background task."""

    def __init__(
        self,
        db: Database,
        http: aiohttp.ClientSession,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        poll_interval: float = 1.0,
        batch: int = 20,
    ) -> None:
        self.db = db
        self.http = http
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.batch = batch

    async def _claim(self) -> list[_Job]:
        now = utcnow()
        lease = now + timedelta(seconds=self.timeout + 30)
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(WebhookDelivery, WebhookEndpoint)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True, of=WebhookDelivery)
                )
            ).all()
            jobs = []
            for delivery, endpoint in rows:
                delivery.attempts += 1
                delivery.next_attempt_at = lease  # crash mid-send → retried after the lease
                jobs.append(
                    _Job(
                        delivery.id,
                        delivery.attempts,
                        endpoint.url,
                        endpoint.secret,
                        delivery.event,
                        delivery.body,
                    )
                )
        return jobs

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
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        return status, error, (time.perf_counter() - started) * 1000

    async def _record(self, job: _Job, status: int | None, error: str | None, ms: float) -> None:
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
                return
            delivery.last_status_code, delivery.last_error = status, error
            if error is None:
                delivery.status, delivery.finished_at = "delivered", now
            elif job.attempt >= self.policy.max_attempts:
                delivery.status, delivery.finished_at = "failed", now
            else:
                delivery.next_attempt_at = now + timedelta(seconds=self.policy.delay(job.attempt))
        if error:
            # URL and status only: the secret and the body never reach the log.
            log.warning(
                "webhook delivery %s attempt %s to %s failed: %s",
                job.delivery_id,
                job.attempt,
                urlsplit(job.url).netloc,
                error,
            )

    async def run_once(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        jobs = await self._claim()

        async def one(job: _Job) -> None:
            status, error, ms = await self._post(job)
            await self._record(job, status, error, ms)

        await asyncio.gather(*(one(j) for j in jobs))
        return len(jobs)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll forever (or until ``stop`` is set); database errors are logged and retried."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:  # keep the worker alive through DB outages
                log.exception("webhook worker iteration failed")
                busy = 0
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)


# ---------------------------------------------------------------- delivery log


def endpoint_view(ep: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": ep.id,
        "tenant_id": ep.tenant_id,
        "url": ep.url,
        "events": list(ep.events or []),
        "active": ep.active,
        "description": ep.description,
        "created_at": ep.created_at.isoformat(),
    }
    if with_secret:
        view["secret"] = ep.secret
    return view


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


async def delivery_log(
    session: AsyncSession, tenant_id: int, *, endpoint_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Recent deliveries of a tenant with every attempt (newest first)."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    deliveries = list(await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))
    attempts: dict[int, list[dict[str, Any]]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for a in rows:
            attempts[a.delivery_id].append(
                {
                    "attempt": a.attempt,
                    "at": a.at.isoformat(),
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 1),
                }
            )
    return [
        {
            "id": d.id,
            "endpoint_id": d.endpoint_id,
            "event_id": d.event_id,
            "event": d.event,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": _iso(d.next_attempt_at) if d.status == "pending" else None,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "created_at": _iso(d.created_at),
            "finished_at": _iso(d.finished_at),
            "log": attempts[d.id],
        }
        for d in deliveries
    ]
