"""PJSIP sections for trunks and phones, rendered as ``pjsip.conf`` text (pure).

Each object is spelled out in full (no templates), so a generated file means the same
whatever else ``pjsip.conf`` holds. Values are checked by the loaders before they get here;
:func:`render` still refuses a value with a line break, ``;`` or brackets, which would inject
configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lines.transports import Network, TransportConfigError

if TYPE_CHECKING:
    from lines.trunks import Trunk

Settings = tuple[tuple[str, str], ...]

# Media settings every line shares: the PBX (not the phones) relays RTP, NAT-friendly.
_MEDIA: Settings = (
    ("direct_media", "no"),
    ("rtp_symmetric", "yes"),
    ("force_rport", "yes"),
    ("rewrite_contact", "yes"),
    ("dtmf_mode", "rfc4733"),
)


@dataclass(frozen=True, slots=True)
class Section:
    """One ``[name]`` object of pjsip.conf; ``template`` ``"+"`` adds to an object defined
    before (``[transport-udp](+)``)."""

    name: str
    settings: Settings
    template: str = ""


def media(address: str) -> Settings:
    """Bind and announce RTP on ``address`` (loopback sandboxes, one-address hosts)."""
    if not address:
        return ()
    return (("media_address", address), ("bind_rtp_to_media_address", "yes"))


def trunk_sections(trunk: Trunk, password: str, media_address: str = "") -> list[Section]:
    """Endpoint, AOR, auth, registration or identify of one carrier trunk."""
    name = trunk.endpoint
    endpoint: list[tuple[str, str]] = [
        ("type", "endpoint"),
        ("transport", f"transport-{trunk.transport}"),
        ("context", f"cc-trunk-in-{trunk.name}"),
        ("disallow", "all"),
        ("allow", ",".join(trunk.codecs)),
        # Offer our order (wideband first) ahead of the bridged channel's; answer an offer
        # with the one codec we like best of those offered (G.722 over a G.711-first list).
        ("outgoing_call_offer_pref", "local_merge"),
        ("incoming_call_offer_pref", "local_first"),
        ("aors", name),
        *_MEDIA,
        *media(media_address),
        ("trust_id_outbound", "yes"),
        ("language", "de"),
    ]
    sections = []
    if trunk.username:
        endpoint.append(("outbound_auth", f"{name}-auth"))
        endpoint.append(("from_user", trunk.username))
        endpoint.append(("from_domain", trunk.realm or trunk.host))
        auth: list[tuple[str, str]] = [
            ("type", "auth"),
            ("auth_type", "digest"),
            ("username", trunk.username),
            ("password", password),
        ]
        if trunk.realm:
            auth.append(("realm", trunk.realm))
        sections.append(Section(f"{name}-auth", tuple(auth)))
    sections.insert(0, Section(name, tuple(endpoint)))
    server = f"sip:{trunk.host}:{trunk.port}"
    if trunk.transport != "udp":  # the carrier is reached over TCP or TLS, not UDP
        server += f"\\;transport={trunk.transport}"  # "\;": a ";" is a comment otherwise
    sections.append(
        Section(
            name,
            (
                ("type", "aor"),
                ("contact", server),
                ("qualify_frequency", str(trunk.qualify_seconds)),
            ),
        )
    )
    if trunk.mode == "register":
        sections.append(
            Section(
                f"{name}-reg",
                (
                    ("type", "registration"),
                    ("transport", f"transport-{trunk.transport}"),
                    ("outbound_auth", f"{name}-auth"),
                    ("server_uri", server),
                    ("client_uri", f"sip:{trunk.username}@{trunk.realm or trunk.host}"),
                    ("contact_user", trunk.contact_user),
                    ("retry_interval", "30"),
                    ("forbidden_retry_interval", "300"),
                    ("max_retries", "1000000"),
                    ("expiration", "300"),
                    # Calls to our contact carry ;line=…: that identifies the trunk.
                    ("line", "yes"),
                    ("endpoint", name),
                ),
            )
        )
    else:
        nets = trunk.match or (trunk.host,)
        sections.append(
            Section(
                f"{name}-identify",
                (("type", "identify"), ("endpoint", name), *(("match", n) for n in nets)),
            )
        )
    return sections


def transport_sections(
    network: Network, protocols: set[str], sip_host: str, sip_port: int
) -> list[Section]:
    """``transport-udp`` additions (NAT) and the TCP/TLS transports ``protocols`` need."""
    nat = network.nat.settings() if network.nat else ()
    sections = []
    if nat:
        sections.append(Section("transport-udp", nat, template="+"))
    if "tcp" in protocols:
        sections.append(
            Section(
                "transport-tcp",
                (
                    ("type", "transport"),
                    ("protocol", "tcp"),
                    ("bind", f"{sip_host}:{sip_port}"),
                    *nat,
                ),
            )
        )
    if "tls" in protocols:
        tls = network.tls
        if tls is None:  # parse_trunks refuses this; a guard for direct callers
            raise TransportConfigError("a TLS trunk needs the [tls] table")
        settings: list[tuple[str, str]] = [
            ("type", "transport"),
            ("protocol", "tls"),
            ("bind", f"{sip_host}:{tls.port}"),
            ("cert_file", tls.cert_file),
            ("priv_key_file", tls.priv_key_file),
            ("method", tls.method),
            ("verify_server", "yes" if tls.verify_server else "no"),
        ]
        if tls.ca_list_file:
            settings.append(("ca_list_file", tls.ca_list_file))
        sections.append(Section("transport-tls", (*settings, *nat)))
    return sections


def render(sections: Iterable[Section], header: str) -> str:
    """pjsip.conf text for ``sections``; raises ValueError on an unsafe value."""
    lines = [f"; {header}", "; Generated by the callcenter app: do not edit."]
    for section in sections:
        lines.append("")
        suffix = f"({_safe(section.template)})" if section.template else ""
        lines.append(f"[{_safe(section.name)}]{suffix}")
        lines.extend(f"{_safe(k)} = {_safe(v)}" for k, v in section.settings)
    return "\n".join(lines) + "\n"


def _safe(value: str) -> str:
    # "\;" is a literal ";" for Asterisk (URI parameters); a bare ";" starts a comment.
    if any(ch in value.replace("\\;", "") for ch in "\r\n;[]") or value != value.strip():
        raise ValueError(f"unsafe PJSIP configuration value {value!r}")
    return value


def object_names(sections: Sequence[Section]) -> list[str]:
    return [s.name for s in sections]
