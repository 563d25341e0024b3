"""app_voicemail mailboxes generated from the tenant configuration.

Each tenant gets a voicemail context named after its slug, holding its ``voicemail_box``,
every mailbox a voicemail node names, and a box named after the slug (used when a hand-off
names no mailbox). The IVR sends callers to ``cc-voicemail,<box>,1`` with ``CC_TENANT`` set;
the dialplan there records with ``VoiceMail(<box>@<tenant>)`` in the channel language the
IVR set. No language is set per mailbox: app_voicemail would let it override the caller's.

Transcription and delivery are a later feature; the recording lands in the spool
(``spool/voicemail/<tenant>/<box>/INBOX``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from callcenter.pbx.runtime import PbxInstance
from ivr.tenancy import Tenant

GENERATED_FILE = "voicemail-tenants.conf"
_BOX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class VoicemailConfigError(ValueError):
    """A mailbox name cannot be written into voicemail.conf; the message names it."""


def mailboxes(tenant: Tenant) -> list[str]:
    """The tenant's mailboxes in a stable order (slug box first)."""
    boxes = [tenant.slug, tenant.routing.voicemail_box]
    boxes += [n.mailbox or "" for n in tenant.flow.nodes.values() if n.kind == "voicemail"]
    out: list[str] = []
    for box in boxes:
        if box and box not in out:
            if not _BOX.match(box):
                raise VoicemailConfigError(
                    f"{tenant.source}: mailbox {box!r} must be lower-case letters, digits, "
                    "'-' or '_' (it becomes a dialplan extension)"
                )
            out.append(box)
    return out


def voicemail_conf(tenants: Iterable[Tenant]) -> str:
    """The ``generated/voicemail-tenants.conf`` text for ``tenants``."""
    lines = ["; Generated from the tenant configuration (ivr.voicemail); do not edit.", ""]
    for tenant in sorted(tenants, key=lambda t: t.slug):
        name = re.sub(r"[,|;\r\n\[\]=>]", " ", tenant.name).strip()
        lines.append(f"[{tenant.slug}]")
        # No password: the dialplan offers no VoiceMailMain; mailboxes are only written to.
        lines += [f"{box} => ,{name}" for box in mailboxes(tenant)]
        lines.append("")
    return "\n".join(lines)


def install(instance: PbxInstance, tenants: Iterable[Tenant]) -> Path:
    """Write the mailboxes into the instance and reload app_voicemail if it runs."""
    path = instance.write_generated(GENERATED_FILE, voicemail_conf(tenants))
    if instance.running():
        instance.reload("app_voicemail")
    return path


def spool_inbox(instance: PbxInstance, tenant: str, box: str) -> Path:
    """Where app_voicemail puts new messages of ``box@tenant`` (host path)."""
    return instance.instance_dir / "spool" / "voicemail" / tenant / box / "INBOX"
