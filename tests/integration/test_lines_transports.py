"""Trunk transports on a real Asterisk: the app generates TCP/TLS transports and NAT
addresses, the PBX loads them on a reload, and the TLS trunk reaches a carrier instance
over TLS with the carrier's certificate verified (OPTIONS qualify answered)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.sandbox import Sandbox
from lines.service import GeneratedFiles, LinesService
from lines.transports import check_files, chroot_view
from lines.trunks import parse_trunks
from tests.integration.conftest import SandboxFactory


def _certificate(directory: Path, name: str) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(directory / f"{name}.key"), "-out", str(directory / f"{name}.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    (directory / f"{name}.key").chmod(0o644)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.3)


def _keys(sandbox: Sandbox, certs: Path) -> str:
    """Copy the certificates into the instance; their directory as the PBX sees it."""
    keys = sandbox.instance_dir / "etc" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    for path in certs.iterdir():
        shutil.copy(path, keys / path.name)
    return f"{sandbox.instance_rel}/etc/keys"


async def test_tls_and_tcp_transports_load_and_the_tls_trunk_qualifies(
    pbx_factory: SandboxFactory, tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    await asyncio.to_thread(_certificate, certs, "system")
    await asyncio.to_thread(_certificate, certs, "carrier")
    system, carrier = pbx_factory(), pbx_factory()
    carrier_tls = carrier.config.sip_port + 1
    for sandbox in (system, carrier):
        sandbox.render()
    carrier_keys = _keys(carrier, certs)
    carrier.write_generated(
        "pjsip-carrier.conf",
        f"""[transport-tls]
type = transport
protocol = tls
bind = 127.0.0.1:{carrier_tls}
cert_file = {carrier_keys}/carrier.crt
priv_key_file = {carrier_keys}/carrier.key
method = tlsv1_2
""",
    )
    await asyncio.to_thread(carrier.up)
    await asyncio.to_thread(system.up)  # UDP only until the app adds its transports

    keys = _keys(system, certs)
    trunks = parse_trunks(
        {
            "trunks": [
                {
                    "name": "secure",
                    "mode": "ip",
                    "host": "127.0.0.1",
                    "port": carrier_tls,
                    "transport": "tls",
                    "match": ["127.0.0.1"],
                    "qualify_seconds": 1,
                },
                {"name": "plain", "mode": "ip", "host": "192.0.2.1", "transport": "tcp"},
            ],
            "tls": {
                "port": system.config.sip_port + 1,
                "cert_file": f"{keys}/system.crt",
                "priv_key_file": f"{keys}/system.key",
                "ca_list_file": f"{keys}/carrier.crt",  # trust the carrier's own certificate
                "verify_server": True,
            },
            "nat": {
                "external_signaling_address": "203.0.113.10",
                "external_media_address": "203.0.113.11",
                "local_net": ["127.0.0.0/8"],
            },
        },
        "test-trunks.toml",
    )
    assert trunks.network.tls is not None
    check_files(trunks.network.tls, chroot_view(system.root), "test-trunks.toml")
    ami = AmiClient.from_config(system.config)
    await ami.start()
    try:
        await ami.wait_connected(10.0)
        service = LinesService(
            ami,
            GeneratedFiles(system.instance_dir / "etc"),
            trunks,
            lambda _name: "",
            inbound_context=system.config.inbound_context,
            media_address="127.0.0.1",
            sip_host="127.0.0.1",
            sip_port=system.config.sip_port,
        )
        written = await service.apply()  # writes and reloads res_pjsip over AMI
        assert "pjsip-trunks.conf" in written

        transports = await asyncio.to_thread(system.cli, "pjsip show transports")
        port = system.config.sip_port
        rows = [" ".join(line.split()) for line in transports.splitlines()]
        assert f"Transport: transport-tls tls 0 0 127.0.0.1:{port + 1}" in rows, transports
        assert f"Transport: transport-tcp tcp 0 0 127.0.0.1:{port}" in rows, transports
        udp = await asyncio.to_thread(system.cli, "pjsip show transport transport-udp")
        assert "external_signaling_address  : 203.0.113.10" in udp, udp
        assert "external_media_address      : 203.0.113.11" in udp, udp
        assert "local_net                   : 127.0.0.0/255.0.0.0" in udp, udp

        async def qualified() -> bool:
            out = await asyncio.to_thread(system.cli, "pjsip show contacts")
            return any("trunk-secure" in line and "Avail" in line for line in out.splitlines())

        # Qualify OPTIONS go out over TLS; the carrier's certificate is verified against
        # ca_list_file, so "Avail" means a verified TLS connection carried SIP both ways.
        await _until(qualified, 30, "the TLS trunk's contact qualified (Avail)")
        out = await asyncio.to_thread(system.cli, "pjsip show contacts")
        assert "transport=tls" in out, out
    finally:
        await ami.close()
