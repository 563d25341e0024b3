"""Typed configuration: a TOML file plus ``CALLCENTER__SECTION__KEY`` environment overrides.

Every value is validated at start-up; a bad one raises :class:`ConfigError` naming the key,
where it came from (file or environment variable) and why it was refused. Secrets are never
stored in the repository: empty PBX credentials are generated once into ``data_dir``.

Modules: :mod:`~callcenter.config.sections` (the core's sections),
:mod:`~callcenter.config.feature_sections` (the sections features read),
:mod:`~callcenter.config.root` (:class:`Config`, the generated secrets),
:mod:`~callcenter.config.loader` (file, environment, coercion) and
:mod:`~callcenter.config.errors`. Import from ``callcenter.config``.
"""

from callcenter.config.errors import ConfigError
from callcenter.config.feature_sections import (
    AgentsConfig,
    JobsConfig,
    LinesConfig,
    SmtpConfig,
    VoicemailConfig,
)
from callcenter.config.loader import ENV_PREFIX, load_config
from callcenter.config.root import Config, load_or_create_secrets
from callcenter.config.sections import (
    AppConfig,
    AuthConfig,
    DatabaseConfig,
    PbxConfig,
    RedisConfig,
    TenantsConfig,
)

__all__ = [
    "ENV_PREFIX",
    "AgentsConfig",
    "AppConfig",
    "AuthConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "JobsConfig",
    "LinesConfig",
    "PbxConfig",
    "RedisConfig",
    "SmtpConfig",
    "TenantsConfig",
    "VoicemailConfig",
    "load_config",
    "load_or_create_secrets",
]
