"""The whole configuration (one field per section) and the generated PBX secrets."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.config.feature_sections import (
    AgentsConfig,
    JobsConfig,
    LinesConfig,
    SmtpConfig,
    VoicemailConfig,
)
from callcenter.config.sections import (
    AppConfig,
    AuthConfig,
    DatabaseConfig,
    PbxConfig,
    RedisConfig,
    TenantsConfig,
)


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
