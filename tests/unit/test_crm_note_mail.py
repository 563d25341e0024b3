"""The telephone-note e-mail keeps one Message-ID per note (re-sends are the same message)."""

from __future__ import annotations

from datetime import UTC, datetime

from crm.models import Note
from crm.notes import render_email


def _note(note_id: int) -> Note:
    return Note(
        id=note_id, tenant_id=1, recipient_name="Anna", recipient_email="anna@x.example",
        caller_name="Kim", caller_number="+4917155530077", subject="Rückruf", message="",
        callback_wanted=True, urgency="normal", language="de",
        taken_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    )  # fmt: skip


def test_a_note_e_mail_has_the_same_message_id_every_time() -> None:
    def render(note_id: int) -> str:
        msg = render_email(
            _note(note_id), tenant_name="T", language="de", timezone="Europe/Berlin",
            sender="Notes <notes@cc.example>",
        )  # fmt: skip
        return str(msg["Message-ID"])

    assert render(41) == render(41) == "<note-41@cc.example>"
    assert render(42) != render(41)
