"""The voicemail e-mail in the tenant's language (babel dates and numbers), audio attached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_decimal

_TEXT = {
    "de": {
        "subject": "Neue Sprachnachricht für {tenant} von {caller}",
        "intro": "{caller} hat am {date} um {time} Uhr eine Nachricht für {tenant} hinterlassen.",
        "unknown": "Ein unbekannter Anrufer",
        "mailbox": "Postfach",
        "duration": "Dauer",
        "seconds": "{n} Sekunden",
        "contact": "Kontakt",
        "number": "Rufnummer",
        "transcript": "Abschrift (automatisch, kann Fehler enthalten)",
        "untranscribed": "Keine Abschrift: {reason}",
        "attached": "Die Aufnahme ist angehängt.",
        "footer": "Diese Nachricht wurde vom Telefonservice entgegengenommen.",
    },
    "en": {
        "subject": "New voicemail for {tenant} from {caller}",
        "intro": "{caller} left a message for {tenant} on {date} at {time}.",
        "unknown": "An unknown caller",
        "mailbox": "Mailbox",
        "duration": "Duration",
        "seconds": "{n} seconds",
        "contact": "Contact",
        "number": "Number",
        "transcript": "Transcript (automatic, may contain errors)",
        "untranscribed": "Not transcribed: {reason}",
        "attached": "The recording is attached.",
        "footer": "This message was taken by the answering service.",
    },
}


@dataclass(frozen=True, slots=True)
class MailFacts:
    voicemail_id: int
    tenant_name: str
    tenant_language: str
    timezone: str
    mailbox: str
    caller_e164: str | None
    caller_name: str | None
    contact_name: str | None
    at: datetime
    duration_seconds: float | None
    transcript: str | None
    untranscribed_reason: str | None
    audio: bytes | None
    audio_type: str = "audio/wav"


def _locale(language: str) -> tuple[str, Locale]:
    key = language.replace("-", "_").split("_", 1)[0].lower()
    try:
        loc = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        loc = Locale.parse("en")
    return (key if key in _TEXT else "en"), loc


def _one_line(value: str) -> str:
    """User-supplied text for a header: no line breaks (header injection)."""
    return " ".join(value.split())


def render(facts: MailFacts, recipients: list[str], sender: str | None) -> EmailMessage:
    key, loc = _locale(facts.tenant_language)
    t = _TEXT[key]
    when = facts.at.astimezone(ZoneInfo(facts.timezone))
    caller = (
        " ".join(
            p
            for p in (
                facts.caller_name or "",
                f"({facts.caller_e164})" if facts.caller_e164 else "",
            )
            if p
        )
        or t["unknown"]
    )
    msg = EmailMessage()
    msg["Subject"] = _one_line(t["subject"].format(tenant=facts.tenant_name, caller=caller))
    msg["To"] = ", ".join(str(Address(addr_spec=r)) for r in recipients)
    if sender:
        msg["From"] = sender
    lines = [
        t["intro"].format(
            caller=caller,
            tenant=facts.tenant_name,
            date=format_date(when.date(), "full", locale=loc),
            time=format_time(when.time(), "short", locale=loc),
        ),
        "",
        f"{t['mailbox']}: {facts.mailbox}",
    ]
    if facts.duration_seconds is not None:
        n = format_decimal(round(facts.duration_seconds, 1), "#,##0.#", locale=loc)
        lines.append(f"{t['duration']}: {t['seconds'].format(n=n)}")
    if facts.caller_e164:
        lines.append(f"{t['number']}: {facts.caller_e164}")
    if facts.contact_name:
        lines.append(f"{t['contact']}: {facts.contact_name}")
    lines.append("")
    if facts.transcript is not None:
        lines += [f"{t['transcript']}:", facts.transcript or "—"]
    else:
        lines.append(t["untranscribed"].format(reason=facts.untranscribed_reason or "?"))
    if facts.audio:
        lines += ["", t["attached"]]
    lines += ["", "-- ", t["footer"]]
    msg.set_content("\n".join(lines) + "\n")
    if facts.audio:
        maintype, subtype = facts.audio_type.split("/", 1)
        msg.add_attachment(
            facts.audio,
            maintype=maintype,
            subtype=subtype,
            filename=f"voicemail-{facts.voicemail_id}.wav",
        )
    return msg
