"""Trunk transports: TCP, TLS and NAT from the trunk file, rendered into pjsip.conf text."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import ConfigError, load_config
from lines import pjsip
from lines.service import TRUNKS_FILE, GeneratedFiles, LinesService
from lines.settings import load_trunk_set
from lines.transports import check_files, chroot_view
from lines.trunks import TrunkConfigError, TrunkSet, parse_trunks

IP = {"name": "telekom", "mode": "ip", "host": "192.0.2.10", "match": ["192.0.2.0/28"]}
TLS = {
    "cert_file": "/etc/asterisk/keys/pbx.crt",
    "priv_key_file": "/etc/asterisk/keys/pbx.key",
    "ca_list_file": "/etc/ssl/certs/ca-certificates.crt",
}
NAT = {
    "external_signaling_address": "203.0.113.10",
    "local_net": ["192.168.10.0/24", "10.0.0.0/8"],
}


class _NoAmi:
    connected = False


def _texts(doc: dict[str, Any]) -> str:
    service = LinesService(
        _NoAmi(),  # type: ignore[arg-type]
        GeneratedFiles(Path("/nonexistent")),
        parse_trunks(doc),
        lambda _name: "",
        inbound_context="from-trunk",
        sip_host="198.51.100.7",
        sip_port=5070,
    )
    return service.trunk_texts()[TRUNKS_FILE]


def test_udp_only_file_has_no_transport_sections() -> None:
    text = _texts({"trunks": [IP]})
    assert "type = transport" not in text and "transport-udp](+)" not in text
    assert "transport = transport-udp" in text and "contact = sip:192.0.2.10:5060\n" in text


def test_tcp_trunk_gets_a_tcp_transport_on_the_sip_port() -> None:
    text = _texts({"trunks": [{**IP, "transport": "tcp"}]})
    assert "[transport-tcp]\ntype = transport\nprotocol = tcp\nbind = 198.51.100.7:5070\n" in text
    assert "transport = transport-tcp" in text
    assert "contact = sip:192.0.2.10:5060\\;transport=tcp" in text


def test_tls_trunk_gets_the_tls_transport_with_certificate_paths() -> None:
    trunk = {**IP, "transport": "tls", "port": 5061}
    text = _texts({"trunks": [trunk], "tls": {**TLS, "port": 5062}})
    assert (
        "[transport-tls]\ntype = transport\nprotocol = tls\nbind = 198.51.100.7:5062\n"
        "cert_file = /etc/asterisk/keys/pbx.crt\npriv_key_file = /etc/asterisk/keys/pbx.key\n"
        "method = tlsv1_2\nverify_server = yes\nca_list_file = /etc/ssl/certs/ca-certificates.crt"
    ) in text
    assert "contact = sip:192.0.2.10:5061\\;transport=tls" in text
    assert "[transport-tcp]" not in text


def test_registration_over_tls_uses_the_tls_transport() -> None:
    reg = {
        "name": "easybell",
        "mode": "register",
        "host": "sip.example.net",
        "port": 5061,
        "transport": "tls",
        "username": "u1",
        "password_secret": "s",
    }
    text = _texts({"trunks": [reg], "tls": TLS})
    section = text.split("[trunk-easybell-reg]")[1]
    assert "transport = transport-tls" in section
    assert "server_uri = sip:sip.example.net:5061\\;transport=tls" in section


def test_nat_goes_onto_every_transport() -> None:
    doc = {"trunks": [{**IP, "transport": "tcp"}], "nat": NAT}
    text = _texts(doc)
    udp = text.split("[transport-udp](+)\n")[1].split("\n\n")[0]
    assert udp.splitlines() == [
        "external_signaling_address = 203.0.113.10",
        "external_media_address = 203.0.113.10",  # defaults to the signalling address
        "local_net = 192.168.10.0/24",
        "local_net = 10.0.0.0/8",
    ]
    tcp = text.split("[transport-tcp]\n")[1].split("\n\n")[0]
    assert "external_media_address = 203.0.113.10" in tcp and "local_net = 10.0.0.0/8" in tcp


def test_nat_with_separate_media_address() -> None:
    nat = {**NAT, "external_media_address": "203.0.113.11"}
    text = _texts({"trunks": [IP], "nat": nat})
    assert "external_signaling_address = 203.0.113.10\nexternal_media_address = 203.0.113.11" in (
        text
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"trunks": [{**IP, "transport": "tls"}]},
            "trunk telekom.transport: 'tls' needs the [tls] table",
        ),
        ({"trunks": [{**IP, "transport": "sctp"}]}, "must be one of udp, tcp, tls"),
        ({"trunks": [IP], "tls": {"cert_file": "/a.pem"}}, "tls.priv_key_file: needed for TLS"),
        ({"trunks": [IP], "tls": {**TLS, "cert_file": "keys/a.crt"}}, "tls.cert_file: must be"),
        ({"trunks": [IP], "tls": {**TLS, "cert_file": "/a/../b"}}, "tls.cert_file: must be"),
        ({"trunks": [IP], "tls": {**TLS, "ca_list_file": ""}}, "tls.ca_list_file: needed to"),
        ({"trunks": [IP], "tls": {**TLS, "port": 0}}, "tls.port: must be 1-65535"),
        ({"trunks": [IP], "tls": {**TLS, "method": "sslv3"}}, "tls.method: must be one of"),
        ({"trunks": [IP], "tls": {**TLS, "pasword": "x"}}, "tls.pasword: unknown key"),
        ({"trunks": [IP], "nat": {"local_net": []}}, "nat.external_signaling_address: needed"),
        (
            {"trunks": [IP], "nat": {**NAT, "local_net": ["192.168.1"]}},
            "nat.local_net: '192.168.1' is not a network",
        ),
        (
            {"trunks": [IP], "nat": {"external_signaling_address": "a b"}},
            "must be an IP address or host name",
        ),
    ],
)
def test_transport_faults_name_table_and_key(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(TrunkConfigError) as exc:
        parse_trunks(doc, "trunks.toml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("trunks.toml: ")


def test_tls_without_verification_needs_no_ca() -> None:
    tls = {**TLS, "ca_list_file": "", "verify_server": False}
    text = _texts({"trunks": [{**IP, "transport": "tls"}], "tls": tls})
    assert "verify_server = no" in text and "ca_list_file" not in text


def _pem(tmp: Path, name: str, block: str) -> None:
    (tmp / name).write_text(f"-----BEGIN {block}-----\nAAAA\n-----END {block}-----\n")


def test_tls_files_are_checked_where_the_pbx_sees_them(tmp_path: Path) -> None:
    keys = tmp_path / "etc" / "asterisk" / "keys"
    keys.mkdir(parents=True)
    _pem(keys, "pbx.crt", "CERTIFICATE")
    _pem(keys, "pbx.key", "RSA PRIVATE KEY")
    tls = parse_trunks({"trunks": [IP], "tls": {**TLS, "verify_server": False, "ca_list_file": ""}})
    assert tls.network.tls is not None
    check_files(tls.network.tls, chroot_view(tmp_path), "trunks.toml")
    (keys / "pbx.key").write_text("not a key\n")
    with pytest.raises(ValueError, match=r"tls.priv_key_file: /etc/asterisk/keys/pbx.key holds no"):
        check_files(tls.network.tls, chroot_view(tmp_path), "trunks.toml")
    (keys / "pbx.crt").unlink()
    with pytest.raises(ValueError, match=r"tls.cert_file: /etc/asterisk/keys/pbx.crt cannot be"):
        check_files(tls.network.tls, chroot_view(tmp_path), "trunks.toml")


def _config(tmp_path: Path, toml: str) -> Any:
    path = tmp_path / "trunks.toml"
    path.write_text(toml)
    config = load_config(None, env={})
    return dataclasses.replace(
        config,
        lines=dataclasses.replace(config.lines, trunks_file=str(path)),
        pbx=dataclasses.replace(config.pbx, root=tmp_path, sip_port=5060),
    )


TLS_FILE = """
[tls]
port = {port}
cert_file = "/keys/pbx.crt"
priv_key_file = "/keys/pbx.key"
verify_server = false
{extra}
[[trunks]]
name = "secure"
mode = "ip"
host = "192.0.2.10"
port = 5061
transport = "tls"
"""


def test_start_up_refuses_missing_certificate_and_shared_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tls.cert_file: /keys/pbx.crt cannot be read"):
        load_trunk_set(_config(tmp_path, TLS_FILE.format(port=5061, extra="")))
    (tmp_path / "keys").mkdir()
    _pem(tmp_path / "keys", "pbx.crt", "CERTIFICATE")
    _pem(tmp_path / "keys", "pbx.key", "PRIVATE KEY")
    loaded = load_trunk_set(_config(tmp_path, TLS_FILE.format(port=5061, extra="")))
    assert loaded.protocols() == {"tls"}
    with pytest.raises(ConfigError, match=r"tls.port: 5060 is pbx.sip_port"):
        load_trunk_set(_config(tmp_path, TLS_FILE.format(port=5060, extra="")))
    unchecked = TLS_FILE.format(port=5061, extra="check_files = false")
    (tmp_path / "keys" / "pbx.crt").unlink()
    assert load_trunk_set(_config(tmp_path, unchecked)).network.tls is not None


def test_template_suffix_is_rendered_and_checked() -> None:
    text = pjsip.render([pjsip.Section("transport-udp", (("local_net", "10.0.0.0/8"),), "+")], "t")
    assert "[transport-udp](+)\nlocal_net = 10.0.0.0/8\n" in text
    with pytest.raises(ValueError, match="unsafe"):
        pjsip.render([pjsip.Section("x", (), "+]\n[evil")], "t")


def test_empty_trunk_set_renders_nothing_extra() -> None:
    assert TrunkSet().protocols() == set()
