"""The wire format of an outgoing webhook: its headers and the signed JSON body (pure).

What a receiver checks (``docs/webhooks.md``): ``X-Callcenter-Signature`` is
``sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`` over the exact body bytes, with
``X-Callcenter-Timestamp`` recent (:func:`verify`). Delivery, retries and the endpoints are
in :mod:`crm.webhooks`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from callcenter.db.models import utcnow

SIGNATURE_HEADER = "X-Callcenter-Signature"
TIMESTAMP_HEADER = "X-Callcenter-Timestamp"
EVENT_HEADER = "X-Callcenter-Event"
DELIVERY_HEADER = "X-Callcenter-Delivery"


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
