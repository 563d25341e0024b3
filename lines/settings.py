"""Where the lines feature finds things, derived from the configuration (pure)."""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

from callcenter.config import Config, ConfigError
from callcenter.pbx.runtime import PbxInstance
from lines.trunks import TrunkConfigError, TrunkSet, load_trunks


def load_trunk_set(config: Config) -> TrunkSet:
    if not config.lines.trunks_file:
        return TrunkSet()
    try:
        return load_trunks(Path(config.lines.trunks_file))
    except TrunkConfigError as exc:
        raise ConfigError("lines.trunks_file", str(exc)) from None


def etc_dir(config: Config) -> Path:
    """Where the PBX reads its configuration (``generated/`` lies below it)."""
    if config.lines.pbx_etc_dir:
        return Path(config.lines.pbx_etc_dir)
    return PbxInstance(config.pbx, config.app.data_dir).instance_dir / "etc"


def media_address(config: Config) -> str:
    if config.lines.media_address:
        return config.lines.media_address
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(config.pbx.host).is_loopback:
            return config.pbx.host
    return ""
