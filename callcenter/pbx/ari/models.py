"""Typed views of the ARI JSON objects the product uses.

Each type keeps the fields we read and the original ``raw`` mapping for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _s(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class CallerId:
    name: str
    number: str

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CallerId:
        data = data or {}
        return cls(name=_s(data, "name"), number=_s(data, "number"))


@dataclass(frozen=True, slots=True)
class DialplanLocation:
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DialplanLocation:
        data = data or {}
        return cls(
            context=_s(data, "context"),
            exten=_s(data, "exten"),
            priority=int(data.get("priority") or 0),
            app_name=_s(data, "app_name"),
            app_data=_s(data, "app_data"),
        )


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    state: str
    caller: CallerId
    connected: CallerId
    dialplan: DialplanLocation
    language: str
    creationtime: str
    channelvars: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Channel:
        return cls(
            id=_s(data, "id"),
            name=_s(data, "name"),
            state=_s(data, "state"),
            caller=CallerId.from_json(data.get("caller")),
            connected=CallerId.from_json(data.get("connected")),
            dialplan=DialplanLocation.from_json(data.get("dialplan")),
            language=_s(data, "language"),
            creationtime=_s(data, "creationtime"),
            channelvars={str(k): str(v) for k, v in (data.get("channelvars") or {}).items()},
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    technology: str
    bridge_type: str
    name: str
    channels: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bridge:
        return cls(
            id=_s(data, "id"),
            technology=_s(data, "technology"),
            bridge_type=_s(data, "bridge_type"),
            name=_s(data, "name"),
            channels=tuple(str(c) for c in data.get("channels") or ()),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Playback:
    id: str
    media_uri: str
    state: str
    language: str
    target_uri: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Playback:
        return cls(
            id=_s(data, "id"),
            media_uri=_s(data, "media_uri"),
            state=_s(data, "state"),
            language=_s(data, "language"),
            target_uri=_s(data, "target_uri"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class LiveRecording:
    name: str
    format: str
    state: str
    target_uri: str
    duration: int | None
    talking_duration: int | None
    silence_duration: int | None
    cause: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LiveRecording:
        def opt(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else int(value)

        return cls(
            name=_s(data, "name"),
            format=_s(data, "format"),
            state=_s(data, "state"),
            target_uri=_s(data, "target_uri"),
            duration=opt("duration"),
            talking_duration=opt("talking_duration"),
            silence_duration=opt("silence_duration"),
            cause=_s(data, "cause"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class StoredRecording:
    name: str
    format: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredRecording:
        return cls(name=_s(data, "name"), format=_s(data, "format"))


@dataclass(frozen=True, slots=True)
class AsteriskInfo:
    version: str
    entity_id: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AsteriskInfo:
        system = data.get("system") or {}
        build = data.get("build") or {}
        return cls(
            version=_s(system, "version") or _s(build, "version"),
            entity_id=_s(system, "entity_id"),
            raw=data,
        )
