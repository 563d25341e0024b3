"""Where the lines feature finds things, derived from the configuration (pure)."""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

from callcenter.config import Config, ConfigError
from callcenter.pbx.runtime import PbxInstance
from lines.transports import PathView, TransportConfigError, check_files, chroot_view
from lines.trunks import TrunkConfigError, TrunkSet, load_trunks


def load_trunk_set(config: Config) -> TrunkSet:
    """The trunk file, checked against the PBX: TLS port and certificate files."""
    if not config.lines.trunks_file:
        return TrunkSet()
    try:
        trunks = load_trunks(Path(config.lines.trunks_file))
        tls = trunks.network.tls
        if tls is not None and "tls" in trunks.protocols():
            if tls.port == config.pbx.sip_port:
                raise TrunkConfigError(
                    f"{trunks.source}: tls.port: {tls.port} is pbx.sip_port (UDP/TCP); "
                    "TLS needs a port of its own (usually 5061)"
                )
            if tls.check_files:
                check_files(tls, pbx_path_view(config), trunks.source)
        return trunks
    except (TrunkConfigError, TransportConfigError) as exc:
        raise ConfigError("lines.trunks_file", str(exc)) from None


def pbx_path_view(config: Config) -> PathView:
    """Where the app sees a file the PBX names: below the sandbox's root, or the same path
    when the PBX is not a sandbox of this app (``lines.pbx_etc_dir`` set)."""
    if config.lines.pbx_etc_dir:
        return Path
    return chroot_view(config.pbx.root)


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
