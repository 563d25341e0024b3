"""Failure modes of the two existing Python AMI clients, measured (docs/decisions/0001).

    python -m bench.ami_peer_faults [--real HOST:PORT:USER:SECRET]

Each check runs the library unmodified against a small local AMI server whose behaviour
is scripted (answer, go silent with the socket open, close after login), or against a
real Asterisk with ``--real`` for the idle-timeout check, and prints what happened with
times. The same situations are run through our AmiClient for comparison. Not part of
``python -m bench`` (it measures behaviour, not speed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.pbx.ami.client import AmiClient, AmiNotConnected
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import AmiParser, HeaderInjectionError, encode_action

SKIP_BY_DEFAULT = True  # measures behaviour, not speed: run it by name


@dataclass
class ScriptedAmi:
    """A local AMI server. ``mode``: "answer", "mute_after_login", "close_after_login"."""

    mode: str = "answer"
    logins: int = 0
    pings: int = 0
    connections: int = 0
    server: asyncio.Server | None = None
    loop: asyncio.AbstractEventLoop | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        parser = AmiParser(expect_greeting=False)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        logged_in = False
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                parser.receive_data(data)
                for msg in parser:
                    if not isinstance(msg, Message):
                        continue
                    action = (msg.get("Action") or "").lower()
                    aid = msg.get("ActionID") or ""
                    self.logins += action == "login"
                    self.pings += action == "ping"
                    if logged_in and self.mode == "mute_after_login":
                        continue
                    writer.write(
                        f"Response: Success\r\nActionID: {aid}\r\nMessage: ok\r\n\r\n".encode()
                    )
                    if action == "login":
                        logged_in = True
                        writer.write(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
                        if self.mode == "close_after_login":
                            await writer.drain()
                            writer.close()
                            return
        writer.close()


def start_server_thread(ami: ScriptedAmi) -> threading.Thread:
    """Run the scripted server in its own loop/thread (asterisk-ami is a blocking client)."""
    ready = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        ami.loop = loop

        async def main() -> None:
            ami.server = await asyncio.start_server(ami.handle, "127.0.0.1", 0)
            ready.set()
            await asyncio.Event().wait()

        with contextlib.suppress(RuntimeError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    return thread


def report(name: str, finding: str) -> None:
    print(f"- {name}: {finding}", flush=True)


# -- asterisk-ami -----------------------------------------------------------------------------


def asterisk_ami_idle_timeout(host: str, port: int, user: str, secret: str, timeout: float) -> None:
    from asterisk.ami import AMIClient, SimpleAction

    client = AMIClient(address=host, port=port, timeout=timeout)
    login = client.login(username=user, secret=secret).response
    alive0 = client._thread.is_alive()
    time.sleep(timeout + 1.0)  # an idle line: no event, no answer
    alive1 = client._thread.is_alive()
    t0 = time.monotonic()
    pong = client.send_action(SimpleAction("Ping")).response
    waited = time.monotonic() - t0
    report(
        "asterisk-ami idle socket timeout",
        f"login {'ok' if login and not login.is_error() else login}; listener thread alive "
        f"{alive0} -> {alive1} after {timeout + 1.0:.1f} s idle (timeout={timeout}); "
        f"Ping answered: {pong is not None} (waited {waited:.2f} s); "
        f"no disconnect notice is needed to break it, the socket itself is still open",
    )
    with contextlib.suppress(Exception):
        client._socket.close()


def asterisk_ami_autoreconnect(timeout: float, delay: float, watch: float) -> None:
    from asterisk.ami import AMIClient, AutoReconnect

    ami = ScriptedAmi()
    start_server_thread(ami)
    client = AMIClient(address="127.0.0.1", port=ami.port, timeout=timeout)
    errors: list[str] = []
    reconnected: list[float] = []
    AutoReconnect(
        client,
        delay=delay,
        on_disconnect=lambda c, why: errors.append(type(why).__name__),
        on_reconnect=lambda c, r: reconnected.append(time.monotonic()),
    )
    _ = client.login(username="u", secret="s").response
    time.sleep(timeout + 0.5)  # the listener thread dies on its socket timeout
    assert ami.loop is not None

    def restart() -> None:  # the PBX goes away: every connection is closed
        for writer in ami.writers:
            writer.close()

    ami.loop.call_soon_threadsafe(restart)
    time.sleep(watch)
    kinds = sorted(set(errors))
    report(
        "asterisk-ami AutoReconnect after idle timeout + PBX restart",
        f"timeout={timeout} s, delay={delay} s: in {watch:.0f} s after the restart "
        f"{ami.connections} TCP connection(s) in total, {len(errors)} failed pings "
        f"({', '.join(kinds) or 'none'}), reconnects: {len(reconnected)} "
        f"(python-ami #16/#31: finished is never set, login() reuses the dead socket)",
    )
    with contextlib.suppress(Exception):
        client._socket.close()


# -- panoramisk -------------------------------------------------------------------------------


async def panoramisk_half_open(watch: float) -> None:
    from panoramisk import Manager

    ami = ScriptedAmi(mode="mute_after_login")
    start_server_thread(ami)
    lost: list[float] = []
    manager = Manager(
        host="127.0.0.1",
        port=ami.port,
        username="u",
        secret="s",
        ping_delay=1,
        ping_interval=1,
        reconnect_timeout=1,
        loop=asyncio.get_running_loop(),
        on_disconnect=lambda m, exc: lost.append(time.monotonic()),
    )
    manager.connect()
    await asyncio.sleep(watch)
    report(
        "panoramisk on a half-open peer (socket open, no answers)",
        f"in {watch:.0f} s with ping_interval=1: {ami.pings} Pings sent, none answered, "
        f"disconnects noticed: {len(lost)}, reconnects: {ami.connections - 1}, "
        f"still 'connected': {manager._connected}",
    )
    manager.close()

    ours = ScriptedAmi(mode="mute_after_login")
    start_server_thread(ours)
    client = AmiClient(
        "127.0.0.1",
        ours.port,
        "u",
        "s",
        ping_interval=1.0,
        ping_timeout=1.0,
        reconnect_min=0.5,
        reconnect_max=1.0,
    )
    noticed: list[float] = []
    gone = asyncio.Event()

    def on_disconnect(reason: str) -> None:
        noticed.append(time.monotonic())
        gone.set()

    client.add_disconnect_listener(on_disconnect)
    await client.start()
    await client.wait_connected(5)
    t0 = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(watch):
            await gone.wait()
    report(
        "AmiClient on the same half-open peer",
        f"disconnect noticed after {noticed[0] - t0:.2f} s (ping_interval 1 s + "
        f"ping_timeout 1 s), reason: {client.status.last_error}"
        if noticed
        else "not noticed",
    )
    await client.close()


async def panoramisk_send_while_disconnected(watch: float) -> None:
    from panoramisk import Manager

    ami = ScriptedAmi(mode="close_after_login")
    start_server_thread(ami)
    manager = Manager(
        host="127.0.0.1",
        port=ami.port,
        username="u",
        secret="s",
        ping_delay=60,
        ping_interval=60,
        reconnect_timeout=1,
        loop=asyncio.get_running_loop(),
    )
    manager.connect()
    await asyncio.sleep(0.3)  # logged in, then the server closed the connection
    ami.mode = "answer"  # the next connection works normally
    future = manager.send_action({"Action": "Ping"})
    await asyncio.sleep(watch)
    report(
        "panoramisk action sent while disconnected",
        f"Ping future done after {watch:.0f} s: {future.done()} although the manager "
        f"reconnected ({ami.connections} connections, {ami.logins} logins)",
    )
    manager.close()
    future.cancel()

    ours = ScriptedAmi(mode="close_after_login")
    start_server_thread(ours)
    client = AmiClient("127.0.0.1", ours.port, "u", "s", reconnect_min=5, reconnect_max=5)
    await client.start()
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    try:
        await client.send_action("Ping")
        outcome = "sent?!"
    except AmiNotConnected as exc:
        outcome = f"AmiNotConnected after {(time.perf_counter() - t0) * 1e6:.0f} µs: {exc}"
    report("AmiClient action sent while disconnected", outcome)
    await client.close()


def split_utf8() -> None:
    from asterisk.ami import Event
    from panoramisk.ami_protocol import AMIProtocol

    data = "Event: Newchannel\r\nCallerIDName: Jürgen Müller\r\n\r\n".encode()
    cut = data.index("ü".encode()) + 1
    seen: list[Any] = []

    class Factory:
        def dispatch(self, message: Any) -> None:
            seen.append(message)

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    proto = AMIProtocol()
    proto.connection_made(Transport())
    proto.factory = Factory()
    proto.encoding = "utf8"
    proto.data_received(data[:cut])
    proto.data_received(data[cut:])
    pano = seen[0]["CallerIDName"] if seen else None

    parser = AmiParser(expect_greeting=False)
    parser.receive_data(data[:cut])
    parser.receive_data(data[cut:])
    ours = next(iter(parser))
    assert isinstance(ours, Message)
    # asterisk-ami joins bytes per frame before decoding, so its own reader keeps it.
    event = Event.read(data.decode().rstrip("\r\n"))
    report(
        "UTF-8 character split across two TCP reads",
        f"panoramisk {pano!r}, ours {ours['CallerIDName']!r}, "
        f"asterisk-ami (decodes per frame) {event['CallerIDName']!r}",
    )


def injection() -> None:
    from asterisk.ami import SimpleAction
    from panoramisk.actions import Action

    evil = "Eve\r\nAction: Command\r\nCommand: core stop now"

    async def build() -> str:  # panoramisk's Action needs a running loop for its future
        return str(Action({"Action": "Originate", "CallerID": evil}))

    pano = asyncio.run(build())
    aami = str(SimpleAction("Originate", CallerID=evil))
    try:
        encode_action("Originate", {"CallerID": evil})
        ours = "sent?!"
    except HeaderInjectionError as exc:
        ours = f"HeaderInjectionError: {exc}"
    report(
        "CR/LF in a header value (caller name)",
        f"panoramisk writes {pano.count('Action:')} Action lines, asterisk-ami "
        f"{aami.count('Action:')} (the injected 'Command: core stop now' runs); ours: {ours}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", help="HOST:PORT:USER:SECRET of a real Asterisk")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        help="asterisk-ami socket timeout (its default is 3 s)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # asterisk-ami's notifyAll
    print("AMI client failure modes (measured):")
    if args.real:
        host, port, user, secret = args.real.split(":", 3)
        asterisk_ami_idle_timeout(host, int(port), user, secret, args.timeout)
    else:
        ami = ScriptedAmi()
        start_server_thread(ami)
        asterisk_ami_idle_timeout("127.0.0.1", ami.port, "u", "s", args.timeout)
    asterisk_ami_autoreconnect(args.timeout, args.timeout + 2.0, 12.0)
    runs: list[Callable[[], Any]] = [
        lambda: panoramisk_half_open(6.0),
        lambda: panoramisk_send_while_disconnected(4.0),
    ]
    for run in runs:
        asyncio.run(run())
    split_utf8()
    injection()


if __name__ == "__main__":
    main()
