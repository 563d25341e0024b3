"""Dialplan for trunks: inbound DID extraction and outbound routes (pure text rendering).

Inbound: each trunk's endpoint lands in ``cc-trunk-in-<name>``. The called number is taken
from the trunk's ``did_from`` sources in order (``P-Called-Party-ID``, the Request-URI, the
``To`` header); the first whose user part is a number wins (a registration trunk's
Request-URI carries our contact user, not a number). Visual separators and a carrier prefix
are removed, and the call continues in the inbound context (``from-trunk``), where the IVR
maps the digits to a tenant DID (:mod:`callcenter.phone.did`).

Outbound: the template's ``[cc-outbound]`` includes ``[cc-outbound-routes]`` generated
here. A number (E.164, already checked by the app's destination policy) is offered to each
outbound trunk in file order; the next one is tried only when a trunk is unavailable or
congested, never after the callee said busy or no answer. The number presented is the
tenant's own (``CC_DID`` of the call, else the tenant's first DID, else an E.164 caller id
the dialler set, else the trunk's ``caller_id``); with ``clip_no_screening`` the original
caller stays in ``From`` and the tenant number goes into ``P-Asserted-Identity``. Every
outgoing leg has the destination policy's hard limit (``CC_MAX_CALL_SECONDS``, Dial ``S``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from lines.trunks import Trunk, TrunkSet

_SOURCE_VALUE = {
    "request-uri": "${CC_RURI}",
    "to": "${PJSIP_PARSE_URI(${PJSIP_HEADER(read,To)},user)}",
    "p-called-party-id": "${PJSIP_PARSE_URI(${PJSIP_HEADER(read,P-Called-Party-ID)},user)}",
}
# Try the next trunk only when this one could not take the call at all.
_TAKEN = '$["${DIALSTATUS}"!="CHANUNAVAIL"&"${DIALSTATUS}"!="CONGESTION"]'
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_E164 = re.compile(r"^\+[1-9][0-9]{4,14}$")


def inbound(trunk: Trunk, inbound_context: str) -> list[str]:
    """``[cc-trunk-in-<name>]``: pick the called number, continue in ``inbound_context``."""
    ctx = f"cc-trunk-in-{trunk.name}"
    out = [
        f"[{ctx}]",
        "exten => _[+0-9A-Za-z*#-].,1,Set(CC_RURI=${EXTEN})",
        " same => n,Goto(s,did)",
        "exten => s,1,Set(CC_RURI=)",
        f" same => n(did),Set(__CC_TRUNK={trunk.name})",
        " same => n,Set(CC_CALLED=)",
    ]
    for source in trunk.did_from:
        value = _SOURCE_VALUE[source]
        guard = "${PJSIP_HEADER(read,P-Called-Party-ID)}" if source == "p-called-party-id" else ""
        cond = f'$["${{CC_CALLED}}"=""&"{guard}"!=""]' if guard else '$["${CC_CALLED}"=""]'
        out.append(f" same => n,ExecIf({cond}?Gosub(cc-trunk-number,s,1({value})))")
        out.append(f" same => n,ExecIf({cond}?Set(CC_CALLED=${{GOSUB_RETVAL}}))")
    if trunk.strip_prefix:
        n = len(trunk.strip_prefix)
        out.append(
            f' same => n,ExecIf($["${{CC_CALLED:0:{n}}}"="{trunk.strip_prefix}"]'
            f"?Set(CC_CALLED=${{CC_CALLED:{n}}}))"
        )
    out += [
        ' same => n,GotoIf($["${CC_CALLED}"=""]?nonumber)',
        f" same => n,Goto({inbound_context},${{CC_CALLED}},1)",
        f" same => n(nonumber),Log(WARNING,trunk {trunk.name}: no called number in the INVITE)",
        " same => n,Hangup(1)",
    ]
    return out


def outbound(trunks: TrunkSet, presentation: Mapping[str, str]) -> list[str]:
    """``[cc-outbound-routes]``, the per-trunk dial subroutines and the tenant numbers.

    ``presentation`` maps tenant slug → the E.164 number its outgoing calls present.
    """
    out = [
        "[cc-outbound-cli]",
        # CC_DID is E.164 once the IVR has resolved it; a raw carrier format is not shown.
        'exten => s,1,Set(CC_OUT_CLI=${IF($["${CC_DID:0:1}"="+"]?${CC_DID}:)})',
    ]
    for slug, number in sorted(presentation.items()):
        if not _SLUG.match(slug) or not _E164.match(number):
            raise ValueError(f"tenant {slug!r}: presentation number {number!r} is not E.164")
        out.append(
            f' same => n,ExecIf($["${{CC_OUT_CLI}}"=""&"${{CC_TENANT}}"="{slug}"]'
            f"?Set(CC_OUT_CLI={number}))"
        )
    # A dialler that set an E.164 caller id itself (callbacks: the tenant's number) keeps it.
    out += [
        ' same => n,ExecIf($["${CC_OUT_CLI}"=""&"${CALLERID(num):0:1}"="+"]'
        "?Set(CC_OUT_CLI=${CALLERID(num)}))",
        " same => n,Return()",
        "",
    ]
    routes = trunks.outbound()
    out += ["[cc-outbound-routes]", "exten => _+X.,1,Gosub(cc-outbound-cli,s,1)"]
    for trunk in routes:
        out.append(f" same => n,Gosub(cc-out-{trunk.name},${{EXTEN}},1)")
        out.append(f" same => n,GotoIf({_TAKEN}?done)")
    out += [
        " same => n,Log(WARNING,cc-outbound: no trunk took ${EXTEN} (${DIALSTATUS}))",
        " same => n,Congestion(5)",
        " same => n(done),Hangup()",
        "",
    ]
    for trunk in routes:
        out += [*_trunk_out(trunk), ""]
    return out


def _trunk_out(trunk: Trunk) -> list[str]:
    number = {
        "e164": "${EXTEN}",
        "international": "00${EXTEN:1}",
        "national": (
            f'${{IF($["${{EXTEN:0:{len(trunk.country_code) + 1}}}"="+{trunk.country_code}"]'
            f"?0${{EXTEN:{len(trunk.country_code) + 1}}}:00${{EXTEN:1}})}}"
        ),
    }[trunk.number_format]
    out = [f"[cc-out-{trunk.name}]", "exten => _+X.,1,Set(LOCAL(CLI)=${CC_OUT_CLI})"]
    if trunk.caller_id:
        out.append(f' same => n,ExecIf($["${{CLI}}"=""]?Set(CLI={trunk.caller_id}))')
    if trunk.clip_no_screening:
        # CLIP no screening: the caller's own number in From, ours asserted in PAI.
        handler = f"b(cc-out-pai^s^1(${{CLI}}@{trunk.realm or trunk.host}))"
    else:
        out.append(' same => n,ExecIf($["${CLI}"!=""]?Set(CALLERID(num)=${CLI}))')
        handler = ""
    out += [
        f" same => n,Dial(PJSIP/{number}@{trunk.endpoint},60,S(${{CC_MAX_CALL_SECONDS}}){handler})",
        " same => n,Return()",
    ]
    return out


_PAI = [
    "[cc-out-pai]",
    "exten => s,1,ExecIf($[${LEN(${CUT(ARG1,@,1)})}>1]"
    "?Set(PJSIP_HEADER(add,P-Asserted-Identity)=<sip:${ARG1}>))",
    " same => n,Return()",
]

_NUMBER = [
    "; ARG1: a user part; returns it as digits (and +) when it is a number, else empty.",
    "[cc-trunk-number]",
    "exten => s,1,Set(LOCAL(V)=${CUT(ARG1,\\;,1)})",
    ' same => n,Return(${IF($[${REGEX("^[-+0-9. ]{3,40}$" ${V})}]?${FILTER(+0123456789,${V})}:)})',
]


def render(trunks: TrunkSet, inbound_context: str, presentation: Mapping[str, str]) -> str:
    """The whole generated ``extensions-lines.conf``."""
    lines = ["; Trunks: inbound DIDs and outbound routes. Generated by the callcenter app."]
    lines += ["", *_NUMBER, "", *_PAI, ""]
    for trunk in trunks.trunks:
        lines += [*inbound(trunk, inbound_context), ""]
    lines += outbound(trunks, presentation)
    return "\n".join(lines) + "\n"


def presentation_numbers(tenants: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """Tenant slug → its first DID (the number its outgoing calls present)."""
    out: dict[str, str] = {}
    for slug, dids in tenants:
        first = next(iter(dids), None)
        if first and _E164.match(first):
            out[slug] = first
    return out
