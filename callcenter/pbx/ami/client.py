"""asyncio AMI client around the sans-IO core: connect, login, ping, reconnect, resync.

One supervisor task owns the connection. Each session: TCP connect, greeting, ``Login``,
then a reader task (bytes → parser → tracker → futures/listeners) and a pinger that fails
the session when a ``Ping`` is not answered within ``ping_timeout`` (a half-open socket
is otherwise never noticed). Any failure closes the socket, fails the pending actions
with :class:`AmiConnectionLost` and reconnects after an exponential, jittered backoff.

Asterisk keeps no events for a disconnected client, so connect listeners are awaited
after every login: that is where live state rebuilds itself from list actions.

Error responses: :meth:`AmiClient.send_action` returns them (``msg.name == "Error"``)
unless ``check=True``; :meth:`send_list_action` and :meth:`command` raise
:class:`AmiActionError` since they have nothing meaningful to return.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import time
from typing import TYPE_CHECKING

from callcenter.pbx.ami.errors import (
    AmiActionError,
    AmiConnectionLost,
    AmiError,
    AmiLoginError,
    AmiNotConnected,
    AmiTimeout,
)
from callcenter.pbx.ami.health import AmiStatus, backoff_delay
from callcenter.pbx.ami.listeners import (
    AmiListeners,
    ConnectListener,
    DisconnectListener,
    EventListener,
)
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.pending import PendingActions
from callcenter.pbx.ami.protocol import (
    ActionResult,
    AmiParser,
    Greeting,
    HeaderValues,
    encode_action,
)

if TYPE_CHECKING:
    from callcenter.config import PbxConfig

__all__ = [
    "AmiActionError",
    "AmiClient",
    "AmiConnectionLost",
    "AmiError",
    "AmiLoginError",
    "AmiNotConnected",
    "AmiStatus",
    "AmiTimeout",
    "ConnectListener",
    "DisconnectListener",
    "EventListener",
    "backoff_delay",
]

log = logging.getLogger(__name__)


class AmiClient(AmiListeners):
    """A self-healing AMI connection. ``await start()``, use, ``await close()``."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        ping_interval: float = 5.0,
        ping_timeout: float = 3.0,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        connect_timeout: float = 5.0,
        events: bool = True,
        action_timeout: float = 10.0,
        boot_wait: float = 30.0,
    ) -> None:
        super().__init__()
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.connect_timeout = connect_timeout
        self.events = events
        self.action_timeout = action_timeout
        self.boot_wait = boot_wait
        self._booted = asyncio.Event()
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(3)
        self._pending = PendingActions(f"{host}:{port}", self._on_event)
        self._writer: asyncio.StreamWriter | None = None
        self._logged_in = False
        self._connected_since: float | None = None
        self._last_error: str | None = None
        self._sessions = 0
        self._version: str | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self._connected_event = asyncio.Event()

    @classmethod
    def from_config(cls, pbx: PbxConfig, *, events: bool = True) -> AmiClient:
        """Client for ``config.pbx`` (use ``Config.with_secrets()`` first so the secret is set)."""
        if not pbx.ami_secret:
            raise AmiError("pbx.ami_secret is empty: load the config with with_secrets()")
        return cls(
            pbx.host,
            pbx.ami_port,
            pbx.ami_username,
            pbx.ami_secret,
            ping_interval=pbx.ping_interval,
            ping_timeout=pbx.ping_timeout,
            reconnect_min=pbx.reconnect_min,
            reconnect_max=pbx.reconnect_max,
            events=events,
        )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def bad_frames(self) -> int:
        """Frames the parser could not read whole (counted for /metrics and tests)."""
        return self._pending.bad_frames

    @property
    def connected(self) -> bool:
        return self._logged_in

    @property
    def status(self) -> AmiStatus:
        return AmiStatus(
            self._logged_in,
            self._connected_since,
            self._last_error,
            max(0, self._sessions - 1),
            self._version,
        )

    async def start(self) -> None:
        """Start the supervisor (returns at once; see :meth:`wait_connected`)."""
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def wait_connected(self, timeout: float) -> None:
        """Wait until logged in; :class:`AmiTimeout` naming the last error otherwise."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected_event.wait()
        except TimeoutError:
            raise AmiTimeout(
                f"AMI {self.host}:{self.port} not connected after {timeout} s "
                f"(last error: {self._last_error})"
            ) from None

    async def close(self) -> None:
        """Cancel the supervisor, close the socket, fail pending actions."""
        task, self._supervisor = self._supervisor, None
        if task is None:
            return
        # Python 3.11 can swallow a cancellation that races a finishing await
        # (asyncio.wait_for, library code): insist until the task is really gone.
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.5)

    # -- actions -------------------------------------------------------------------------

    async def send_action(
        self,
        name: str,
        headers: HeaderValues | None = None,
        *,
        timeout: float | None = None,
        check: bool = False,
    ) -> Message:
        """Send one action and return its response (``Response: Error`` included unless
        ``check`` is true, which raises :class:`AmiActionError`).

        Raises :class:`~callcenter.pbx.ami.protocol.HeaderInjectionError` before sending,
        :class:`AmiNotConnected`, :class:`AmiConnectionLost` or :class:`AmiTimeout`.
        """
        result = await self._request(name, headers, timeout, require_login=True)
        if check and not result.ok:
            raise AmiActionError(name, result.response)
        return result.response

    async def send_list_action(
        self, name: str, headers: HeaderValues | None = None, *, timeout: float | None = None
    ) -> list[Message]:
        """Send a list action (``QueueStatus``, ``CoreShowChannels`` …) and return its events,
        the closing ``…Complete`` event included. Error responses raise AmiActionError."""
        result = await self._request(name, headers, timeout, require_login=True)
        if not result.ok:
            raise AmiActionError(name, result.response)
        return list(result.events)

    async def command(self, cli: str, *, timeout: float | None = None) -> list[str]:
        """Run a CLI command (``core show channels``) and return its output lines."""
        response = await self.send_action("Command", {"Command": cli}, timeout=timeout, check=True)
        return response.get_all("Output")

    async def _request(
        self,
        name: str,
        headers: HeaderValues | None,
        timeout: float | None,
        *,
        require_login: bool,
    ) -> ActionResult:
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        data = encode_action(name, headers, action_id)  # rejects CR/LF before anything else
        writer = self._writer
        if writer is None or (require_login and not self._logged_in):
            raise AmiNotConnected(
                f"AMI action {name} not sent: not connected to {self.host}:{self.port}"
                f" (last error: {self._last_error})"
            )
        future = self._pending.expect(action_id)
        try:
            writer.write(data)
            await writer.drain()
            wait = self.action_timeout if timeout is None else timeout
            async with asyncio.timeout(wait):
                return await future
        except TimeoutError:
            raise AmiTimeout(
                f"AMI {name} ({action_id}): no answer within "
                f"{self.action_timeout if timeout is None else timeout} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise AmiConnectionLost(f"AMI {name} ({action_id}): {exc}") from exc
        finally:
            self._pending.forget(action_id)

    # -- supervisor ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        try:
            while True:
                self._sessions += 1
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure means: reconnect
                    self._last_error = _describe(exc)
                    log.warning("AMI %s:%s: %s", self.host, self.port, self._last_error)
                finally:
                    was_connected = self._logged_in
                    await self._teardown(self._last_error or "closed")
                    if was_connected:
                        attempt = 0
                delay = backoff_delay(
                    attempt, self.reconnect_min, self.reconnect_max, random.random()
                )
                attempt += 1
                await asyncio.sleep(delay)
        finally:
            await self._teardown("client closed")

    async def _session(self) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            raise AmiConnectionLost(f"connect timed out after {self.connect_timeout} s") from None
        self._writer = writer
        parser = AmiParser()
        try:
            async with asyncio.timeout(self.connect_timeout):
                greeting = await self._read_greeting(reader, parser)
        except TimeoutError:
            raise AmiConnectionLost(
                f"no AMI greeting within {self.connect_timeout} s after connect"
            ) from None
        self._version = greeting.version
        self._booted = asyncio.Event()
        reader_task = asyncio.create_task(self._read_loop(reader, parser), name="ami-reader")
        try:
            await self._login()
            self._logged_in = True
            self._connected_since = time.time()
            self._last_error = None
            self._connected_event.set()
            log.info("AMI connected to %s:%s (%s)", self.host, self.port, greeting.line)
            self._resync = asyncio.create_task(self._run_connect_listeners(), name="ami-resync")
            pinger = asyncio.create_task(self._ping_loop(), name="ami-pinger")
            tasks: set[asyncio.Task[None]] = {reader_task, pinger}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # re-raise the failure
                raise AmiConnectionLost("session ended")
            finally:
                pinger.cancel()
        finally:
            reader_task.cancel()
            # asyncio.wait, not await: our own cancellation must propagate, the reader's not.
            await asyncio.wait([reader_task])

    async def _read_greeting(self, reader: asyncio.StreamReader, parser: AmiParser) -> Greeting:
        while True:
            data = await reader.read(65536)
            if not data:
                raise AmiConnectionLost("connection closed before the greeting")
            parser.receive_data(data)
            first = parser.next_event()
            if isinstance(first, Greeting):
                # Frames that came with the greeting stay queued in the parser.
                return first
            if first is not None:
                raise AmiConnectionLost(f"not an AMI server (no greeting, got {first!r:.80})")

    async def _login(self) -> None:
        headers = {
            "Username": self._username,
            "Secret": self._secret,
            "Events": "on" if self.events else "off",
        }
        result = await self._request("Login", headers, self.connect_timeout, require_login=False)
        if not result.ok:
            raise AmiLoginError(
                f"login as {self._username!r} refused: "
                f"{result.response.get('Message') or result.response.name}"
            )

    async def _read_loop(self, reader: asyncio.StreamReader, parser: AmiParser) -> None:
        self._pending.dispatch(parser)  # frames that arrived together with the greeting
        while True:
            data = await reader.read(65536)
            if not data:
                raise AmiConnectionLost("connection closed by Asterisk")
            parser.receive_data(data)
            self._pending.dispatch(parser)

    def _on_event(self, msg: Message) -> None:
        if msg.name == "FullyBooted":
            self._booted.set()
        self._emit_event(msg)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._request("Ping", None, self.ping_timeout, require_login=True)
            except AmiTimeout:
                raise AmiConnectionLost(
                    f"no answer to Ping within {self.ping_timeout} s (half-open connection?)"
                ) from None

    async def _run_connect_listeners(self) -> None:
        # Right after a restart AMI answers before modules such as app_queue are loaded
        # (QueueStatus is then an unknown action): wait for FullyBooted, which Asterisk
        # sends at once to a login on a booted system. Without events it never comes.
        if self.events and self._connect_listeners:
            try:
                async with asyncio.timeout(self.boot_wait):
                    await self._booted.wait()
            except TimeoutError:
                log.warning(
                    "AMI %s:%s: no FullyBooted within %s s; resyncing anyway",
                    self.host,
                    self.port,
                    self.boot_wait,
                )
        await self._notify_connected()

    async def _teardown(self, reason: str) -> None:
        was_connected = self._logged_in
        self._logged_in = False
        self._connected_event.clear()
        self._connected_since = None
        resync, self._resync = self._resync, None
        if resync is not None and not resync.done():
            resync.cancel()
        writer, self._writer = self._writer, None
        self._pending.fail_all(
            lambda action_id: AmiConnectionLost(
                f"AMI connection to {self.host}:{self.port} lost before the answer to "
                f"{action_id}: {reason}"
            )
        )
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
        if was_connected:
            self._notify_disconnected(reason)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
