"""Outgoing e-mail behind a small protocol, with an SMTP implementation.

Feature code depends on :class:`Mailer` only, so tests and deployments choose the transport.
:class:`SmtpMailer` runs the blocking :mod:`smtplib` client in a worker thread: e-mails are
rare (one per telephone note) and this keeps the dependency list short.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from callcenter.config import SmtpConfig


class MailError(RuntimeError):
    """The message could not be handed to the mail server; ``str()`` says why."""


class Mailer(Protocol):
    """Sends one fully built message; raises :class:`MailError` on failure."""

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """SMTP submission (optionally STARTTLS and login). The password is never logged."""

    host: str
    port: int = 25
    sender: str = "callcenter@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False  # implicit TLS from the first byte (SMTPS, port 465)
    timeout: float = 15.0

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host}:{self.port}, sender={self.sender!r})"

    async def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: EmailMessage) -> None:
        try:
            smtp = (
                smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
                if self.ssl
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            )  # fmt: skip
            with smtp:
                if self.starttls and not self.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc


def mailer_from_config(smtp: SmtpConfig) -> SmtpMailer | None:
    """The mailer for the ``[smtp]`` section, or None when no host is configured."""
    if not smtp.host:
        return None
    return SmtpMailer(
        smtp.host,
        smtp.port,
        sender=smtp.sender,
        username=smtp.username or None,
        password=smtp.resolved_password() or None,
        starttls=smtp.security == "starttls",
        ssl=smtp.security == "ssl",
        timeout=smtp.timeout,
    )
