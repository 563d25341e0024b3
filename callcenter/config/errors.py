"""The configuration's error and the checks the sections share."""

from __future__ import annotations

import ipaddress


class ConfigError(ValueError):
    """A configuration value was missing, unknown or malformed."""

    def __init__(self, key: str, reason: str, source: str = "") -> None:
        self.key = key
        self.reason = reason
        self.source = source
        where = f" (from {source})" if source else ""
        super().__init__(f"config key {key!r}{where}: {reason}")


def control_host(key: str, host: str) -> None:
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


def check_port(key: str, value: int) -> None:
    if not 1 <= value <= 65535:
        raise ConfigError(key, f"must be a TCP/UDP port 1-65535, got {value}")


def check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}, got {value!r}")
