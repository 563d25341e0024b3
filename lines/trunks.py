"""Carrier trunks as configuration: a TOML file of ``[[trunks]]``, validated at load.

A trunk is either **registration** based (we REGISTER to the carrier with a user name and
password; the carrier sends calls to the registered contact, usually with the DID in ``To``)
or **IP** based (the carrier knows our address; both sides are identified by IP). Passwords
never appear in the file: ``password_secret`` names an entry of the secrets store
(:func:`resolve_secret`: the environment variable ``CALLCENTER_SECRET_<NAME>`` or
``data_dir/secrets.json``).

Every fault names the file, the trunk and the key, e.g.
``trunks.toml: trunks[0].mode: must be one of register, ip, got 'sip'``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lines.transports import Network, TransportConfigError, parse_network

MODES = ("register", "ip")
# UDP is config/asterisk/pjsip.conf's transport-udp; TCP and TLS are generated (transports.py).
TRANSPORTS = ("udp", "tcp", "tls")
DID_SOURCES = ("p-called-party-id", "request-uri", "to")
NUMBER_FORMATS = ("e164", "international", "national")
# Wideband first: G.722 and Opus help transcription (GUIDE §4, Vosk); G.711 as fallback.
DEFAULT_CODECS = ("g722", "opus", "alaw", "ulaw")
KNOWN_CODECS = frozenset({"g722", "opus", "alaw", "ulaw", "gsm", "g729", "ilbc", "slin16"})
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_HOST = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,253}$")
_USER = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
_SECRET = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_E164 = re.compile(r"^\+[1-9][0-9]{4,14}$")
_CIDR = re.compile(r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$")
_PREFIX = re.compile(r"^\+?[0-9]{0,12}$")


class TrunkConfigError(ValueError):
    """A trunk file or value is invalid; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Trunk:
    """One carrier trunk (see the module docstring and ``config/trunks.example.toml``)."""

    name: str
    mode: str
    host: str
    port: int = 5060
    transport: str = "udp"
    username: str = ""
    password_secret: str = ""
    realm: str = ""
    contact_user: str = ""  # register mode: user part of our registered contact
    match: tuple[str, ...] = ()  # ip mode: carrier addresses/networks (default: host)
    did_from: tuple[str, ...] = DID_SOURCES
    strip_prefix: str = ""  # digits some carriers put before the DID
    country_code: str = "49"
    outbound: bool = True
    number_format: str = "e164"  # how the carrier wants dialled numbers
    caller_id: str = ""  # presented when a call has no tenant number
    clip_no_screening: bool = False  # carrier allows a foreign From (PAI = our number)
    codecs: tuple[str, ...] = DEFAULT_CODECS
    qualify_seconds: int = 30

    @property
    def endpoint(self) -> str:
        """PJSIP endpoint name (``Dial(PJSIP/…@<endpoint>)``)."""
        return f"trunk-{self.name}"


@dataclass(frozen=True, slots=True)
class TrunkSet:
    """The trunks of one installation, in file order (outbound routes try them in order)."""

    trunks: tuple[Trunk, ...] = ()
    source: str = ""
    network: Network = field(default_factory=Network)  # [nat] and [tls] of the file

    def protocols(self) -> set[str]:
        """The transports the trunks use (``udp``, ``tcp``, ``tls``)."""
        return {t.transport for t in self.trunks}

    def outbound(self) -> tuple[Trunk, ...]:
        return tuple(t for t in self.trunks if t.outbound)

    def get(self, name: str) -> Trunk | None:
        return next((t for t in self.trunks if t.name == name), None)


@dataclass(slots=True)
class _Reader:
    where: str
    data: Mapping[str, Any]
    used: set[str] = field(default_factory=set)

    def get(self, key: str, typ: type, default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if (typ is int and isinstance(value, bool)) or not isinstance(value, typ):
            raise TrunkConfigError(f"{self.where}.{key}: expected {typ.__name__}, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise TrunkConfigError(f"{self.where}.{key}: expected a list of strings")
        return tuple(value)

    def fail(self, key: str, reason: str) -> TrunkConfigError:
        return TrunkConfigError(f"{self.where}.{key}: {reason}")


def load_trunks(path: Path) -> TrunkSet:
    """Read and validate a trunk file; a missing path gives :class:`TrunkConfigError`."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrunkConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrunkConfigError(f"{path.name}: invalid TOML: {exc}") from None
    return parse_trunks(doc, path.name)


def parse_trunks(doc: Mapping[str, Any], source: str = "trunks.toml") -> TrunkSet:
    unknown = set(doc) - {"trunks", "nat", "tls"}
    if unknown:
        raise TrunkConfigError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    items = doc.get("trunks", [])
    if not isinstance(items, list):
        raise TrunkConfigError(f"{source}: trunks: expected [[trunks]] tables")
    trunks = [_trunk(_Reader(f"{source}: trunks[{i}]", item)) for i, item in enumerate(items)]
    names = [t.name for t in trunks]
    for name in names:
        if names.count(name) > 1:
            raise TrunkConfigError(f"{source}: trunk name {name!r} is used twice")
    try:
        network = parse_network(doc, source)
    except TransportConfigError as exc:
        raise TrunkConfigError(str(exc)) from None
    for trunk in trunks:
        if trunk.transport == "tls" and network.tls is None:
            raise TrunkConfigError(
                f"{source}: trunk {trunk.name}.transport: 'tls' needs the [tls] table "
                "(cert_file, priv_key_file, ca_list_file)"
            )
    return TrunkSet(tuple(trunks), source, network)


def _trunk(r: _Reader) -> Trunk:
    if not isinstance(r.data, Mapping):
        raise TrunkConfigError(f"{r.where}: expected a table")
    name = r.get("name", str, "")
    if not _NAME.match(name):
        raise r.fail("name", f"must match {_NAME.pattern}, got {name!r}")
    r.where = f"{r.where.split(':')[0]}: trunk {name}"
    mode = _choice(r, "mode", MODES, "")
    host = r.get("host", str, "")
    if not _HOST.match(host):
        raise r.fail("host", f"must be a host name or address, got {host!r}")
    port = r.get("port", int, 5060)
    if not 1 <= port <= 65535:
        raise r.fail("port", f"must be 1-65535, got {port}")
    username, secret = _credentials(r, mode)
    match, did_from, codecs = _lists(r)
    caller_id, strip, country, contact_user = _numbering(r)
    trunk = Trunk(
        name=name,
        mode=mode,
        host=host,
        port=port,
        transport=_choice(r, "transport", TRANSPORTS, "udp"),
        username=username,
        password_secret=secret,
        realm=_plain(r, "realm"),
        contact_user=contact_user or (f"cc-{name}" if mode == "register" else ""),
        match=match,
        did_from=did_from,
        strip_prefix=strip,
        country_code=country,
        outbound=r.get("outbound", bool, True),
        number_format=_choice(r, "number_format", NUMBER_FORMATS, "e164"),
        caller_id=caller_id,
        clip_no_screening=r.get("clip_no_screening", bool, False),
        codecs=codecs or DEFAULT_CODECS,
        qualify_seconds=_bounded(r, "qualify_seconds", 30, 0, 3600),
    )
    extra = set(r.data) - r.used
    if extra:
        raise r.fail(sorted(extra)[0], "unknown key")
    return trunk


def _credentials(r: _Reader, mode: str) -> tuple[str, str]:
    """``username`` and ``password_secret`` (never a password in the file)."""
    username = r.get("username", str, "")
    secret = r.get("password_secret", str, "")
    if username and not _USER.match(username):
        raise r.fail("username", f"must match {_USER.pattern}")
    if secret and not _SECRET.match(secret):
        raise r.fail("password_secret", f"must name a secret ({_SECRET.pattern})")
    if "password" in r.data:
        raise r.fail("password", "passwords never go into the file: use password_secret")
    if mode == "register" and not (username and secret):
        raise r.fail("username", "registration trunks need username and password_secret")
    return username, secret


def _lists(r: _Reader) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``match`` (networks), ``did_from`` (where the called number is read), ``codecs``."""
    match = r.strings("match", ())
    for net in match:
        if not _CIDR.match(net):
            raise r.fail("match", f"{net!r} is not an address or network")
    did_from = r.strings("did_from", DID_SOURCES)
    for source in did_from:
        if source not in DID_SOURCES:
            raise r.fail("did_from", f"{source!r}: must be one of {', '.join(DID_SOURCES)}")
    codecs = tuple(c.lower() for c in r.strings("codecs", DEFAULT_CODECS))
    for codec in codecs:
        if codec not in KNOWN_CODECS:
            raise r.fail("codecs", f"unknown codec {codec!r}")
    return match, did_from, codecs


def _numbering(r: _Reader) -> tuple[str, str, str, str]:
    """``caller_id``, ``strip_prefix``, ``country_code``, ``contact_user``."""
    caller_id = r.get("caller_id", str, "")
    if caller_id and not _E164.match(caller_id):
        raise r.fail("caller_id", f"must be E.164 (+49…), got {caller_id!r}")
    strip = r.get("strip_prefix", str, "")
    if not _PREFIX.match(strip):
        raise r.fail("strip_prefix", f"must be digits, got {strip!r}")
    country = r.get("country_code", str, "49")
    if not re.fullmatch(r"[1-9][0-9]{0,2}", country):
        raise r.fail("country_code", f"must be 1-3 digits without +, got {country!r}")
    contact_user = r.get("contact_user", str, "")
    if contact_user and not _USER.match(contact_user):
        raise r.fail("contact_user", f"must match {_USER.pattern}")
    return caller_id, strip, country, contact_user


def _choice(r: _Reader, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = r.get(key, str, default)
    if value not in allowed:
        raise r.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _plain(r: _Reader, key: str) -> str:
    value = str(r.get(key, str, ""))
    if value and not _HOST.match(value):
        raise r.fail(key, f"must be a plain name, got {value!r}")
    return value


def _bounded(r: _Reader, key: str, default: int, low: int, high: int) -> int:
    value = int(r.get(key, int, default))
    if not low <= value <= high:
        raise r.fail(key, f"must be {low}-{high}, got {value}")
    return value


def resolve_secret(name: str, data_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """A secret by name: ``CALLCENTER_SECRET_<NAME>`` or ``data_dir/secrets.json``."""
    env = os.environ if env is None else env
    value = env.get(f"CALLCENTER_SECRET_{name.upper()}")
    if value:
        return value
    try:
        stored = json.loads((data_dir / "secrets.json").read_text())
    except (OSError, ValueError):
        stored = {}
    value = stored.get(name) if isinstance(stored, dict) else None
    if not isinstance(value, str) or not value:
        raise TrunkConfigError(
            f"secret {name!r} not found: set CALLCENTER_SECRET_{name.upper()} "
            f"or add it to {data_dir / 'secrets.json'}"
        )
    if any(c in value for c in "\r\n;[]"):
        raise TrunkConfigError(f"secret {name!r} contains a character PJSIP cannot take")
    return value
