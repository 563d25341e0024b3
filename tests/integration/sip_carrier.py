"""A second Asterisk that plays the carrier, for tests over a real PJSIP trunk.

The carrier instance (from ``pbx_factory``) talks SIP and RTP with the system's instance
over loopback. It places calls with the number formats carriers send (``carrier-out``:
the Request-URI user is the extension, ``0`` dials the peer without a user, and
``CC_PCPI`` adds a ``P-Called-Party-ID``), and takes the calls the call center sends out
(``carrier-in``: into the carrier's own Stasis app, so the test sees what arrived).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from callcenter.config import PbxConfig
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.sandbox import Sandbox
from lines.phones import render_phones
from lines.service import GeneratedFiles, LinesService
from lines.trunks import TrunkSet, parse_trunks

__all__ = ["TrunkSet"]

PEER = "callcenter"
REG_USER = "ccuser"

DIALPLAN = """
[carrier-out]
exten => 0,1,Dial(PJSIP/${CC_PEER},30,b(carrier-hdr^s^1))
 same => n,Hangup()
exten => _[+0-9].,1,Dial(PJSIP/${EXTEN}@${CC_PEER},30,b(carrier-hdr^s^1))
 same => n,Hangup()

[carrier-hdr]
exten => s,1,GotoIf($["${CC_PCPI}"=""]?done)
 same => n,Set(PJSIP_HEADER(add,P-Called-Party-ID)=<sip:${CC_PCPI}@carrier.invalid>)
 same => n(done),Return()

[carrier-in]
exten => _[+0-9a-z].,1,Set(CC_PAI=${PJSIP_HEADER(read,P-Asserted-Identity)})
 same => n,Set(CC_CALL_INFO=${PJSIP_HEADER(read,Call-Info)})
 same => n,Stasis(${APP},carrier)
 same => n,Hangup()
"""

# Like many carriers the test carrier lists G.711 first; as answerer it honours the
# offerer's order (so our G.722-first offer wins), as offerer it lists alaw first (so our
# endpoint's own preference must pick G.722).
_MEDIA = """disallow = all
allow = {codecs}
incoming_call_offer_pref = remote_first
direct_media = no
rtp_symmetric = yes
dtmf_mode = rfc4733
media_address = 127.0.0.1
bind_rtp_to_media_address = yes
"""


def ip_peer(system: PbxConfig, codecs: str = "alaw,g722") -> str:
    """The call center as an IP peer of the carrier (identified by address and port)."""
    return f"""
[{PEER}]
type = endpoint
context = carrier-in
aors = {PEER}
{_MEDIA.format(codecs=codecs)}
[{PEER}]
type = aor
contact = sip:127.0.0.1:{system.sip_port}

[{PEER}-identify]
type = identify
endpoint = {PEER}
match = 127.0.0.1:{system.sip_port}
"""


def registrar(password: str, codecs: str = "alaw,g722") -> str:
    """The call center as a registering customer of the carrier (user ``ccuser``)."""
    return f"""
[{REG_USER}]
type = endpoint
context = carrier-in
aors = {REG_USER}
auth = {REG_USER}-auth
{_MEDIA.format(codecs=codecs)}
[{REG_USER}-auth]
type = auth
auth_type = userpass
username = {REG_USER}
password = {password}

[{REG_USER}]
type = aor
max_contacts = 1
remove_existing = yes
"""


def phone_registration(system: PbxConfig, user: str, password: str) -> str:
    """The carrier instance registering to the call center as the phone ``user``."""
    return f"""
{ip_peer(system)}
[phone-auth]
type = auth
auth_type = digest
username = {user}
password = {password}

[phone-reg]
type = registration
outbound_auth = phone-auth
server_uri = sip:127.0.0.1:{system.sip_port}
client_uri = sip:{user}@127.0.0.1:{system.sip_port}
contact_user = {user}
retry_interval = 2
expiration = 120
"""


def start_carrier(carrier: Sandbox, pjsip: str) -> None:
    carrier.write_generated("pjsip-carrier.conf", pjsip)
    carrier.write_generated(
        "extensions-carrier.conf", DIALPLAN.replace("${APP}", carrier.config.ari_app)
    )
    carrier.up()


def ip_trunk(carrier: PbxConfig, **extra: object) -> TrunkSet:
    doc = {
        "name": "carrier",
        "mode": "ip",
        "host": "127.0.0.1",
        "port": carrier.sip_port,
        "match": [f"127.0.0.1:{carrier.sip_port}"],
        "number_format": "national",
        "caller_id": "+49891239999",
        "qualify_seconds": 2,
        **extra,
    }
    return parse_trunks({"trunks": [doc]}, "test-trunks.toml")


def register_trunk(carrier: PbxConfig, **extra: object) -> TrunkSet:
    doc = {
        "name": "carrier",
        "mode": "register",
        "host": "127.0.0.1",
        "port": carrier.sip_port,
        "username": REG_USER,
        "password_secret": "trunk_carrier",
        "qualify_seconds": 2,
        **extra,
    }
    return parse_trunks({"trunks": [doc]}, "test-trunks.toml")


@dataclass
class SystemLines:
    service: LinesService
    ami: AmiClient


@contextlib.asynccontextmanager
async def system_lines(
    pbx: Sandbox, trunks: TrunkSet, secrets: dict[str, str] | None = None
) -> AsyncIterator[SystemLines]:
    """The app's lines service on the system instance, with a real AMI client; the
    instance is left without trunks and phones afterwards (the session shares it)."""
    store = dict(secrets or {})
    ami = AmiClient.from_config(pbx.config)
    files = GeneratedFiles(pbx.instance_dir / "etc")

    def make(t: TrunkSet) -> LinesService:
        return LinesService(
            ami,
            files,
            t,
            store.__getitem__,
            inbound_context=pbx.config.inbound_context,
            media_address="127.0.0.1",
        )

    service = make(trunks)
    service.set_presentation({"pbxtest": "+49891230000"})
    ami.add_event_listener(service.on_event)
    await ami.start()
    try:
        await ami.wait_connected(10.0)
        await service.reload_all()
        yield SystemLines(service, ami)
    finally:
        with contextlib.suppress(Exception):
            empty = make(TrunkSet())
            empty.set_phones(render_phones([]), [])
            await empty.reload_all()
        await ami.close()


def rtp_received(channelstats: str, channel_prefix: str) -> tuple[str, int] | None:
    """(codec, packets received) of the channel starting with ``channel_prefix`` in the
    output of ``pjsip show channelstats`` (Asterisk's own RTP counters); the first
    column is the bridge id when the channel is bridged, so the channel is looked up."""
    for line in channelstats.splitlines():
        parts = line.split()
        for i, part in enumerate(parts[:2]):
            if part.startswith(channel_prefix) and len(parts) > i + 3:
                return parts[i + 2], int(parts[i + 3])
    return None
