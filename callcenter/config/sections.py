"""The core's configuration sections: app, database, Redis, PBX, tenants, auth."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from callcenter.config.errors import ConfigError, check_choice, check_port, control_host


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
        check_port("app.port", self.port)
        check_choice("app.log_level", self.log_level, ("debug", "info", "warning", "error"))
        check_choice("app.log_format", self.log_format, ("console", "json"))


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    # Embedded default: SQLite under data_dir. Production: postgresql+asyncpg://...
    url: str = ""
    pool_size: int = 10
    # PostgreSQL: sessions one app process runs at once (SQLite: always one); the rest
    # wait their turn, a waited-for one (a callback's offer) first. See callcenter.db.session.
    sessions_at_once: int = 4
    echo: bool = False

    def validate(self) -> None:
        if self.url and not self.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                "database.url",
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
            )
        if self.pool_size < 1:
            raise ConfigError("database.pool_size", "must be at least 1")
        if not 1 <= self.sessions_at_once <= 2 * self.pool_size:
            raise ConfigError(
                "database.sessions_at_once", "must be between 1 and twice database.pool_size"
            )


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
            check_port(f"pbx.{key}", getattr(self, key))
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
        control_host("pbx.host", self.host)
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
        check_choice("auth.cookie_secure", self.cookie_secure, ("auto", "true", "false"))
        if not 0 < self.token_hours <= 24 * 90:
            raise ConfigError("auth.token_hours", "must be between 0 and 2160 (90 days)")
        for proxy in self.proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    "auth.trusted_proxies", f"{proxy!r} is not an address or network"
                ) from None
