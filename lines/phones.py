"""Phones as PJSIP endpoints: names, generated credentials and rendering (pure).

Desk phones and softphones (``kind = "sip"``) register over UDP/TCP with G.722 first;
browser softphones (``kind = "webrtc"``) over Asterisk's WebSocket transport with DTLS-SRTP
and Opus first (``webrtc = yes`` turns on ICE, AVPF, rtcp-mux and DTLS with a generated
certificate). Every phone lands in ``cc-phones`` and allows one registration at a time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from lines.pjsip import Section, Settings, media, render

KINDS = ("sip", "webrtc")
NAME = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_LABEL_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\"<>;\[\]\\]")
PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits

_COMMON: Settings = (
    ("context", "cc-phones"),
    ("disallow", "all"),
    ("direct_media", "no"),
    ("rtp_symmetric", "yes"),
    ("force_rport", "yes"),
    ("rewrite_contact", "yes"),
    ("dtmf_mode", "rfc4733"),
    ("language", "de"),
    ("allow_subscribe", "no"),
)


class PhoneError(ValueError):
    """A phone field is invalid; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class PhoneSpec:
    """What the PBX needs of a phone (a row of ``phones``)."""

    name: str
    kind: str
    label: str
    realm: str
    password_digest: str
    auto_answer: bool = True


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise PhoneError("name", f"must match {NAME.pattern} (lower case, e.g. 'desk-anna')")
    if name.startswith("trunk-"):
        raise PhoneError("name", "'trunk-' names are reserved for carrier trunks")
    return name


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise PhoneError("kind", f"must be one of {', '.join(KINDS)}")
    return str(kind)


def check_label(label: object) -> str:
    if not isinstance(label, str) or len(label) > 200 or _LABEL_FORBIDDEN.search(label):
        raise PhoneError("label", "at most 200 characters, no quotes, <, >, ; or brackets")
    return label.strip()


def new_password() -> str:
    """A strong random password (shown once, never stored)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def password_digest(name: str, realm: str, password: str) -> str:
    """PJSIP ``password_digest`` value: ``MD5:`` + MD5 of ``name:realm:password`` (HA1).

    MD5 because it is the one digest every SIP phone and JsSIP speak; HA1 is a credential
    for this realm only, and the file holding it is readable by the PBX alone.
    """
    ha1 = hashlib.md5(f"{name}:{realm}:{password}".encode(), usedforsecurity=False)
    return f"MD5:{ha1.hexdigest()}"


def phone_sections(phone: PhoneSpec, media_address: str = "") -> list[Section]:
    webrtc = phone.kind == "webrtc"
    endpoint: list[tuple[str, str]] = [
        ("type", "endpoint"),
        ("transport", "transport-ws" if webrtc else "transport-udp"),
        *_COMMON,
        ("allow", "opus,g722,alaw,ulaw" if webrtc else "g722,opus,alaw,ulaw"),
        # Our order (wideband first) in offers to the phone, whatever the caller's codec.
        ("outgoing_call_offer_pref", "local_merge"),
        ("incoming_call_offer_pref", "local_first"),
        ("aors", phone.name),
        ("auth", f"{phone.name}-auth"),
        ("callerid", f'"{phone.label or phone.name}" <{phone.name}>'),
        *media(media_address),
    ]
    if phone.auto_answer:  # read by [cc-auto-answer] on console pickups
        endpoint.append(("set_var", "CC_AUTO_ANSWER=1"))
    if webrtc:
        endpoint.append(("webrtc", "yes"))
    return [
        Section(phone.name, tuple(endpoint)),
        Section(
            f"{phone.name}-auth",
            (
                ("type", "auth"),
                ("auth_type", "digest"),
                ("username", phone.name),
                ("realm", phone.realm),
                ("password_digest", phone.password_digest),
            ),
        ),
        Section(
            phone.name,
            (
                ("type", "aor"),
                ("max_contacts", "1"),
                ("remove_existing", "yes"),
                ("qualify_frequency", "30"),
            ),
        ),
    ]


def render_phones(phones: Iterable[PhoneSpec], media_address: str = "") -> str:
    sections = [s for p in phones for s in phone_sections(p, media_address)]
    return render(sections, "Receptionists' phones, from the phones table.")
