"""Trunk files: validation with locations, secrets, rendering of PJSIP and dialplan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lines import dialplan, pjsip
from lines.trunks import TrunkConfigError, load_trunks, parse_trunks, resolve_secret

IP = {"name": "telekom", "mode": "ip", "host": "192.0.2.10", "match": ["192.0.2.0/28"]}
REG = {
    "name": "sipgate",
    "mode": "register",
    "host": "sip.example.net",
    "username": "1234567e0",
    "password_secret": "trunk_sipgate",
}


def _one(**changes: Any) -> dict[str, Any]:
    return {"trunks": [{**IP, **changes}]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_one(mode="sip"), "trunk telekom.mode: must be one of register, ip, got 'sip'"),
        (_one(name="Bad Name"), "trunks[0].name: must match"),
        (_one(port=70000), "trunk telekom.port: must be 1-65535"),
        (_one(password="hunter2"), "passwords never go into the file"),
        (_one(did_from=["from"]), "'from': must be one of"),
        (_one(codecs=["speex"]), "unknown codec 'speex'"),
        (_one(caller_id="089 123"), "caller_id: must be E.164"),
        (_one(colour="red"), "trunk telekom.colour: unknown key"),
        (_one(port="5060"), "trunk telekom.port: expected int"),
        (_one(host="a b"), "trunk telekom.host: must be a host name"),
        ({"trunks": [{**REG, "password_secret": ""}]}, "need username and password_secret"),
        ({"trunks": [IP, IP]}, "trunk name 'telekom' is used twice"),
        ({"trunk": []}, "unknown top-level key(s) trunk"),
    ],
)
def test_faults_name_the_trunk_and_key(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(TrunkConfigError) as exc:
        parse_trunks(doc, "trunks.toml")
    assert message in str(exc.value)


def test_example_file_is_valid() -> None:
    path = Path(__file__).parents[2] / "config" / "trunks.example.toml"
    trunks = load_trunks(path)
    assert [t.mode for t in trunks.trunks] == ["register", "ip"]


def test_secret_from_environment_then_store(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps({"trunk_a": "from-store"}))
    assert resolve_secret("trunk_a", tmp_path, {}) == "from-store"
    env = {"CALLCENTER_SECRET_TRUNK_A": "from-env"}
    assert resolve_secret("trunk_a", tmp_path, env) == "from-env"
    with pytest.raises(TrunkConfigError, match="CALLCENTER_SECRET_TRUNK_B"):
        resolve_secret("trunk_b", tmp_path, {})


def test_registration_trunk_sections() -> None:
    trunk = parse_trunks({"trunks": [REG]}).trunks[0]
    text = pjsip.render(pjsip.trunk_sections(trunk, "s3cret", "127.0.0.1"), "test")
    assert "[trunk-sipgate-reg]\ntype = registration" in text
    assert "contact_user = cc-sipgate" in text and "line = yes" in text
    assert "password = s3cret" in text and "allow = g722,opus,alaw,ulaw" in text
    assert "media_address = 127.0.0.1" in text and "identify" not in text


def test_ip_trunk_is_identified_by_its_networks() -> None:
    trunk = parse_trunks({"trunks": [IP]}).trunks[0]
    text = pjsip.render(pjsip.trunk_sections(trunk, ""), "test")
    assert "[trunk-telekom-identify]\ntype = identify\nendpoint = trunk-telekom\n" in text
    assert "match = 192.0.2.0/28" in text and "outbound_auth" not in text


def test_render_refuses_injection() -> None:
    trunk = parse_trunks({"trunks": [REG]}).trunks[0]
    with pytest.raises(ValueError, match="unsafe"):
        pjsip.render(pjsip.trunk_sections(trunk, "x\n[evil]"), "test")


def test_dialplan_routes_and_presentation() -> None:
    trunks = parse_trunks(
        {
            "trunks": [
                {**IP, "number_format": "national", "strip_prefix": "99"},
                {**REG, "clip_no_screening": True, "outbound": True},
            ]
        }
    )
    text = dialplan.render(trunks, "from-trunk", {"mueller": "+49891234560"})
    assert "[cc-trunk-in-telekom]" in text and "[cc-trunk-in-sipgate]" in text
    assert "Set(CC_OUT_CLI=+49891234560)" in text
    assert "Gosub(cc-out-telekom,${EXTEN},1)" in text
    assert text.index("cc-out-telekom,${EXTEN}") < text.index("cc-out-sipgate,${EXTEN}")
    assert '${IF($["${EXTEN:0:3}"="+49"]?0${EXTEN:3}:00${EXTEN:1})}@trunk-telekom' in text
    assert 'ExecIf($["${CC_CALLED:0:2}"="99"]?Set(CC_CALLED=${CC_CALLED:2}))' in text
    assert "b(cc-out-pai^s^1(${CLI}@sip.example.net))" in text
    with pytest.raises(ValueError, match=r"not E\.164"):
        dialplan.render(trunks, "from-trunk", {"x": "089"})
