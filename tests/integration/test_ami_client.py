"""AmiClient against the real Asterisk 22 sandbox (session ``pbx`` fixture).

Run: CALLCENTER_TEST_PORT_BASE=21000 CALLCENTER_TEST_INSTANCE=helpera \\
     .venv/bin/pytest -q tests/integration/test_ami_client.py
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Callable

import pytest

from callcenter.config import Config
from callcenter.pbx.ami.client import AmiClient, AmiConnectionLost, AmiNotConnected
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import HeaderInjectionError
from callcenter.pbx.sandbox import Sandbox

pytestmark = pytest.mark.pbx


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition fed by listeners; a TimeoutError names what never happened."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)


async def test_login_ping_and_status(ami: AmiClient) -> None:
    status = ami.status
    assert status.connected and status.connected_since is not None
    assert status.version is not None and status.version[0].isdigit()
    pong = await ami.send_action("Ping")
    assert pong.name == "Success" and pong["Ping"] == "Pong"


async def test_list_actions(ami: AmiClient) -> None:
    queues = await ami.send_list_action("QueueStatus", {"Queue": "q-default"})
    assert queues[0].name == "QueueParams" and queues[0]["Queue"] == "q-default"
    assert queues[-1].name == "QueueStatusComplete"
    summary = await ami.send_list_action("QueueSummary")
    assert summary[-1].name == "QueueSummaryComplete"
    assert any(m.get("Queue") == "q-default" for m in summary)
    channels = await ami.send_list_action("CoreShowChannels")
    assert channels[-1].name == "CoreShowChannelsComplete"
    assert int(channels[-1]["ListItems"]) == len(channels) - 1


async def test_originate_local_channel_events(ami: AmiClient) -> None:
    marker = str(uuid.uuid4().int % 10**8)
    seen: list[Message] = []
    ami.add_event_listener(seen.append)
    response = await ami.send_action(
        "Originate",
        {
            "Channel": "Local/s@caller-script",
            "Application": "Wait",
            "Data": "1",
            "CallerID": f"Jürgen Müller <{marker}>",
            "Variable": "CC_SIM_STEPS=w:1",
            "Async": "true",
        },
    )
    assert response.name == "Success", response

    def linked() -> list[Message]:
        # Newchannel still shows <unknown>: the caller ID arrives with NewCallerid.
        first = next(
            (m for m in seen if m.name == "NewCallerid" and m.get("CallerIDNum") == marker), None
        )
        if first is None:
            return []
        return [m for m in seen if m.get("Linkedid") == first["Linkedid"]]

    await wait_for(
        lambda: sum(m.name == "Hangup" for m in linked()) == 2, 15, "both Local legs hung up"
    )
    events = linked()
    names = {m.name for m in events}
    assert {"Newchannel", "Newexten", "VarSet", "Hangup"} <= names
    assert any(m.name == "Newexten" and m.get("Context") == "caller-script" for m in events)
    assert any(m.get("CallerIDName") == "Jürgen Müller" for m in events)  # UTF-8 intact
    orig = [m for m in seen if m.name == "OriginateResponse" and m.get("CallerIDNum") == marker]
    assert orig and orig[0]["Response"] == "Success"


async def test_command_output(ami: AmiClient) -> None:
    lines = await ami.command("core show channels")
    assert lines[0].startswith("Channel")
    assert lines[-1].endswith("processed")


async def test_header_injection_rejected_before_anything_is_sent(ami: AmiClient) -> None:
    tag = uuid.uuid4().hex
    seen: list[Message] = []
    ami.add_event_listener(seen.append)
    with pytest.raises(HeaderInjectionError, match="'CallerID'"):
        await ami.send_action(
            "Originate",
            {
                "Channel": "Local/s@caller-script",
                "Application": "Wait",
                "Data": "1",
                "CallerID": f"Eve\r\nAction: UserEvent\r\nUserEvent: injected-{tag}",
            },
        )
    await ami.send_action("UserEvent", {"UserEvent": f"probe-{tag}"}, check=True)
    await wait_for(
        lambda: any(m.get("UserEvent") == f"probe-{tag}" for m in seen), 5, "probe UserEvent"
    )
    assert not any(m.get("UserEvent") == f"injected-{tag}" for m in seen)


async def test_reconnect_after_sigkill_with_resync(
    ami: AmiClient, pbx: Sandbox, pbx_config: Config
) -> None:
    resyncs: list[list[Message]] = []
    reasons: list[str] = []

    async def resync() -> None:
        resyncs.append(await ami.send_list_action("QueueStatus"))

    ami.add_connect_listener(resync)
    ami.add_disconnect_listener(reasons.append)
    before = ami.status.reconnects
    # An action still waiting when the PBX dies: freeze Asterisk (SIGSTOP) so that the
    # Ping cannot be answered, then kill it.
    quiet = AmiClient.from_config(pbx_config.pbx, events=False)
    await quiet.start()
    try:
        await quiet.wait_connected(10)
        pid = pbx.read_pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        pending = asyncio.create_task(quiet.send_action("Ping", timeout=60))
        await asyncio.sleep(0.3)
        assert not pending.done()
        await asyncio.to_thread(pbx.kill)
        with pytest.raises(AmiConnectionLost, match="lost before the answer"):
            await pending
    finally:
        await quiet.close()
    await wait_for(lambda: bool(reasons), 10, "disconnect listener called")
    with pytest.raises(AmiNotConnected, match="not connected"):
        await ami.send_action("Ping")
    assert not ami.status.connected and ami.status.last_error
    await asyncio.to_thread(pbx.up)
    await ami.wait_connected(30)
    await wait_for(lambda: bool(resyncs), 20, "resync listener ran after reconnect")
    assert resyncs[-1][-1].name == "QueueStatusComplete"
    assert ami.status.reconnects > before
    assert (await ami.send_action("Ping"))["Ping"] == "Pong"
