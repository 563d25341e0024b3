"""AmiClient timing and failure paths against a tiny local asyncio server speaking AMI.

The real-Asterisk behaviour is covered in tests/integration/test_ami_client.py; this fake
exists for what a real Asterisk cannot be made to do on demand: stop answering while
keeping the socket open (half-open peer), split frames at awkward bytes, refuse a login.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from callcenter.pbx.ami.client import (
    AmiActionError,
    AmiClient,
    AmiConnectionLost,
    AmiNotConnected,
    backoff_delay,
)
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import AmiParser, HeaderInjectionError


@dataclass
class FakeAmi:
    """Answers Login/Ping/QueueStatus; ``mute`` stops answering without closing."""

    secret: str = "s3cret"
    mute: bool = False
    chunk: int = 0  # >0: write replies in pieces of this many bytes
    actions: list[Message] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    logins: int = 0
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def send(self, writer: asyncio.StreamWriter, text: str) -> None:
        data = text.replace("\n", "\r\n").encode()
        step = self.chunk or len(data)
        for i in range(0, len(data), step):
            writer.write(data[i : i + step])
            await writer.drain()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        parser = AmiParser(expect_greeting=False)
        await self.send(writer, "Asterisk Call Manager/11.0.0\n")
        try:
            while data := await reader.read(4096):
                parser.receive_data(data)
                for msg in parser:
                    assert isinstance(msg, Message)
                    self.actions.append(msg)
                    if not self.mute:
                        await self.answer(writer, msg)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def answer(self, writer: asyncio.StreamWriter, msg: Message) -> None:
        aid = msg["ActionID"]
        name = msg["Action"]
        if name == "Login":
            if msg["Secret"] != self.secret:
                await self.send(
                    writer, f"Response: Error\nActionID: {aid}\nMessage: Authentication failed\n\n"
                )
                return
            self.logins += 1
            await self.send(
                writer,
                f"Response: Success\nActionID: {aid}\n"
                "Message: Authentication accepted\n\n"
                "Event: FullyBooted\nStatus: Fully Booted\n\n",
            )
        elif name == "UserEvent":  # echo back with a broken UTF-8 byte in the value
            await self.send(writer, f"Response: Success\nActionID: {aid}\n\n")
            writer.write(b"Event: UserEvent\r\nUserEvent: M\xfcller\r\n\r\n")
        elif name == "Ping":
            await self.send(writer, f"Response: Success\nActionID: {aid}\nPing: Pong\n\n")
        elif name == "QueueStatus":
            await self.send(
                writer,
                (
                    f"Response: Success\nActionID: {aid}\nEventList: start\n\n"
                    "Event: Newchannel\nChannel: Local/x-1;1\nCallerIDName: Jürgen Müller\n\n"
                    f"Event: QueueParams\nActionID: {aid}\nQueue: support\n\n"
                    f"Event: QueueStatusComplete\nActionID: {aid}\nEventList: Complete\n"
                    "ListItems: 1\n\n"
                ),
            )
        else:
            await self.send(
                writer,
                f"Response: Error\nActionID: {aid}\nMessage: Invalid/unknown command: {name}\n\n",
            )

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    ami = FakeAmi()
    ami.server = await asyncio.start_server(ami.handle, "127.0.0.1", 0)
    yield ami
    ami.drop_all()
    ami.server.close()
    await ami.server.wait_closed()


def client_for(ami: FakeAmi, **kw: float) -> AmiClient:
    opts: dict[str, float] = {
        "ping_interval": 0.2,
        "ping_timeout": 0.3,
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "connect_timeout": 1.0,
    } | kw
    return AmiClient("127.0.0.1", ami.port, "cc", ami.secret, **opts)  # type: ignore[arg-type]


async def test_list_action_split_into_single_bytes_and_events_in_order(fake: FakeAmi) -> None:
    fake.chunk = 1  # every byte its own TCP write: UTF-8 sequences are split
    client = client_for(fake, ping_interval=30)
    seen: list[Message] = []
    client.add_event_listener(seen.append)
    await client.start()
    try:
        await client.wait_connected(5)
        events = await client.send_list_action("QueueStatus", timeout=5)
        assert [e.name for e in events] == ["QueueParams", "QueueStatusComplete"]
        # The interleaved event without the ActionID went to the listeners, intact.
        assert [m.name for m in seen] == ["FullyBooted", "Newchannel"]
        assert seen[1]["CallerIDName"] == "Jürgen Müller"
        assert client.events_received == 2  # what /metrics reports: list answers not counted
        with pytest.raises(AmiActionError, match="Invalid/unknown command: Bogus"):
            await client.send_list_action("Bogus", timeout=5)
        error = await client.send_action("Bogus", timeout=5)
        assert error.name == "Error"
    finally:
        await client.close()


async def test_half_open_peer_is_noticed_by_ping_timeout(fake: FakeAmi) -> None:
    client = client_for(fake)
    reasons: list[str] = []
    client.add_disconnect_listener(reasons.append)
    await client.start()
    try:
        await client.wait_connected(5)
        fake.mute = True  # socket stays open, nothing answers any more
        for _ in range(50):
            if reasons:
                break
            await asyncio.sleep(0.05)
        assert reasons and "no answer to Ping within 0.3 s" in reasons[0]
        assert not client.connected
        assert "Ping" in (client.status.last_error or "")
    finally:
        await client.close()


async def test_fail_fast_while_disconnected_and_pending_fail_on_loss(fake: FakeAmi) -> None:
    client = client_for(fake, ping_interval=30)
    with pytest.raises(AmiNotConnected, match=r"not connected to 127\.0\.0\.1"):
        await client.send_action("Ping")
    await client.start()
    try:
        await client.wait_connected(5)
        fake.mute = True
        pending = asyncio.create_task(client.send_action("Ping", timeout=10))
        await asyncio.sleep(0.1)
        fake.drop_all()
        with pytest.raises(AmiConnectionLost, match="lost before the answer"):
            await pending
    finally:
        await client.close()


async def test_reconnects_and_runs_connect_listeners_each_time(fake: FakeAmi) -> None:
    client = client_for(fake, ping_interval=30)
    resyncs: list[list[Message]] = []

    async def resync() -> None:
        resyncs.append(await client.send_list_action("QueueStatus", timeout=5))

    client.add_connect_listener(resync)
    await client.start()
    try:
        await client.wait_connected(5)
        for _ in range(40):
            if resyncs:
                break
            await asyncio.sleep(0.05)
        fake.drop_all()
        for _ in range(60):
            if len(resyncs) == 2 and client.connected:
                break
            await asyncio.sleep(0.05)
        assert len(resyncs) == 2 and fake.logins == 2
        assert client.status.reconnects == 1 and client.status.connected_since is not None
        assert (await client.send_action("Ping", timeout=5))["Ping"] == "Pong"
    finally:
        await client.close()
    assert not client.connected


async def test_refused_login_is_reported_and_retried(fake: FakeAmi) -> None:
    client = AmiClient(
        "127.0.0.1",
        fake.port,
        "cc",
        "wrong",
        reconnect_min=0.05,
        reconnect_max=0.1,
        connect_timeout=1.0,
    )
    await client.start()
    try:
        for _ in range(40):
            if len([a for a in fake.actions if a["Action"] == "Login"]) >= 2:
                break
            await asyncio.sleep(0.05)
        assert not client.connected
        assert "login as 'cc' refused: Authentication failed" in (client.status.last_error or "")
        with pytest.raises(AmiNotConnected, match="Authentication failed"):
            await client.send_action("Ping")
    finally:
        await client.close()


async def test_header_injection_rejected_before_anything_is_sent(fake: FakeAmi) -> None:
    client = client_for(fake, ping_interval=30)
    await client.start()
    try:
        await client.wait_connected(5)
        before = len(fake.actions)
        with pytest.raises(HeaderInjectionError, match="'CallerID'"):
            await client.send_action("Originate", {"CallerID": "x\r\nAction: Command"})
        await client.send_action("Ping", timeout=5)
        assert [a["Action"] for a in fake.actions[before:]] == ["Ping"]
    finally:
        await client.close()


def test_backoff_grows_exponentially_to_the_cap_with_jitter() -> None:
    assert [backoff_delay(n, 0.2, 5.0, 1.0) for n in range(7)] == [
        0.2,
        0.4,
        0.8,
        1.6,
        3.2,
        5.0,
        5.0,
    ]
    assert backoff_delay(3, 0.2, 5.0, 0.0) == pytest.approx(0.8)
    assert backoff_delay(100, 0.2, 5.0, 0.5) == pytest.approx(3.75)


async def test_invalid_utf8_event_is_delivered_replaced_and_counted(fake: FakeAmi) -> None:
    client = client_for(fake, ping_interval=30)
    seen: list[Message] = []
    client.add_event_listener(seen.append)
    await client.start()
    try:
        await client.wait_connected(5)
        await client.send_action("UserEvent", {"UserEvent": "x"}, timeout=5)
        await client.send_action("Ping", timeout=5)  # the event came before this answer
        users = [m for m in seen if m.name == "UserEvent"]
        assert [m["UserEvent"] for m in users] == ["M\ufffdller"]
        assert client.bad_frames == 1
    finally:
        await client.close()
