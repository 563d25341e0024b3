"""The ARI client: REST calls plus the events websocket, kept connected until closed.

Connecting the websocket ``/ari/events?app=NAME`` is what registers the Stasis application
in Asterisk, so after Asterisk restarts the reconnect loop re-registers it. Events go, in
the order Asterisk sent them, to every :class:`Subscription` and handler; connect
listeners run after each (re)connect so that owners can resync their state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable

import aiohttp

from callcenter.aio import wait_set
from callcenter.config import PbxConfig
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent, EventParseError, Subscription, parse_event
from callcenter.pbx.ari.rest import AriRest

log = logging.getLogger(__name__)

EventHandler = Callable[[AriEvent], Awaitable[None]]
ConnectListener = Callable[[], Awaitable[None]]


class AriClient(AriRest):
    """ARI REST + events for one Stasis application. Call :meth:`start`, then :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        session: aiohttp.ClientSession | None = None,
        subscribe_all: bool = False,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        heartbeat: float = 5.0,
        request_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            base_url, username, password, app, session=session, request_timeout=request_timeout
        )
        self.subscribe_all = subscribe_all
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.heartbeat = heartbeat
        self.last_error: str | None = None
        self.connects = 0  # successful websocket connections so far
        self.events_received = 0
        self.connected_since: float | None = None
        self._handlers: list[EventHandler] = []
        self._subs: list[Subscription] = []
        self._connect_listeners: list[ConnectListener] = []
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._probe = ""
        self._probe_seen = asyncio.Event()
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._closing = False
        # Set when Asterisk says another websocket took over our app (ApplicationReplaced).
        self.replaced = False

    @classmethod
    def from_config(
        cls,
        pbx: PbxConfig,
        session: aiohttp.ClientSession | None = None,
        subscribe_all: bool = False,
    ) -> AriClient:
        """A client for the configured PBX (``pbx`` must carry the ARI password)."""
        return cls(
            f"http://{pbx.host}:{pbx.http_port}",
            pbx.ari_username,
            pbx.ari_password,
            pbx.ari_app,
            session=session,
            subscribe_all=subscribe_all,
            reconnect_min=pbx.reconnect_min,
            reconnect_max=pbx.reconnect_max,
            heartbeat=pbx.ping_interval,
        )

    # ------------------------------------------------------------- consumers
    @property
    def connected(self) -> bool:
        """True while the events websocket is open (the app is registered in Asterisk)."""
        return self._connected.is_set()

    def add_handler(self, handler: EventHandler) -> None:
        """Await ``handler(event)`` for every event, in order; errors are logged."""
        self._handlers.append(handler)

    def remove_handler(self, handler: EventHandler) -> None:
        with contextlib.suppress(ValueError):
            self._handlers.remove(handler)

    def on_connect(self, listener: ConnectListener) -> None:
        """Await ``listener()`` after every (re)connect, e.g. to resync state."""
        self._connect_listeners.append(listener)

    def subscribe(self) -> Subscription:
        """A queue receiving every event from now on; close it when done."""
        sub = Subscription(on_close=self._unsubscribe)
        self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)

    # ------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start the events websocket loop in the background (returns at once)."""
        if self._task is None or self._task.done():
            self._closing = False
            self.replaced = False
            self._task = asyncio.create_task(self._run(), name=f"ari-events-{self.app}")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until the websocket is open; ``TimeoutError`` names the last error."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise TimeoutError(
                f"ARI events websocket not connected after {timeout} s: {self.last_error}"
            ) from None

    async def wait_disconnected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self._disconnected.wait()

    async def close(self) -> None:
        """Stop the websocket loop and close an owned HTTP session."""
        self._closing = True
        ws = self._ws
        if ws is not None and not ws.closed:
            # A clean close handshake lets Asterisk unregister the app now, not when it
            # notices a dead socket later (possibly after a new connection registered it).
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.wait_for(ws.close(), 5.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._connected.clear()
        self._disconnected.set()
        await self.close_session()

    # ---------------------------------------------------------------- events
    def _ws_params(self) -> dict[str, str]:
        params = {"app": self.app}
        if self.subscribe_all:
            params["subscribeAll"] = "true"
        return params

    async def _run(self) -> None:
        delay = self.reconnect_min
        while not self._closing:
            try:
                await self._connect_once()
                delay = self.reconnect_min  # it was up: next failure retries quickly
                if self.replaced:
                    # Reconnecting would take the app back and start a tug of war with
                    # the other connection; stay down until start() is called again.
                    break
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # keep the loop alive whatever happens
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("ARI events loop error")
            finally:
                self._connected.clear()
                self._disconnected.set()
                self.connected_since = None
            # Full jitter: many app instances must not reconnect in lock-step.
            await asyncio.sleep(random.uniform(self.reconnect_min, delay))
            delay = min(self.reconnect_max, delay * 2)

    async def _connect_once(self) -> None:
        url = f"{self.base_url}/ari/events"
        async with self.session.ws_connect(
            url,
            params=self._ws_params(),
            headers=self._headers,
            heartbeat=self.heartbeat,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            max_msg_size=16 * 1024 * 1024,
        ) as ws:
            self._ws = ws
            self._probe = f"cc-probe-{uuid.uuid4().hex}"
            self._probe_seen = asyncio.Event()
            ready = asyncio.create_task(self._confirm_registration(ws), name="ari-registration")
            try:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await self._dispatch(msg.data)
                        if self.replaced:
                            await ws.close()
                            self.last_error = f"app {self.app} taken over by another connection"
                            log.warning("ARI app %s replaced by another websocket", self.app)
                            return
                    elif msg.type == aiohttp.WSMsgType.ERROR:
                        raise aiohttp.ClientError(f"websocket error: {ws.exception()}")
            finally:
                ready.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready
            code = ws.close_code
        self.last_error = f"websocket closed by Asterisk (code {code})"

    async def _confirm_registration(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Report connected only once Asterisk routes events of our app to this socket.

        Asterisk registers the app just after the websocket upgrade, and a previous
        connection's cleanup may still be under way: a call originated in that gap would
        enter an inactive app and be hung up. A user event sent to the app and seen on our
        socket proves the registration.
        """
        try:
            for _ in range(100):
                try:
                    await self.request(
                        "POST", f"/events/user/{self._probe}", {"application": self.app}
                    )
                except AriError as exc:
                    if exc.status != 404:
                        raise
                    await asyncio.sleep(0.05)  # "Application not found": not registered yet
                    continue
                if await wait_set(self._probe_seen, 1.0):
                    break
            else:
                raise AriError(0, "POST", "/events/user", "app registration not confirmed")
        except AriError as exc:
            self.last_error = f"ARI app {self.app} not registered: {exc}"
            log.warning("%s", self.last_error)
            await ws.close()
            return
        self.connects += 1
        self.connected_since = time.time()
        self.last_error = None
        self._connected.set()
        self._disconnected.clear()
        log.info("ARI events connected for app %s", self.app)
        for listener in list(self._connect_listeners):
            try:
                await listener()
            except Exception:
                log.exception("ARI connect listener failed")

    async def _dispatch(self, frame: str) -> None:
        try:
            event = parse_event(frame)
        except EventParseError as exc:
            log.warning("dropping bad ARI frame: %s", exc)
            return
        if event.type == "ChannelUserevent" and event.raw.get("eventname") == self._probe:
            self._probe_seen.set()  # our own registration probe, not for consumers
            return
        self.events_received += 1
        if event.type == "ApplicationReplaced":
            self.replaced = True
        for sub in list(self._subs):
            sub.put(event)
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:
                log.exception("ARI event handler failed on %s", event.type)
