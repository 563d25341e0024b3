"""Voicemail on ARI: the ``voicemail`` Stasis purpose runs :class:`VoicemailSession` machines.

The dialplan's ``[cc-voicemail]`` enters ``Stasis(<app>,voicemail,<mailbox>)`` with the
variables the IVR set (``CC_TENANT``, ``CC_LANGUAGE``, ``CC_REASON``, ``CC_CONTACT``). The
recording is an ARI live recording of the caller's channel; its file stays on the PBX as a
*stored recording* until a job fetches it over ARI (:mod:`voicemail.tasks`), so the app
needs no access to Asterisk's filesystem. If this app cannot take the call (unknown tenant,
database down), the channel goes back to the dialplan, whose next step is app_voicemail:
the caller can still leave a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from callcenter.db.session import Database
from callcenter.pbx.ari import playback
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.ari.playback import Play, StopPlayback
from callcenter.pbx.ari.ports import (
    Answering,
    HangingUp,
    Leaving,
    Playing,
    ReadingVars,
    Recorder,
    SettingVars,
)
from callcenter.phone.numbers import normalize_number
from voicemail import store
from voicemail.session import (
    BeginMessage,
    Effect,
    FinishMessage,
    Hangup,
    Recording,
    StartRecording,
    VoicemailSession,
)

log = logging.getLogger(__name__)
PURPOSE = "voicemail"
END_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"})
WIDEBAND = ("g722", "opus", "slin16", "siren14", "siren7", "speex16")
DEFAULT_GREETING = ("sound:vm-intro",)


class VoicemailAri(
    ReadingVars, SettingVars, Answering, Playing, Recorder, Leaving, HangingUp, Protocol
):
    """The ARI requests the voicemail desk needs."""


@dataclass(slots=True)
class _Call:
    session: VoicemailSession
    tenant_id: int
    message: store.NewMessage
    inbox: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


_SLIN = re.compile(r"slin(\d+)")


def recording_format(native: str) -> str:
    """``wav16`` when the channel carries wideband audio (G.722, Opus, signed linear at
    16 kHz or more, e.g. a Local channel's ``slin192``), else ``wav`` (8 kHz)."""
    formats = native.lower()
    if any(codec in formats for codec in WIDEBAND):
        return "wav16"
    return "wav16" if any(int(k) >= 16 for k in _SLIN.findall(formats)) else "wav"


class VoicemailDesk:
    """Takes messages (handler of the ``voicemail`` Stasis purpose)."""

    def __init__(
        self,
        ari: VoicemailAri,
        db: Database,
        *,
        region: str = "DE",
        max_seconds: int = 180,
        silence_seconds: int = 6,
    ) -> None:
        self._ari = ari
        self._db = db
        self._region = region
        self._max_seconds = max_seconds
        self._silence_seconds = silence_seconds
        self._calls: dict[str, _Call] = {}
        self._by_recording: dict[str, str] = {}
        self.taken = 0

    @property
    def active(self) -> int:
        return len(self._calls)

    async def on_stasis_start(self, event: AriEvent) -> None:
        channel = event.channel
        if channel is None:
            return
        box = event.args[1] if len(event.args) > 1 else ""
        try:
            call = await self._prepare(channel.id, box, channel.caller.number, channel.caller.name)
        except (AriError, SQLAlchemyError, OSError) as exc:
            log.warning("voicemail: %s not taken (%s): app_voicemail instead", channel.id, exc)
            with contextlib.suppress(AriError):
                await self._ari.continue_in_dialplan(channel.id)
            return
        if call is None:
            return
        self._calls[channel.id] = call
        self._by_recording[call.session.recording] = channel.id
        call.task = asyncio.get_running_loop().create_task(self._run(channel.id, call))
        call.inbox.put_nowait(("start", ""))

    async def _prepare(self, channel_id: str, box: str, number: str, name: str) -> _Call | None:
        get = self._ari.get_var
        tenant = await get(channel_id, "CC_TENANT") or ""
        language = (
            await get(channel_id, "CC_LANGUAGE")
            or await get(channel_id, "CHANNEL(language)")
            or "de"
        )
        reason = await get(channel_id, "CC_REASON") or ""
        contact = await get(channel_id, "CC_CONTACT") or ""
        linkedid = await get(channel_id, "CHANNEL(linkedid)") or channel_id
        native = await get(channel_id, "CHANNEL(audionativeformat)") or ""
        settings = await store.box_settings(
            self._db, tenant, box or tenant,
            max_seconds=self._max_seconds, silence_seconds=self._silence_seconds,
        )  # fmt: skip
        if settings is None:
            log.warning(
                "voicemail: unknown tenant %r on %s: app_voicemail instead", tenant, channel_id
            )
            await self._ari.continue_in_dialplan(channel_id)
            return None
        greeting: tuple[str, ...] = ()
        if language in settings.greetings:
            greeting = (settings.greetings[language],)
        elif reason != "caller":  # the IVR's voicemail node played its own intro
            greeting = DEFAULT_GREETING
        fmt = recording_format(native)
        recording = f"vm-{tenant}-{uuid.uuid4().hex}"
        session = VoicemailSession(
            channel_id,
            recording,
            language,
            greeting,
            Recording(fmt, settings.max_seconds, settings.silence_seconds, settings.review),
        )
        message = store.NewMessage(
            tenant_slug=tenant,
            mailbox=box or tenant,
            recording=recording,
            language=language,
            caller_e164=normalize_number(number, self._region) if number else None,
            caller_name=name or None,
            contact_id=int(contact) if contact.isdigit() else None,
            linkedid=linkedid,
            channel_id=channel_id,
            format=fmt,
            max_seconds=settings.max_seconds,
        )
        return _Call(session, settings.tenant_id, message)

    async def on_event(self, event: AriEvent) -> None:
        if event.type == "ChannelDtmfReceived":
            self._post(event.channel_id, "dtmf", event.digit)
        elif event.type == "PlaybackFinished" and event.playback is not None:
            target = event.playback.target_uri
            if target.startswith("channel:"):
                self._post(target[len("channel:") :], "finished", event.playback.id)
        elif event.type in ("RecordingFinished", "RecordingFailed") and event.recording:
            rec = event.recording
            kind = "recorded" if event.type == "RecordingFinished" else "record-failed"
            self._post(self._by_recording.get(rec.name), kind, f"{rec.name}\n{rec.cause}")
        elif event.type in END_EVENTS:
            self._post(event.channel_id, "hangup", "")

    async def close(self) -> None:
        for call in list(self._calls.values()):
            if call.task is not None:
                call.task.cancel()

    def _post(self, channel_id: str | None, kind: str, arg: str) -> None:
        call = self._calls.get(channel_id or "")
        if call is not None:
            call.inbox.put_nowait((kind, arg))

    async def _run(self, channel_id: str, call: _Call) -> None:
        session = call.session
        try:
            await self._quietly(self._ari.answer(channel_id))
            while session.state != "done":
                kind, arg = await call.inbox.get()
                name, _, cause = arg.partition("\n")
                if kind == "start":
                    effects = session.start()
                elif kind == "dtmf":
                    effects = session.on_dtmf(arg)
                elif kind == "finished":
                    effects = session.on_playback_finished(arg)
                elif kind == "recorded":
                    effects = session.on_recording_finished(name)
                elif kind == "record-failed":
                    effects = session.on_recording_failed(name, cause)
                else:
                    effects = session.on_hangup()
                if not await self._execute(channel_id, call, effects):
                    await self._execute(channel_id, call, session.on_hangup())
        finally:
            self._calls.pop(channel_id, None)
            self._by_recording.pop(session.recording, None)

    async def _execute(self, channel_id: str, call: _Call, effects: Sequence[Effect]) -> bool:
        """Carry out ``effects``; False once the channel is gone (the caller hung up)."""
        ari = self._ari
        for effect in effects:
            try:
                match effect:
                    case Play() | StopPlayback():
                        await playback.perform(ari, channel_id, effect)
                    case BeginMessage():
                        await store.begin(self._db, call.tenant_id, call.message)
                        self.taken += 1
                    case StartRecording() as rec:
                        await ari.record(
                            channel_id,
                            rec.recording,
                            format=rec.format,
                            max_duration=rec.max_seconds,
                            max_silence=rec.silence_seconds or None,
                            beep=True,
                            terminate_on="#",
                            if_exists="overwrite" if rec.overwrite else "fail",
                        )
                    case FinishMessage(recording=name, reason=reason):
                        await store.finish(self._db, name, reason)
                        log.info("voicemail: %s ended (%s)", name, reason)
                    case Hangup():
                        await self._quietly(ari.hangup(channel_id))
            except AriError as exc:
                if exc.status == 404:
                    return False
                log.warning(
                    "voicemail: %s on %s failed: %s", type(effect).__name__, channel_id, exc
                )
        return True

    async def _quietly(self, request: Any) -> None:
        with contextlib.suppress(AriError):
            await request
