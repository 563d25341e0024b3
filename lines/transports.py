"""SIP transports for trunks: TCP, TLS and a PBX behind NAT, from the trunk file (pure;
rendered by :func:`lines.pjsip.transport_sections`).

``config/asterisk/pjsip.conf`` defines ``transport-udp`` (and ``transport-ws`` for browser
softphones). The trunk file may add, in tables of its own beside ``[[trunks]]``:

- ``[nat]``: the PBX sits behind NAT. ``external_signaling_address`` and
  ``external_media_address`` (what the carrier must reach; both default to each other)
  and ``local_net`` (the networks *not* behind the NAT: phones in the office, the app).
  Rendered onto ``transport-udp`` (``[transport-udp](+)``, applied by a res_pjsip
  reload) and onto the TCP/TLS transports below.
- ``transport = "tcp"`` on a trunk: ``transport-tcp`` is generated, bound on the PBX's SIP
  address and port (TCP and UDP share the port number).
- ``transport = "tls"`` on a trunk: ``transport-tls`` is generated from ``[tls]``:
  ``port`` (default 5061), ``cert_file`` and ``priv_key_file`` (PEM, required),
  ``ca_list_file`` (trusted CAs, needed for ``verify_server``), ``verify_server``
  (default true: the carrier's certificate must check out) and ``method`` (default
  ``tlsv1_2``). Paths are absolute and **as the PBX sees them**; the loader checks them
  through the app's view of the PBX's file system (:func:`check_files`) and names the
  key of any that is missing or not PEM (``check_files = false`` when the app cannot
  see the PBX's files).

New transports appear on a res_pjsip reload; a changed bind address or port of an existing
one needs a PBX restart (Asterisk: "not fully reloadable"). The loader refuses a TLS port
equal to the SIP port.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

TLS_METHODS = ("tlsv1_2", "tlsv1_3", "sslv23")
_PATH = re.compile(r"^/[A-Za-z0-9_./@+-]{1,250}$")


class TransportConfigError(ValueError):
    """A ``[nat]`` or ``[tls]`` value is invalid; the message names the table and key."""


@dataclass(frozen=True, slots=True)
class Nat:
    """The PBX behind NAT: addresses the outside sees and the networks inside."""

    external_signaling_address: str
    external_media_address: str
    local_net: tuple[str, ...] = ()

    def settings(self) -> tuple[tuple[str, str], ...]:
        return (
            ("external_signaling_address", self.external_signaling_address),
            ("external_media_address", self.external_media_address),
            *(("local_net", net) for net in self.local_net),
        )


@dataclass(frozen=True, slots=True)
class Tls:
    """The TLS transport's certificate and peer checks (paths as the PBX sees them)."""

    cert_file: str
    priv_key_file: str
    port: int = 5061
    ca_list_file: str = ""
    verify_server: bool = True
    method: str = "tlsv1_2"
    check_files: bool = True  # false: only the PBX sees the files (checked by nobody)


@dataclass(frozen=True, slots=True)
class Network:
    """The ``[nat]`` and ``[tls]`` tables of a trunk file (both optional)."""

    nat: Nat | None = None
    tls: Tls | None = None


def parse_network(doc: Mapping[str, Any], source: str) -> Network:
    """``[nat]`` and ``[tls]`` of a trunk file; :class:`TransportConfigError` on a fault."""
    return Network(_nat(doc.get("nat"), f"{source}: nat"), _tls(doc.get("tls"), f"{source}: tls"))


def _table(value: Any, where: str, keys: tuple[str, ...]) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TransportConfigError(f"{where}: expected a table")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise TransportConfigError(f"{where}.{unknown[0]}: unknown key")
    return value


def _address(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key, "")
    if value == "":
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError):
        pass
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9.-]{1,253}", value):
        return value  # a host name (Asterisk resolves it at load)
    raise TransportConfigError(f"{where}.{key}: must be an IP address or host name, got {value!r}")


def _nat(value: Any, where: str) -> Nat | None:
    keys = ("external_signaling_address", "external_media_address", "local_net")
    table = _table(value, where, keys)
    if table is None:
        return None
    signaling = _address(table, "external_signaling_address", where)
    media = _address(table, "external_media_address", where)
    if not (signaling or media):
        raise TransportConfigError(
            f"{where}.external_signaling_address: needed (the address the carrier reaches)"
        )
    nets = table.get("local_net", [])
    if not isinstance(nets, list) or not all(isinstance(n, str) for n in nets):
        raise TransportConfigError(f"{where}.local_net: expected a list of networks")
    local: list[str] = []
    for net in nets:
        try:
            local.append(str(ipaddress.ip_network(net, strict=False)))
        except ValueError:
            raise TransportConfigError(f"{where}.local_net: {net!r} is not a network") from None
    return Nat(signaling or media, media or signaling, tuple(local))


def _tls(value: Any, where: str) -> Tls | None:
    keys = (
        "port",
        "cert_file",
        "priv_key_file",
        "ca_list_file",
        "verify_server",
        "method",
        "check_files",
    )
    table = _table(value, where, keys)
    if table is None:
        return None
    for key in ("cert_file", "priv_key_file"):
        if not table.get(key):
            raise TransportConfigError(f"{where}.{key}: needed for TLS (a PEM file)")
    paths = {k: table.get(k, "") for k in ("cert_file", "priv_key_file", "ca_list_file")}
    for key, path in paths.items():
        if path and (not isinstance(path, str) or not _PATH.match(path) or ".." in path):
            raise TransportConfigError(
                f"{where}.{key}: must be an absolute path as the PBX sees it "
                f"(letters, digits, / . _ - @ +), got {path!r}"
            )
    port = table.get("port", 5061)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise TransportConfigError(f"{where}.port: must be 1-65535, got {port!r}")
    verify = table.get("verify_server", True)
    if not isinstance(verify, bool):
        raise TransportConfigError(f"{where}.verify_server: expected true or false")
    if verify and not paths["ca_list_file"]:
        raise TransportConfigError(
            f"{where}.ca_list_file: needed to verify the carrier's certificate "
            "(or set verify_server = false)"
        )
    method = table.get("method", "tlsv1_2")
    if method not in TLS_METHODS:
        raise TransportConfigError(
            f"{where}.method: must be one of {', '.join(TLS_METHODS)}, got {method!r}"
        )
    check = table.get("check_files", True)
    if not isinstance(check, bool):
        raise TransportConfigError(f"{where}.check_files: expected true or false")
    return Tls(
        check_files=check,
        cert_file=paths["cert_file"],
        priv_key_file=paths["priv_key_file"],
        port=port,
        ca_list_file=paths["ca_list_file"],
        verify_server=verify,
        method=method,
    )


PathView = Callable[[str], Path]
"""Where the app finds a file the PBX names (sandbox: below the chroot; else the same)."""

_CERT = re.compile(r"-----BEGIN CERTIFICATE-----")
_KEY = re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----")
_PEM = {
    "cert_file": ("CERTIFICATE", _CERT),
    "priv_key_file": ("PRIVATE KEY", _KEY),
    "ca_list_file": ("CERTIFICATE", _CERT),
}


def check_files(tls: Tls, view: PathView, source: str) -> None:
    """Each TLS file exists and holds the PEM block it should, as the app sees it.

    Asterisk itself only logs "cert_file … is either missing or not readable" and leaves
    the transport out: this turns that into a start-up fault with the key's name."""
    for key, (want, block) in _PEM.items():
        path = getattr(tls, key)
        if not path:
            continue
        local = view(path)
        try:
            head = local.read_text(encoding="ascii", errors="replace")[:200_000]
        except OSError as exc:
            raise TransportConfigError(
                f"{source}: tls.{key}: {path} cannot be read ({exc.strerror}; looked at {local})"
            ) from None
        if not block.search(head):
            raise TransportConfigError(f"{source}: tls.{key}: {path} holds no PEM {want}")


def chroot_view(root: Path) -> PathView:
    """The app's view of a path inside a chroot'ed PBX (the sandbox)."""

    def view(path: str) -> Path:
        return root / PurePosixPath(path).relative_to("/")

    return view
