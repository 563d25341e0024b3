"""The dialplan's own route for calls the app does not take (it is down, or restarting).

``[cc-fallback]`` gets one extension per tenant DID, generated from the tenant files: the
tenant's queue for the number's language while the tenant is open, its voicemail while it is
closed. Opening times are precomputed from :func:`ivr.hours.status_at` (hours, public
holidays, closures, emergency) as local ``YYYYMMDDHHMM`` ranges for :data:`HORIZON_DAYS`
days, so the PBX needs no holiday logic of its own; beyond the horizon the tenant counts as
open (a caller reaches a queue rather than a mailbox). The app regenerates the file at start
and whenever tenants change. Unknown numbers keep the template's ``q-default``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from callcenter.pbx.runtime import PbxInstance
from ivr.hours import status_at
from ivr.tenancy import Tenant

GENERATED_FILE = "extensions-fallback.conf"
CONTEXT = "cc-fallback"
HORIZON_DAYS = 21
_STEP = timedelta(minutes=1)
_SAFE_ZONE = re.compile(r"^[A-Za-z0-9_+/-]+$")


def open_ranges(
    tenant: Tenant, start_utc: datetime, days: int = HORIZON_DAYS
) -> list[tuple[int, int]]:
    """Local ``[from, to)`` minute ranges as ``YYYYMMDDHHMM`` integers when ``tenant`` is
    open, from ``start_utc`` (rounded down to the minute) for ``days`` days."""
    zone = tenant.zone
    t = start_utc.astimezone(UTC).replace(second=0, microsecond=0)
    end = t + timedelta(days=days)
    ranges: list[tuple[int, int]] = []
    opened: int | None = None
    while t < end:
        stamp = int(t.astimezone(zone).strftime("%Y%m%d%H%M"))
        is_open = status_at(tenant, t).is_open
        if is_open and opened is None:
            opened = stamp
        elif not is_open and opened is not None:
            ranges.append((opened, stamp))
            opened = None
        t += _STEP
    if opened is not None:
        ranges.append((opened, int(t.astimezone(zone).strftime("%Y%m%d%H%M"))))
    return ranges


def _queue_for(tenant: Tenant, number: str) -> str | None:
    did = tenant.did(number)
    if did is not None and did.queue:
        return did.queue
    language = (did.language if did is not None else None) or tenant.default_language
    rule = tenant.routing.queue_for(language) or tenant.routing.queue_for(tenant.default_language)
    return rule.name if rule is not None else None


def fallback_dialplan(tenants: Iterable[Tenant], now_utc: datetime) -> str:
    """The ``generated/extensions-fallback.conf`` text."""
    lines = [
        "; Generated from the tenant configuration (ivr.fallback) at "
        f"{now_utc.astimezone(UTC):%Y-%m-%d %H:%M} UTC; do not edit.",
        f"[{CONTEXT}]",
    ]
    hours: list[str] = []
    for tenant in sorted(tenants, key=lambda t: t.slug):
        if not _SAFE_ZONE.match(tenant.timezone):
            continue  # validated by the loader; never write anything odd into the dialplan
        box = tenant.routing.voicemail_box or "s"
        for did in tenant.dids:
            number = did.number
            queue = _queue_for(tenant, number)
            language = did.language or tenant.default_language
            lines += [
                f"exten => {number},1,Set(CC_TENANT={tenant.slug})",
                f" same => n,Set(CC_LANGUAGE={language})",
                f" same => n,Set(CHANNEL(language)={language})",
                " same => n,Set(CC_FALLBACK=1)",
                f" same => n,Gosub(cc-open-{tenant.slug},s,1)",
            ]
            if queue is not None:
                lines.append(f' same => n,GotoIf($["${{GOSUB_RETVAL}}"="1"]?cc-queue,{queue},1)')
            lines += [
                " same => n,Set(CC_REASON=closed)",
                f" same => n,Goto(cc-voicemail,{box},1)",
            ]
        ranges = open_ranges(tenant, now_utc)
        horizon = int(
            (now_utc + timedelta(days=HORIZON_DAYS)).astimezone(tenant.zone).strftime("%Y%m%d%H%M")
        )
        hours += [
            "",
            f"[cc-open-{tenant.slug}]",
            f"exten => s,1,Set(NOW=${{STRFTIME(${{EPOCH}},{tenant.timezone},%Y%m%d%H%M)}})",
            f" same => n,GotoIf($[${{NOW}} >= {horizon}]?open)",
        ]
        hours += [f" same => n,GotoIf($[${{NOW}} >= {a} & ${{NOW}} < {b}]?open)" for a, b in ranges]
        hours += [" same => n,Return(0)", " same => n(open),Return(1)"]
    return "\n".join([*lines, *hours, ""])


def install(
    instance: PbxInstance, tenants: Iterable[Tenant], now_utc: datetime | None = None
) -> None:
    """Write the fallback routes into the instance and reload the dialplan if it runs."""
    text = fallback_dialplan(tenants, now_utc or datetime.now(UTC))
    instance.write_generated(GENERATED_FILE, text)
    if instance.running():
        instance.reload("pbx_config")
